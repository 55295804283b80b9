"""Build the Lightning Trainer for a run from its config."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger

from lightcnn.config import TrainerConfig
from lightcnn.engine.callbacks import Throughput

CHECKPOINT_DIR = "checkpoints"
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


def make_loggers(run_dir: Path) -> list[Logger]:
    """CSV metrics in ``run_dir/metrics.csv``; TensorBoard events too when it is installed."""
    loggers: list[Logger] = [CSVLogger(save_dir=run_dir, name="", version="")]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        loggers.append(TensorBoardLogger(save_dir=run_dir, name="", version="tb"))
    return loggers


def make_trainer(
    cfg: TrainerConfig,
    run_dir: Path,
    has_val: bool,
    validation_loop: bool | None = None,
    extra_callbacks: list[pl.Callback] = (),
) -> tuple[pl.Trainer, Throughput, ModelCheckpoint | None]:
    """The Trainer, its throughput meter and (when checkpointing) its checkpoint callback.

    With a validation split the checkpoint callback keeps the best epoch by ``val/acc``;
    ``last.ckpt`` is always written, so an interrupted run can resume.
    """
    silence_known_noise()
    throughput = Throughput()
    callbacks: list[pl.Callback] = [throughput, *extra_callbacks]
    checkpoint = None
    if cfg.checkpoint:
        checkpoint = ModelCheckpoint(
            dirpath=run_dir / CHECKPOINT_DIR,
            filename="best-{epoch}",
            monitor="val/acc" if has_val else None,
            mode="max",
            save_top_k=1 if has_val else 0,
            save_last=True,
        )
        callbacks.append(checkpoint)
    trainer = pl.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        precision=cfg.precision,
        max_epochs=cfg.max_epochs,
        limit_train_batches=cfg.limit_train_batches,
        limit_val_batches=(cfg.limit_eval_batches if (has_val if validation_loop is None else validation_loop) else 0),
        limit_test_batches=cfg.limit_eval_batches,
        num_sanity_val_steps=0,
        default_root_dir=run_dir,
        logger=make_loggers(run_dir),
        callbacks=callbacks,
        enable_checkpointing=cfg.checkpoint,
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=cfg.log_every_n_steps,
        use_distributed_sampler=False,  # DeviceBatches shards by rank itself
    )
    return trainer, throughput, checkpoint
