"""``task=latency``: time inference of the configured model (no data, no training).

For each device and batch size: ``warmup`` untimed passes, then up to ``repeats`` timed passes
(fewer once ``max_seconds`` have gone, but at least 3), each timed from a synchronised start to a
synchronised end, on an input already on the device (no transfer in the timing). The record gets
``latency[device]["b<batch>"] = {median_ms, iqr_ms, repeats}`` and the model's size fields.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lightcnn.config import Config, TaskConfig, option, require
from lightcnn.data.datasets import input_spec
from lightcnn.engine.devices import synchronize
from lightcnn.engine.profiling import model_fields
from lightcnn.environment import device_name
from lightcnn.methods import MethodContext, apply_method
from lightcnn.models import build_model
from lightcnn.models.layers import fuse_for_inference
from lightcnn.tasks.base import RunContext, TaskResult, register_task


@dataclass
class LatencyTaskConfig(TaskConfig):
    """Inference latency: median and interquartile range over repeated timed forward passes."""

    name: str = "latency"
    batch_sizes: list[int] = option(factory=lambda: [1, 256], help="images per forward pass, each timed apart")
    devices: list[str] = option(factory=lambda: ["cpu", "cuda"], help="cuda is skipped where absent")
    warmup: int = option(5, "untimed forward passes first")
    repeats: int = option(30, "timed forward passes (at most)")
    max_seconds: float = option(10.0, "per device and batch size: stop repeating after this long (>= 3 repeats)")
    fold: bool = option(True, "time the inference form (BN folded into the convolutions)")

    def __post_init__(self) -> None:
        require(
            len(self.batch_sizes) > 0 and all(b >= 1 for b in self.batch_sizes),
            "batch_sizes",
            list(self.batch_sizes),
            "a non-empty list of integers >= 1",
        )
        require(
            len(self.devices) > 0 and all(d in ("cpu", "cuda") for d in self.devices),
            "devices",
            list(self.devices),
            "a non-empty subset of [cpu, cuda]",
        )
        require(self.warmup >= 0, "warmup", self.warmup, "an integer >= 0")
        require(self.repeats >= 3, "repeats", self.repeats, "an integer >= 3")
        require(self.max_seconds > 0, "max_seconds", self.max_seconds, "a number > 0")


log = logging.getLogger(__name__)


def summarize_ms(seconds: list[float]) -> dict[str, float]:
    """Median and interquartile range, in milliseconds."""
    ms = np.asarray(seconds) * 1000.0
    q1, median, q3 = np.percentile(ms, [25, 50, 75])
    return {"median_ms": float(median), "iqr_ms": float(q3 - q1), "repeats": len(ms)}


@torch.inference_mode()
def time_forward(model: nn.Module, inputs: torch.Tensor, warmup: int, repeats: int, max_seconds: float) -> list[float]:
    """Wall times (s) of forward passes of ``inputs``, each from a synchronised start to a synchronised end."""
    device = inputs.device
    for _ in range(warmup):
        model(inputs)
    synchronize(device)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < repeats and (len(times) < 3 or time.perf_counter() - started < max_seconds):
        begin = time.perf_counter()
        model(inputs)
        synchronize(device)
        times.append(time.perf_counter() - begin)
    return times


@register_task(
    "latency", config=LatencyTaskConfig,
    smoke=("task.batch_sizes=[1,8]", "task.repeats=3", "task.warmup=1", "task.max_seconds=1"),
)  # fmt: skip
def latency_task(cfg: Config, ctx: RunContext) -> TaskResult:
    torch.manual_seed(cfg.seed)
    spec = input_spec(cfg.dataset)
    shape = (spec.channels, spec.height, spec.width)
    model = apply_method(build_model(cfg.model, spec), cfg.method, MethodContext()).eval()
    fields, _ = model_fields(model, shape)
    timed = fuse_for_inference(model) if cfg.task.fold else model
    latency: dict[str, dict] = {}
    devices: dict[str, str] = {}
    for name in cfg.task.devices:
        if name == "cuda" and not torch.cuda.is_available():
            log.info("no CUDA device: GPU latency skipped")
            continue
        device = torch.device(name)
        on_device = timed.to(device)
        latency[name] = {}
        for batch in cfg.task.batch_sizes:
            inputs = torch.randn(batch, *shape, device=device)
            times = time_forward(on_device, inputs, cfg.task.warmup, cfg.task.repeats, cfg.task.max_seconds)
            latency[name][f"b{batch}"] = summarize_ms(times)
            log.info("%s batch %d: %.3f ms median", name, batch, latency[name][f"b{batch}"]["median_ms"])
        devices[name] = device_name(device)
    fields.update(
        latency=latency, latency_devices=devices, latency_threads=torch.get_num_threads(), latency_folded=cfg.task.fold
    )
    lines = [
        f"{d} batch {b[1:]}: {v['median_ms']:.3f} ms (IQR {v['iqr_ms']:.3f}, n={v['repeats']})"
        for d, per in latency.items()
        for b, v in per.items()
    ]
    return TaskResult(fields, "\n".join(lines))
