"""What the analysis tasks (``reuse``, ``im2col``) share: the model with its trained weights
(``task.checkpoint``: null, ``auto`` or a path) and a seeded sample of test images."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from lightcnn.config import Config
from lightcnn.data.augment import normalize
from lightcnn.data.datasets import ImageData, load_dataset
from lightcnn.engine.profiling import model_fields
from lightcnn.engine.weights import load_weights
from lightcnn.errors import ConfigValueError
from lightcnn.methods import MethodContext, apply_method
from lightcnn.models import build_model
from lightcnn.tasks.base import RunContext

log = logging.getLogger(__name__)


def resolve_checkpoint(setting: str | None, ctx: RunContext) -> Path | None:
    """None (the model as built), ``auto`` (the training run the runner pinned, see
    :mod:`lightcnn.dependencies`) or a path."""
    if setting is None:
        return None
    if setting == "auto":
        return Path(ctx.dependency["checkpoint"])
    path = Path(setting).expanduser()
    if not path.is_file():
        raise ConfigValueError("task.checkpoint", setting, "null, auto, or an existing checkpoint file")
    return path


def analysis_setup(cfg: Config, ctx: RunContext) -> tuple[ImageData, nn.Module, dict, Path | None]:
    """The data set, the model in eval mode (method applied, weights of ``task.checkpoint``
    loaded), its record fields, and the checkpoint used."""
    data = load_dataset(cfg.dataset, ctx.data_dir)
    spec = data.spec
    model = apply_method(build_model(cfg.model, spec), cfg.method, MethodContext()).eval()
    checkpoint = resolve_checkpoint(cfg.task.checkpoint, ctx)
    if checkpoint is not None:
        load_weights(model, checkpoint)
    fields, _ = model_fields(model, (spec.channels, spec.height, spec.width))
    fields["checkpoint"] = str(checkpoint) if checkpoint else None
    return data, model, fields, checkpoint


def sample_test_images(data: ImageData, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, normalised images) of ``count`` test images drawn with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(data.test_y), generator=generator)[: min(count, len(data.test_y))]
    return chosen, normalize(data.test_x[chosen], data.mean, data.std)
