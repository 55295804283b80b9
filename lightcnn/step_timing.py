"""Training images per second through lightcnn's own step: the device-resident data module and
the Lightning module and trainer of ``task=train``, on images held in memory, timed after
``warmup`` untimed steps. ``make bench`` compares it with a plain PyTorch loop;
``reproduce --dry-run`` times a job that no record has timed with it (the yardstick)."""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator

import pytorch_lightning as pl
import torch
from torch import nn

from lightcnn.config import DatasetConfig, TrainerConfig
from lightcnn.data.datamodule import ImageDataModule
from lightcnn.data.datasets import ImageData
from lightcnn.engine.devices import synchronize
from lightcnn.engine.module import LitClassifier
from lightcnn.engine.precision import apply_float32_math


class StepTimer(pl.Callback):
    """Times ``steps`` training steps after the first ``warmup``, waiting for the device at the
    window's two ends only (as the reference loop of ``make bench`` does: a wait after every step
    would slow the measured loop)."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps, self.start, self.end = warmup, steps, 0.0, 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if trainer.global_step == self.warmup:
            synchronize(module.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.warmup + self.steps:
            synchronize(module.device)
            self.end = time.perf_counter()


def training_images_per_s(
    model: nn.Module, tcfg: TrainerConfig, dcfg: DatasetConfig, data: ImageData, warmup: int, steps: int
) -> float:
    """Images per second of ``steps`` training steps of ``model`` at ``tcfg``'s batch size,
    precision (a Lightning precision, already resolved), compilation and memory format, fed
    from ``data`` with ``dcfg``'s augmentation; ``warmup`` steps run first, untimed."""
    datamodule = ImageDataModule(dcfg, None, tcfg.batch_size, 1000, data=data)
    timer = StepTimer(warmup, steps)
    with quiet_lightning():  # its banner ("GPU available", precision, tips) is noise in a measurement's output
        trainer = pl.Trainer(
            accelerator=tcfg.accelerator,
            devices=1,
            precision=apply_float32_math(tcfg.precision),
            max_steps=warmup + steps,
            max_epochs=-1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=[timer],
            limit_val_batches=0,
            num_sanity_val_steps=0,
            use_distributed_sampler=False,
        )
        trainer.fit(LitClassifier(model, tcfg), datamodule=datamodule)
    return steps * tcfg.batch_size / (timer.end - timer.start)


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Lightning's info lines and warnings held back (errors still shown) while the block runs."""
    loggers = [logging.getLogger(name) for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def synthetic_data(count: int, shape: tuple[int, int, int], num_classes: int, seed: int = 0) -> ImageData:
    """``count`` random uint8 images of ``shape`` (C, H, W) with random labels, normalised to mean 0.5, std 0.25."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (count, *shape), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, num_classes, (count,), generator=generator)
    channels = shape[0]
    return ImageData(images, labels, images[:10], labels[:10], (0.5,) * channels, (0.25,) * channels, num_classes)
