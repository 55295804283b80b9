"""``task=profile``: params and FLOPs of the configured model after its method, without data."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from lightcnn.config import Config, TaskConfig, option, require
from lightcnn.data.datasets import input_spec
from lightcnn.engine.profiling import model_fields
from lightcnn.methods import MethodContext, apply_method
from lightcnn.models import build_model
from lightcnn.tasks.base import RunContext, TaskResult, register_task


@dataclass
class ProfileTaskConfig(TaskConfig):
    """Count parameters and FLOPs of the built model; no data, no training."""

    name: str = "profile"
    print_table: bool = option(
        False, "the per-module fvcore table (seconds for a deep model; the record has the totals)"
    )
    max_depth: int = option(3, "module depth of the per-layer table")

    def __post_init__(self) -> None:
        require(self.max_depth >= 1, "max_depth", self.max_depth, "an integer >= 1")


def count_config(cfg: Config, max_depth: int | None = None):
    """(record fields, per-module profile) of the configured model after its method, no data;
    with a method, also the model's counts before it (:func:`before_method`)."""
    spec = input_spec(cfg.dataset)
    shape = (spec.channels, spec.height, spec.width)
    method_context = MethodContext(input_shape=shape)
    model = apply_method(build_model(cfg.model, spec), cfg.method, method_context)
    fields, profile = model_fields(model, shape, max_depth=max_depth)
    return {**fields, **method_context.fields, **before_method(cfg, spec, shape)}, profile


def before_method(cfg: Config, spec, shape: tuple[int, int, int]) -> dict[str, int]:
    """``params_before`` and ``flops_before`` (MACs) of the model as built, for a run with a method
    (its end line and record then give both counts and the reduction); nothing without one."""
    if cfg.method.name == "none":
        return {}
    key = (json.dumps(dataclasses.asdict(cfg.model), sort_keys=True, default=str), repr(spec), shape)
    if key not in _BEFORE:  # many rows of a table prune one model: trace it once per process
        fields, _ = model_fields(build_model(cfg.model, spec), shape)
        _BEFORE[key] = {"params_before": fields["params"], "flops_before": fields["flops_conv"]}
    return dict(_BEFORE[key])


_BEFORE: dict[tuple, dict[str, int]] = {}


@register_task("profile", config=ProfileTaskConfig)
def profile_task(cfg: Config, ctx: RunContext) -> TaskResult:
    fields, profile = count_config(cfg, cfg.task.max_depth if cfg.task.print_table else None)
    return TaskResult(fields, macs_table(profile.table, fields) if cfg.task.print_table else None)


def macs_table(table: str, fields: dict) -> str:
    """fvcore's per-module table with its counts named for what they are (multiply-accumulates)
    and a last line tying its total to the record's ``flops`` and the end line's conv + linear
    MACs (``flops_conv``)."""
    return (
        table.replace("#flops", "#MACs")
        + f"\ntotal {fields['flops']:,} MACs (the record's flops: every operator fvcore counts); conv + linear "
        f"{fields['flops_conv']:,} (flops_conv, the end line's)"
    )
