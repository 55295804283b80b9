"""How long a planned training takes on this machine (``reproduce --dry-run``).

A training's work is its training images (per epoch × epochs) and its evaluated images
(validation each epoch, the test set at the end; a forward pass costs about a third of a
training step). Its speed, in training images per second, comes from what was measured:

1. the median ``images_per_s`` of the finished trainings of the same configuration on the same
   device (model and method configurations, data set, batch size, requested precision and
   compilation, and the record's ``device``: CPU model, cores and bf16 hardware, or the GPU),
   those that trained with a thread per core when there are some (the plan's total is one job at
   a time: a job run beside another with half the threads trains slower);
2. else the yardstick: a few steps of the job's own model after its method, on synthetic images
   of its input shape, through lightcnn's trainer at the job's batch size, precision and memory
   format (:func:`lightcnn.step_timing.training_images_per_s`), measured now.

Searches and rankings that come before the training (the RL search, HRank's ranks) are added
from the same records: the median of their wall time not spent training (finished − started −
``train_time_s``, over runs that went start to end in one process). The yardstick counts neither
them nor torch.compile's compilation (it runs uncompiled); a job whose method declares such work
(``register_method(before_training=...)``: the RL search, often hours where its training takes
minutes) and has no record of it says so on its line.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from lightcnn.environment import device_name
from lightcnn.record import Status
from lightcnn.record_io import iter_records

YARDSTICK_WARMUP, YARDSTICK_STEPS = 3, 5


@dataclass(frozen=True)
class Work:
    train_images: int  # images through a training step, every epoch
    eval_images: int  # images through a forward pass only: validation every epoch, the test set

    def seconds(self, images_per_s: float) -> float:
        return (self.train_images + self.eval_images / 3.0) / images_per_s


def training_work(cfg) -> Work | None:
    """The images a ``task=train`` run of the validated ``cfg`` processes; None for other tasks."""
    from lightcnn.data.datasets import training_images

    if cfg.task.name != "train":
        return None
    tcfg, dcfg = cfg.trainer, cfg.dataset
    per_epoch = training_images(dcfg)
    if tcfg.limit_train_batches:
        per_epoch = min(per_epoch, tcfg.limit_train_batches * tcfg.batch_size)
    validation = training_images(replace(dcfg, val_fraction=0.0)) - training_images(dcfg)
    tested = 10_000
    if tcfg.limit_eval_batches is not None:
        validation = min(validation, tcfg.limit_eval_batches * tcfg.eval_batch_size)
        tested = min(tested, tcfg.limit_eval_batches * tcfg.eval_batch_size)
    tests = tcfg.max_epochs + 1 if tcfg.test_every_epoch else 1
    return Work(per_epoch * tcfg.max_epochs, validation * tcfg.max_epochs + tested * tests)


def speed_key(config: dict) -> str:
    """What a training's speed depends on, from its resolved config (a record's ``config``)."""
    trainer = config.get("trainer") or {}
    return json.dumps(
        [config.get("model"), config.get("method"), (config.get("dataset") or {}).get("name"),
         trainer.get("batch_size"), trainer.get("precision"), trainer.get("compile")],
        sort_keys=True,
    )  # fmt: skip


def recorded_trainings(results: Path, device: str | None = None) -> Iterator[dict]:
    """The ok trainings under ``results`` that ran on ``device`` (default: the device a training
    with ``accelerator=auto`` uses here) and measured their speed, each run once."""
    if device is None:
        from lightcnn.engine.precision import device_type

        device = device_name(device_type("auto"))
    seen: set[str] = set()  # a run's record copied beside the original (an exported set) counts once
    for record in iter_records(results):
        run_id = record.get("run_id")
        if run_id in seen:
            continue
        if run_id:
            seen.add(run_id)
        ok = record.get("status") == Status.OK and record.get("task") == "train"
        if ok and record.get("device") == device and record.get("images_per_s") and record.get("config"):
            yield record


def recorded_speeds(results: Path, device: str | None = None) -> dict[str, list[tuple[float, int | None]]]:
    """(``images_per_s``, ``cpu_threads``) of :func:`recorded_trainings`, by :func:`speed_key`
    (threads None: a GPU's training, or a record from before the field)."""
    speeds: dict[str, list[tuple[float, int | None]]] = {}
    for record in recorded_trainings(results, device):
        entry = (float(record["images_per_s"]), record.get("cpu_threads"))
        speeds.setdefault(speed_key(record["config"]), []).append(entry)
    return speeds


def at_threads(entries: list[tuple[float, int | None]], threads: int) -> list[float]:
    """The values measured with ``threads`` threads, if any; else every value."""
    mine = [value for value, used in entries if used == threads]
    return mine or [value for value, _ in entries]


def seconds_before_training(record: dict) -> float | None:
    """A training record's wall time not spent training (a search, a ranking before it), in
    seconds; None for a run continued after an interruption (its wall time spans the gap)."""
    from datetime import datetime

    if record.get("resumed_from") or record.get("train_time_s") is None:
        return None
    try:
        started, finished = (datetime.fromisoformat(record[key]) for key in ("started_at", "finished_at"))
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (finished - started).total_seconds() - float(record["train_time_s"]))


