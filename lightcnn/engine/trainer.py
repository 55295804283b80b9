"""Build the Lightning Trainer for a run from its config."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.loggers import Logger

from lightcnn.config import TrainerConfig
from lightcnn.engine.callbacks import EpochLog, Throughput
from lightcnn.engine.checkpoint_io import CHECKPOINT_DIR
from lightcnn.engine.checkpointing import EpochCheckpoint
from lightcnn.engine.precision import apply_float32_math
from lightcnn.errors import ConfigValueError

# Lightning warnings that do not apply to how lightcnn uses it
KNOWN_NOISE = (
    r"It is recommended to use `self.log\(",  # epoch metrics are reduced across ranks before logging
    r"Experiment logs directory .* exists and is not empty",  # the run directory holds .hydra/
    r"The number of training batches .* is smaller than the logging interval",
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
)


def silence_known_noise() -> None:
    for pattern in KNOWN_NOISE:
        warnings.filterwarnings("ignore", message=pattern)


# Trainer arguments lightcnn sets from its own keys or needs as they are: not for trainer.extra
OWN_ARGUMENTS = {
    "accelerator": "trainer.accelerator", "devices": "trainer.devices", "strategy": "trainer.strategy",
    "num_nodes": "trainer.num_nodes", "precision": "trainer.precision", "max_epochs": "trainer.max_epochs",
    "limit_train_batches": "trainer.limit_train_batches", "limit_val_batches": "trainer.limit_eval_batches",
    "limit_test_batches": "trainer.limit_eval_batches", "enable_progress_bar": "trainer.progress_bar",
    "log_every_n_steps": "trainer.log_every_n_steps", "enable_checkpointing": "trainer.checkpoint",
    "num_sanity_val_steps": None, "default_root_dir": None, "logger": None, "callbacks": None,
    "enable_model_summary": None, "use_distributed_sampler": None,
}  # fmt: skip


def check_extra(extra: dict) -> None:
    """``trainer.extra`` may hold any ``pl.Trainer`` argument that lightcnn does not set itself."""
    import inspect

    allowed = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    for key in extra:
        if key in OWN_ARGUMENTS:
            instead = OWN_ARGUMENTS[key]
            raise ConfigValueError(
                f"trainer.extra.{key}", extra[key], f"set {instead} instead" if instead else "lightcnn sets it itself"
            )
        if key not in allowed:
            raise ConfigValueError(
                f"trainer.extra.{key}", extra[key], "an argument of pytorch_lightning.Trainer, e.g. gradient_clip_val"
            )


def live_bar(wanted: bool) -> bool:
    """A live progress bar only where someone watches it: stderr is a terminal. It is tqdm's,
    which draws on stderr (Rich's, Lightning's default when rich is installed, draws on stdout,
    which carries only the record, and nothing at all without a terminal). Without a terminal the
    plain epoch and step lines (:class:`EpochLog`) say the same."""
    return wanted and sys.stderr.isatty()


def make_trainer(
    cfg: TrainerConfig,
    run_dir: Path,
    has_val: bool,
    validation_loop: bool | None = None,
    extra_callbacks: list[pl.Callback] = (),
    precision: str = "32-true",
    loggers: list[Logger] | None = None,
    plan: str = "",
) -> tuple[pl.Trainer, Throughput, ModelCheckpoint | None]:
    """The Trainer, its throughput meter and (with a validation split) the callback that keeps
    the best epoch by ``val/acc``. ``precision``: ``trainer.precision`` resolved for the model
    (:func:`lightcnn.engine.precision.training_precision`); ``auto`` cannot reach Lightning.

    ``last.ckpt`` is written after every epoch whatever the validation setting, so an
    interrupted run resumes (:mod:`lightcnn.engine.checkpointing`); ``trainer.checkpoint=false``
    turns both off.
    """
    silence_known_noise()
    throughput = Throughput()
    bar = live_bar(cfg.progress_bar)
    progress = EpochLog(throughput, plan, step_lines=0 if bar else 5)
    callbacks: list[pl.Callback] = [throughput, progress, *extra_callbacks, *([TQDMProgressBar()] if bar else [])]
    checkpoint = None
    if cfg.checkpoint and has_val:
        checkpoint = ModelCheckpoint(
            dirpath=run_dir / CHECKPOINT_DIR, filename="best-{epoch}", monitor="val/acc", mode="max", save_top_k=1
        )
        callbacks.append(checkpoint)
    callbacks.append(EpochCheckpoint(run_dir / CHECKPOINT_DIR, save=cfg.checkpoint))
    trainer = pl.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        precision=apply_float32_math(precision),
        max_epochs=cfg.max_epochs,
        limit_train_batches=cfg.limit_train_batches,
        limit_val_batches=(cfg.limit_eval_batches if (has_val if validation_loop is None else validation_loop) else 0),
        limit_test_batches=cfg.limit_eval_batches,
        num_sanity_val_steps=0,
        default_root_dir=run_dir,
        logger=loggers if loggers is not None else [],
        callbacks=callbacks,
        enable_checkpointing=True,
        enable_progress_bar=bar,
        enable_model_summary=False,
        log_every_n_steps=cfg.log_every_n_steps,
        use_distributed_sampler=False,  # DeviceBatches shards by rank itself
        **cfg.extra,
    )
    return trainer, throughput, checkpoint
