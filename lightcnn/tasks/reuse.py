"""``task=reuse``: the computation-reuse census of the first conv layer (002, Tables 2–3).

Builds the configured model (and method), optionally loads trained weights
(``task.checkpoint``: a path, or ``auto`` for the newest ``ok`` training run of the same model,
method and data set), normalises ``task.images`` random test images (seeded by ``seed``) as
training does, and counts the (weight, input) pairs of the first layer's convolution of each
image at each precision; the record holds the per-image means (``reuse.<precision>.…``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from lightcnn.config import Config
from lightcnn.data.augment import normalize
from lightcnn.data.datasets import load_dataset
from lightcnn.engine.profiling import model_fields
from lightcnn.errors import ConfigValueError
from lightcnn.methods import MethodContext, apply_method
from lightcnn.methods.reuse import census, mean_census
from lightcnn.methods.templates import conv_weight, first_conv
from lightcnn.models import build_model
from lightcnn.results.record import iter_records
from lightcnn.tasks import RunContext, TaskResult

log = logging.getLogger(__name__)


def find_trained_checkpoint(cfg: Config, ctx: RunContext) -> Path | None:
    """``last.ckpt`` of the newest ok training run with the same model, method and data set."""
    wanted = {key: ctx.config_container[key] for key in ("model", "method", "dataset")}
    runs = [
        r
        for r in iter_records(ctx.results_dir)
        if r.get("status") == "ok"
        and r.get("task") == "train"
        and all(r["config"].get(key) == value for key, value in wanted.items())
        and (Path(r["run_dir"]) / "checkpoints" / "last.ckpt").is_file()
    ]
    newest = max(runs, key=lambda r: r.get("finished_at") or "", default=None)
    return Path(newest["run_dir"]) / "checkpoints" / "last.ckpt" if newest else None


def load_weights(model: nn.Module, path: Path) -> None:
    """Weights of a lightcnn (Lightning) checkpoint, whose keys start with ``net.``."""
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    model.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")})


def reuse_task(cfg: Config, ctx: RunContext) -> TaskResult:
    data = load_dataset(cfg.dataset, ctx.data_dir)
    spec = data.spec
    model = apply_method(build_model(cfg.model, spec), cfg.method, MethodContext()).eval()
    checkpoint = None
    if cfg.task.checkpoint == "auto":
        checkpoint = find_trained_checkpoint(cfg, ctx)
        if checkpoint is None:
            log.warning("no trained run of this model found under %s: counting the fresh model", ctx.results_dir)
    elif cfg.task.checkpoint is not None:
        checkpoint = Path(cfg.task.checkpoint).expanduser()
        if not checkpoint.is_file():
            raise ConfigValueError("task.checkpoint", cfg.task.checkpoint, "null, auto, or an existing checkpoint file")
    if checkpoint is not None:
        load_weights(model, checkpoint)
    fields, _ = model_fields(model, (spec.channels, spec.height, spec.width))

    _, layer, conv = first_conv(model)
    weight = conv_weight(conv).detach()
    generator = torch.Generator().manual_seed(cfg.seed)
    count = min(cfg.task.images, len(data.test_y))
    chosen = torch.randperm(len(data.test_y), generator=generator)[:count]
    images = normalize(data.test_x[chosen], data.mean, data.std)
    stride, padding = conv.stride[0], conv.padding[0]
    reuse = {
        precision: mean_census([census(weight, image, precision, stride, padding) for image in images])
        for precision in cfg.task.precisions
    }
    fields.update(reuse=reuse, reuse_images=chosen.tolist(), reuse_checkpoint=str(checkpoint) if checkpoint else None)
    report = "\n".join(
        f"{p}: {v['distinct']:.1f} distinct pairs of {v['multiplications']:,} multiplications ({100 * v['ratio']:.2f}%)"
        for p, v in reuse.items()
    )
    return TaskResult(fields, report)
