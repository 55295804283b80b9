"""Callbacks: training throughput, and one log line per epoch."""

from __future__ import annotations

import logging
import time

import pytorch_lightning as pl
import torch

log = logging.getLogger("lightcnn.progress")


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


def epoch_line(history: list[dict], epoch: int, max_epochs: int, images_per_s: float | None, eta_s: float) -> str:
    """``epoch 3/30  train loss 1.234 acc 56.78%  val acc 55.10%  412 img/s  ETA 0:21:05``."""
    parts = [f"epoch {epoch + 1}/{max_epochs}"]
    order = {"train": 0, "val": 1, "epoch_test": 2}
    for entry in sorted((h for h in history if h["epoch"] == epoch), key=lambda h: order.get(h["stage"], 3)):
        key = entry["stage"]
        loss = f" loss {entry[key + '/loss']:.4f}" if key == "train" else ""
        parts.append(f"{key.replace('epoch_test', 'test')}{loss} acc {entry[key + '/acc']:.2f}%")
    if images_per_s:
        parts.append(f"{images_per_s:,.0f} img/s")
    parts.append(f"ETA {int(eta_s) // 3600}:{int(eta_s) % 3600 // 60:02d}:{int(eta_s) % 60:02d}")
    return "  ".join(parts)


class EpochLog(pl.Callback):
    """One plain line per finished epoch on the log (stderr and the run's log file), whatever the
    terminal: progress that nohup, tee and batch logs keep. The line of epoch e is written when
    epoch e+1 starts (its validation has run by then) and at the end of training."""

    def __init__(self, throughput: Throughput) -> None:
        self.throughput = throughput
        self._started = 0.0
        self._first_epoch = 0

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        # after a checkpoint is restored: a resumed run counts its ETA from the epoch it resumed at
        self._started, self._first_epoch = time.perf_counter(), trainer.current_epoch

    def _write(self, trainer: pl.Trainer, module: pl.LightningModule, epoch: int) -> None:
        if epoch < self._first_epoch or not trainer.is_global_zero:
            return
        done = epoch + 1 - self._first_epoch
        per_epoch = (time.perf_counter() - self._started) / max(done, 1)
        eta = per_epoch * max(trainer.max_epochs - epoch - 1, 0)
        history = getattr(module, "history", [])
        log.info("%s", epoch_line(history, epoch, trainer.max_epochs, self.throughput.images_per_s, eta))

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._write(trainer, module, trainer.current_epoch - 1)

    def on_fit_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._write(trainer, module, trainer.current_epoch - 1)
