"""Callbacks: training throughput, and one log line per epoch."""

from __future__ import annotations

import itertools
import logging
import statistics
import time

import pytorch_lightning as pl

from lightcnn.engine.devices import synchronize
from lightcnn.engine.upstream import wrap_for_ddp_again

log = logging.getLogger("lightcnn.progress")


class Throughput(pl.Callback):
    """Wall time of the training epochs and the images they processed (all ranks). Its state goes
    into the checkpoint, so a resumed run's rate covers every attempt: total images over total
    training-epoch time; the attempt's own rate is kept apart (:attr:`attempt_images_per_s`)."""

    def __init__(self) -> None:
        self.train_time_s = 0.0  # this attempt
        self.images = 0
        self.time_before_s = 0.0  # the attempts up to the checkpoint this run resumed from
        self.images_before = 0
        self._start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        synchronize(module.device)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.images += batch[1].shape[0] * trainer.world_size

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        synchronize(module.device)
        self.train_time_s += time.perf_counter() - self._start

    def state_dict(self) -> dict:
        return {"images": self.images_before + self.images, "train_time_s": self.time_before_s + self.train_time_s}

    def load_state_dict(self, state_dict: dict) -> None:
        self.images_before, self.time_before_s = int(state_dict["images"]), float(state_dict["train_time_s"])

    @property
    def images_per_s(self) -> float | None:
        """Every attempt's images over every attempt's training-epoch time."""
        seconds = self.time_before_s + self.train_time_s
        return (self.images_before + self.images) / seconds if seconds > 0 else None

    @property
    def attempt_images_per_s(self) -> float | None:
        return self.images / self.train_time_s if self.train_time_s > 0 else None


def hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


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
    parts.append(f"ETA {hms(eta_s)}")
    return "  ".join(parts)


WARMUP_STEPS = 10  # the duration estimate times steps 2..10 of the first epoch trained
LONG_EPOCH_STEPS = 100  # epochs at least this long also get step lines when no progress bar is drawn


def median_step_s(stamps: list[float]) -> float:
    """Seconds per step from the times consecutive steps ended: the median, so that one stall (a
    ``torch.compile`` recompilation, another job's burst) does not set the estimate (a mean over
    steps 2-10 put a compiled Oct-ResNet-20 epoch at 3:39; its epochs took 1:33)."""
    return statistics.median(later - earlier for earlier, later in itertools.pairwise(stamps))


class EpochLog(pl.Callback):
    """Progress as plain log lines (stderr and the run's log file), whatever the terminal, so that
    nohup, tee and batch logs keep it: the plan when training starts, an estimate of the duration
    after ``WARMUP_STEPS`` measured steps, without a progress bar one line every ``step_lines``-th
    of an epoch, and one line per finished epoch (written when the next starts, after its
    validation, and at the end of training)."""

    def __init__(self, throughput: Throughput, plan: str = "", step_lines: int = 0) -> None:
        self.throughput, self.plan, self.step_lines = throughput, plan, step_lines
        self._started = 0.0
        self._first_epoch = 0
        self._warmup: list[float] = []

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        # after a checkpoint is restored: a resumed run counts its ETA from the epoch it resumed at
        self._started, self._first_epoch = time.perf_counter(), trainer.current_epoch
        if self.plan and trainer.is_global_zero:
            log.info("plan: %s", self.plan)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if not trainer.is_global_zero:
            return
        steps = trainer.num_training_batches
        if trainer.current_epoch == self._first_epoch and len(self._warmup) <= WARMUP_STEPS:
            self._warmup.append(time.perf_counter())
            if len(self._warmup) == WARMUP_STEPS + 1 and steps and steps != float("inf"):
                per_step = median_step_s(self._warmup[1:])
                epochs = trainer.max_epochs - self._first_epoch
                log.info("estimate: %s per epoch, about %s for %d epochs (median of steps 2-%d of the first epoch)",
                         hms(per_step * steps), hms(per_step * steps * epochs), epochs, WARMUP_STEPS)  # fmt: skip
        long_epoch = self.step_lines and steps != float("inf") and steps >= LONG_EPOCH_STEPS
        every = max(1, int(steps) // self.step_lines) if long_epoch else 0
        if every and (batch_idx + 1) % every == 0 and batch_idx + 1 < steps:
            metrics = getattr(module, "_metrics", {}).get("train")
            running = ""
            if metrics is not None:
                from lightcnn.engine.module import running_values

                values = running_values(metrics)
                running = f"  loss {values['loss']:.4f} acc {100.0 * values['acc']:.2f}%"
            log.info("epoch %d/%d  step %d/%d%s", trainer.current_epoch + 1, trainer.max_epochs, batch_idx + 1,
                     int(steps), running)  # fmt: skip

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


class RebuildsArchitecture(pl.Callback):
    """A callback that changes the network's architecture during training (pruning on a
    schedule). Its checkpointed state (``state_dict``, under its ``state_key``) says how: a run
    resuming from that checkpoint calls :meth:`restore_architecture` on the network as built,
    before the weights load (``lightcnn.tasks.training.fit_to_checkpoint``)."""

    def restore_architecture(self, net, state_dict: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} changes the architecture: it must say how to rebuild it")

    @staticmethod
    def architecture_changed(trainer: pl.Trainer) -> None:
        """After changing the architecture during fitting: DDP wraps the module anew (its reducer
        holds the parameters it was built with), then the optimizer (and its schedule) is rebuilt
        for the new parameters. Every rank must have made the same change."""
        wrap_for_ddp_again(trainer.strategy)
        trainer.strategy.setup_optimizers(trainer)
