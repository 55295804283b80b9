"""``task=profile``: params and FLOPs of the configured model after its method, without data."""

from __future__ import annotations

from lightcnn.config import Config
from lightcnn.data.datasets import input_spec
from lightcnn.engine.profiling import model_fields
from lightcnn.methods import MethodContext, apply_method
from lightcnn.models import build_model
from lightcnn.tasks import RunContext, TaskResult


def profile_task(cfg: Config, ctx: RunContext) -> TaskResult:
    spec = input_spec(cfg.dataset)
    shape = (spec.channels, spec.height, spec.width)
    method_context = MethodContext(input_shape=shape)
    model = apply_method(build_model(cfg.model, spec), cfg.method, method_context)
    fields, profile = model_fields(model, shape, max_depth=cfg.task.max_depth)
    return TaskResult({**fields, **method_context.fields}, profile.table if cfg.task.print_table else None)
