"""``task=profile``: params and FLOPs of the configured model after its method, without data."""

from __future__ import annotations

from lightcnn.config import Config
from lightcnn.data.datasets import input_spec
from lightcnn.engine.profiling import model_fields
from lightcnn.methods import MethodContext, apply_method
from lightcnn.models import build_model
from lightcnn.tasks import RunContext, TaskResult


def count_config(cfg: Config, max_depth: int | None = None):
    """(record fields, per-module profile) of the configured model after its method, no data."""
    spec = input_spec(cfg.dataset)
    shape = (spec.channels, spec.height, spec.width)
    method_context = MethodContext(input_shape=shape)
    model = apply_method(build_model(cfg.model, spec), cfg.method, method_context)
    fields, profile = model_fields(model, shape, max_depth=max_depth)
    return {**fields, **method_context.fields}, profile


def profile_task(cfg: Config, ctx: RunContext) -> TaskResult:
    fields, profile = count_config(cfg, cfg.task.max_depth if cfg.task.print_table else None)
    return TaskResult(fields, profile.table if cfg.task.print_table else None)
