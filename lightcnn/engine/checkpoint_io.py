"""The run's own checkpoint files: ``checkpoints/last.ckpt``, written atomically after every epoch.

Resuming is exact on the CPU: the checkpoint holds what Lightning keeps (weights, optimizer,
scheduler, loop counters, the best-on-validation callback's state) and what lightcnn adds in
:class:`~lightcnn.engine.module.LitClassifier` (the per-epoch history and every random generator
the data path draws from). A checkpoint is written at the end of an epoch, after validation, so
that a run killed at any point restarts from the newest finished epoch and redoes the rest with
the same random numbers.

Writing: a temporary file in the checkpoint directory, fsync, then rename, so ``last.ckpt`` is
always a whole file; the previous one is kept as ``last.prev.ckpt`` until the new one is in
place. Reading: only tensors and plain containers (``weights_only=True``); a file that does not
load is set aside (``*.corrupt``) and the next older one is tried. No Lightning import here (the
callback that writes after every epoch is :mod:`lightcnn.engine.checkpointing`).
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import signal
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from lightcnn.errors import UserError

if TYPE_CHECKING:
    import pytorch_lightning as pl

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
LAST = "last.ckpt"
PREVIOUS = "last.prev.ckpt"


class RunInterrupted(Exception):
    """SIGINT or SIGTERM arrived: the run stopped after its current step."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def save_state_atomic(state: dict, path: Path) -> None:
    """``torch.save`` of tensors and plain containers to ``path`` atomically (temporary file, fsync,
    rename): a long method's progress between epochs (the RL search's, after each round)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    fsync_file(tmp)
    os.replace(tmp, path)


def save_atomic(trainer: pl.Trainer, directory: Path) -> Path:
    """Write the trainer's checkpoint to ``directory/last.ckpt`` atomically (see module doc)."""
    target, tmp = directory / LAST, directory / f".{LAST}.tmp"
    if trainer.is_global_zero:
        directory.mkdir(parents=True, exist_ok=True)
    trainer.save_checkpoint(tmp, weights_only=False)  # the whole training state; every rank takes part, rank 0 writes
    if trainer.is_global_zero:
        fsync_file(tmp)
        if target.exists():
            os.replace(target, directory / PREVIOUS)
        os.replace(tmp, target)
    trainer.strategy.barrier("lightcnn-last-checkpoint")
    return target


def load_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, unpickling only tensors and plain containers.

    Raises :class:`UserError` for a checkpoint that carries code (any other global) and
    :class:`CorruptCheckpoint` for one that cannot be read.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        if found:  # a whole file that would call or build something
            raise UserError(f"{path}: the checkpoint carries code ({found[1]}); refused (only tensors load)") from None
        raise CorruptCheckpoint(path, err) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, KeyError, ValueError) as err:
        raise CorruptCheckpoint(path, err) from None


class CorruptCheckpoint(Exception):
    def __init__(self, path: Path, err: BaseException) -> None:
        lines = [line for line in str(err).splitlines() if "error:" in line] or str(err).splitlines()
        reason = lines[0].strip() if lines else type(err).__name__
        super().__init__(f"{path}: unreadable checkpoint ({reason})")
        self.path = path


def newest_intact(directory: Path) -> tuple[Path | None, list[str]]:
    """The newest readable checkpoint of a run (``last.ckpt``, else ``last.prev.ckpt``) and one
    note per file set aside as unreadable."""
    notes = []
    for name in (LAST, PREVIOUS):
        path = directory / name
        if not path.is_file():
            continue
        try:
            load_checkpoint(path)
        except CorruptCheckpoint as err:
            aside = path.with_name(path.name + ".corrupt")
            os.replace(path, aside)
            notes.append(f"{err}; moved to {aside.name}")
            log.warning("%s; moved to %s", err, aside.name)
            continue
        return path, notes
    return None, notes
