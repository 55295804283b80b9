"""Where a training run is logged: ``metrics.csv`` always, and TensorBoard or MLflow carrying the
whole run (its config, every metric, the record's results and files), not only the scalars."""

from __future__ import annotations

import csv
import importlib.util
import logging
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger

from lightcnn.config import LoggerConfig
from lightcnn.engine.trainer import silence_known_noise
from lightcnn.engine.upstream import prepend_csv_rows
from lightcnn.errors import ConfigValueError

# files of the run directory an MLflow run gets as artifacts (beside the resolved config)
RUN_FILES = ("result.json", "metrics.csv")


def keep_earlier_rows(logger: CSVLogger) -> None:
    """Lightning's CSV writer deletes an existing ``metrics.csv`` when it starts: a resumed run
    puts the earlier rows back in front of its own, so the file keeps every epoch."""
    path = Path(logger.log_dir) / "metrics.csv"
    if not path.is_file():
        return
    with open(path, newline="") as handle:
        rows = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]
    prepend_csv_rows(logger, rows)  # creating the writer deletes the file: the rows were read first


class RunTensorBoardLogger(TensorBoardLogger):
    """One event file per run: Lightning finalizes its loggers when fitting ends, and the stock
    logger closes its writer there, so the test metrics opened a second file. This one only
    flushes; :func:`log_results` closes it once the record's results are in."""

    def finalize(self, status: str) -> None:
        self.experiment.flush()

    def save(self) -> None:
        """``hparams.yaml`` is written once, when the config arrives with the results (Lightning
        calls this at the start too, which would write an empty one and keep it)."""
        if self.hparams:
            super().save()


def flat_config(container: dict, prefix: str = "") -> dict[str, str | int | float | bool]:
    """The resolved config as ``group.key: value`` pairs, numbers kept as numbers (TensorBoard's
    HParams tab sorts and filters them) and anything else as its text."""
    flat: dict[str, str | int | float | bool] = {}
    for key, value in container.items():
        if isinstance(value, dict):
            flat.update(flat_config(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value if isinstance(value, (int, float, bool)) else str(value)
    return flat


def record_numbers(record: dict) -> dict[str, float]:
    """The record's numeric results (accuracies, counts, times) as a logger's metrics."""
    return {k: float(v) for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def mlflow_logger(cfg: LoggerConfig, run_dir: Path, run_id: str):
    """An MLflow run in ``cfg.experiment_name`` whose artifacts go to ``cfg.artifact_location``
    (inside the results directory by default, not ``./mlruns`` wherever the command ran); MLflow's
    own INFO lines and Lightning's "Creating it" warning stay off stderr."""
    import mlflow  # noqa: F401  (configures its loggers on import; quieted below)
    from mlflow.tracking import MlflowClient
    from pytorch_lightning.loggers import MLFlowLogger

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    client = MlflowClient(tracking_uri=cfg.tracking_uri)
    if client.get_experiment_by_name(cfg.experiment_name) is None:
        artifacts = cfg.artifact_location
        if "://" not in artifacts:
            artifacts = Path(artifacts).resolve().as_uri()
        client.create_experiment(cfg.experiment_name, artifact_location=artifacts)
    return MLFlowLogger(
        experiment_name=cfg.experiment_name,
        tracking_uri=cfg.tracking_uri,
        run_name=run_dir.name,
        tags={"lightcnn.run_id": run_id, "lightcnn.run_dir": str(run_dir)},
    )


def make_loggers(run_dir: Path, cfg: LoggerConfig | None = None, run_id: str = "", config: dict | None = None):
    """CSV metrics in ``run_dir/metrics.csv`` always; with ``logger=tensorboard`` one TensorBoard
    event file in ``run_dir/tb``; with ``logger=mlflow`` an MLflow run named after the run
    directory, tagged with the run id, the config (``config``, resolved) as its parameters."""
    silence_known_noise()  # before the CSV writer starts: on a resumed run it warns of a deletion it does not make
    csv_logger = CSVLogger(save_dir=run_dir, name="", version="")
    keep_earlier_rows(csv_logger)
    loggers: list[Logger] = [csv_logger]
    name = cfg.name if cfg is not None else "csv"
    if name != "csv" and not importlib.util.find_spec(name):
        raise ConfigValueError("logger", name, f"installed: pip install {name} (or pip install 'lightcnn[{name}]')")
    if name == "tensorboard":
        # the config goes in with the results at the end (HParams pairs the two): nothing at the start
        loggers.append(RunTensorBoardLogger(save_dir=run_dir, name="", version="tb", default_hp_metric=False))
    elif name == "mlflow":
        mlflow = mlflow_logger(cfg, run_dir, run_id)
        mlflow.log_hyperparams({k: str(v) for k, v in flat_config(config or {}).items()})
        loggers.append(mlflow)
    return loggers


def log_results(loggers: list[Logger], run_dir: Path, record: dict) -> None:
    """Once ``result.json`` is written: MLflow gets the record's results as metrics, its status as
    a tag, and the resolved config, ``result.json`` and ``metrics.csv`` (and Hydra's ``.hydra/``
    files where Hydra wrote them) as artifacts; TensorBoard gets the config with the results in
    its HParams tab. Both are then closed."""
    from pytorch_lightning.loggers import MLFlowLogger

    numbers = record_numbers(record)
    status = str(record.get("status", "ok"))
    for logger in loggers:
        if isinstance(logger, MLFlowLogger):
            client, mlflow_run = logger.experiment, logger.run_id
            logger.log_metrics(numbers)
            client.set_tag(mlflow_run, "lightcnn.status", status)
            client.log_dict(mlflow_run, record.get("config", {}), "config.yaml")
            for name in RUN_FILES:
                if (run_dir / name).is_file():
                    client.log_artifact(mlflow_run, str(run_dir / name))
            if (run_dir / ".hydra").is_dir():
                client.log_artifacts(mlflow_run, str(run_dir / ".hydra"), "hydra")
            logger.finalize("success" if status == "ok" else "failed")
        elif isinstance(logger, RunTensorBoardLogger):
            logger.log_hyperparams(flat_config(record.get("config", {})), metrics=numbers)
            logger.save()
            logger.experiment.close()
