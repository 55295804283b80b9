"""``task=reuse``: the computation-reuse census of the first conv layer (002, Tables 2–3).

Builds the configured model (and method), optionally loads trained weights
(``task.checkpoint``: a path, or ``auto`` for the newest ``ok`` training run of the same model,
method and data set), normalises ``task.images`` random test images (seeded by ``seed``) as
training does, and counts the (weight, input) pairs of the first layer's convolution of each
image at each precision; the record holds the per-image means (``reuse.<precision>.…``).
"""

from __future__ import annotations

import logging

import torch

from lightcnn.config import Config
from lightcnn.data.augment import normalize
from lightcnn.data.datasets import load_dataset
from lightcnn.engine.profiling import model_fields
from lightcnn.methods import MethodContext, apply_method
from lightcnn.methods.reuse import census, mean_census
from lightcnn.methods.templates import conv_weight, first_conv
from lightcnn.models import build_model
from lightcnn.tasks import RunContext, TaskResult
from lightcnn.tasks.checkpoints import load_weights, resolve_checkpoint

log = logging.getLogger(__name__)


def reuse_task(cfg: Config, ctx: RunContext) -> TaskResult:
    data = load_dataset(cfg.dataset, ctx.data_dir)
    spec = data.spec
    model = apply_method(build_model(cfg.model, spec), cfg.method, MethodContext()).eval()
    checkpoint = resolve_checkpoint(cfg.task.checkpoint, ctx)
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
