"""The Lightning callback that writes the run's ``last.ckpt`` after every epoch and stops the run
cleanly on SIGINT/SIGTERM (the files: :mod:`lightcnn.engine.checkpoint_io`)."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint

from lightcnn.engine.checkpoint_io import RunInterrupted, save_atomic

log = logging.getLogger(__name__)


class EpochCheckpoint(Checkpoint):
    """Writes ``last.ckpt`` at the end of every training epoch (after validation and after the
    module has logged the epoch) unless ``save`` is off, and stops the run after the current step on SIGINT/SIGTERM.
    It keeps the run's training time across resumes: the checkpoint holds the seconds spent up to it."""

    def __init__(self, directory: Path, save: bool = True) -> None:
        self.directory, self.save = Path(directory), save
        self.signal: int | None = None
        self._previous: dict[int, object] = {}
        self.time_before_s = 0.0  # training time of the attempts up to the checkpoint this run resumed from
        self._attempt_started: float | None = None

    def train_time_s(self) -> float:
        """Seconds of training so far: the attempts up to the checkpoint this run resumed from, then this one."""
        attempt = 0.0 if self._attempt_started is None else time.perf_counter() - self._attempt_started
        return self.time_before_s + attempt

    # ------------------------------------------------------------------ signals

    def _on_signal(self, signum: int, frame) -> None:
        if self.signal is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.signal = signum
        log.warning("%s received: stopping after the current step", signal.Signals(signum).name)

    def on_fit_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._attempt_started = time.perf_counter()
        if trainer.is_global_zero:
            for signum in (signal.SIGINT, signal.SIGTERM):
                try:
                    self._previous[signum] = signal.signal(signum, self._on_signal)
                except ValueError:  # not the main thread: signals stay with whoever owns them
                    pass

    def on_fit_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.restore_signals()

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, exception: BaseException) -> None:
        self.restore_signals()

    def restore_signals(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def on_train_batch_end(self, trainer: pl.Trainer, module, outputs, batch, batch_idx: int) -> None:
        if self.signal is not None:
            raise RunInterrupted(self.signal)

    # ------------------------------------------------------------------ epochs

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if not self.save or getattr(module, "diverged", False):
            return  # a diverged state is not worth resuming
        save_atomic(trainer, self.directory)

    def state_dict(self) -> dict:
        return {"train_time_s": self.train_time_s()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.time_before_s = float(state_dict.get("train_time_s", 0.0))  # absent from older checkpoints


def epoch_checkpoint(trainer: pl.Trainer) -> EpochCheckpoint:
    """The run's :class:`EpochCheckpoint` (every trainer of :func:`lightcnn.engine.trainer.make_trainer` has one)."""
    return next(c for c in trainer.callbacks if isinstance(c, EpochCheckpoint))


def received_signal(trainer: pl.Trainer) -> int | None:
    """The SIGINT/SIGTERM the run's :class:`EpochCheckpoint` received, if any."""
    return epoch_checkpoint(trainer).signal