def recorded_seconds_before_training(
    results: Path, device: str | None = None
) -> dict[str, list[tuple[float, int | None]]]:
    """(:func:`seconds_before_training`, ``cpu_threads``) of :func:`recorded_trainings`, by
    :func:`speed_key`."""
    before: dict[str, list[tuple[float, int | None]]] = {}
    for record in recorded_trainings(results, device):
        seconds = seconds_before_training(record)
        if seconds is not None:
            before.setdefault(speed_key(record["config"]), []).append((seconds, record.get("cpu_threads")))
    return before


def yardstick_images_per_s(cfg) -> float:
    """Training images per second of the validated ``cfg``'s model after its method (applied
    without data, as ``task=profile`` does), measured now on the device the job trains on (its
    ``trainer.accelerator``: a GPU where there is one) at its batch size, precision and memory
    format, uncompiled."""
    import torch

    from lightcnn.data.datasets import input_spec
    from lightcnn.engine.precision import device_type, training_precision
    from lightcnn.methods.registry import MethodContext, apply_method
    from lightcnn.models import build_model
    from lightcnn.step_timing import synthetic_data, training_images_per_s

    spec = input_spec(cfg.dataset)
    shape = (spec.channels, spec.height, spec.width)
    torch.manual_seed(0)
    net = apply_method(build_model(cfg.model, spec), cfg.method, MethodContext(input_shape=shape))
    device = device_type(cfg.trainer.accelerator)  # the device the job will train on
    precision = training_precision(cfg.trainer.precision, device, net)  # "32" is Lightning's "32-true"
    tcfg = replace(cfg.trainer, accelerator=device, precision=precision, compile="none", progress_bar=False)
    data = synthetic_data(tcfg.batch_size * (YARDSTICK_WARMUP + YARDSTICK_STEPS), shape, spec.num_classes)
    return training_images_per_s(net, tcfg, cfg.dataset, data, YARDSTICK_WARMUP, YARDSTICK_STEPS)


def busy_load() -> float | None:
    """The 1-minute load average when it is at least the number of cores (other processes share
    them, and a yardstick timed now runs slower than the job will: with their threads and its own
    oversubscribing the cores, several times slower), else None."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return None
    return load if load >= (os.cpu_count() or 1) else None


class Estimator:
    """Minutes per planned training: recorded speeds first, the yardstick (cached per speed key) else."""

    def __init__(self, results: Path) -> None:
        self.recorded = recorded_speeds(results)
        self.before = recorded_seconds_before_training(results)
        self.threads = os.cpu_count() or 1  # one job at a time: a thread per core
        self.timed: dict[str, float] = {}
        self.busy: float | None = None  # the highest busy load average seen as a yardstick started

    def minutes(self, cfg, container: dict) -> tuple[Work, float, str] | None:
        """(work, minutes, where the speed came from) of a training; None for other tasks."""
        from lightcnn.methods.registry import before_training

        work = training_work(cfg)
        if work is None:
            return None
        key = speed_key(container)
        if key in self.recorded:
            speeds = at_threads(self.recorded[key], self.threads)
            speed, source = statistics.median(speeds), f"{len(speeds)} record(s)"
        else:
            if key not in self.timed:
                load = busy_load()
                if load is not None:
                    self.busy = max(load, self.busy or 0.0)
                self.timed[key] = yardstick_images_per_s(cfg)
            speed, source = self.timed[key], "yardstick"
        before = statistics.median(at_threads(self.before.get(key) or [(0.0, None)], self.threads)) / 60
        minutes = work.seconds(speed) / 60
        searched = f" + {before:.1f} min before training" if before >= 0.5 else ""
        untimed = before_training(cfg.method.name)
        if untimed and key not in self.before:  # e.g. an RL search: hours where the training takes minutes
            searched = f"; {untimed} not included (no record of this configuration times it)"
        return work, minutes + before, f"{speed:,.0f} img/s, {source}{searched}"
