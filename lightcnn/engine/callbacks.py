"""Callbacks: training throughput."""

from __future__ import annotations

import time

import pytorch_lightning as pl
import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Throughput(pl.Callback):
    """Wall time of the training epochs and the images they processed (all ranks)."""

    def __init__(self) -> None:
        self.train_time_s = 0.0
        self.images = 0
        self._start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        synchronize(module.device)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.images += batch[1].shape[0] * trainer.world_size

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        synchronize(module.device)
        self.train_time_s += time.perf_counter() - self._start

    @property
    def images_per_s(self) -> float | None:
        return self.images / self.train_time_s if self.train_time_s > 0 else None
