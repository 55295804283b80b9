"""``task=list``: every registered model with its size for each real data set's input shape;
with ``task.methods=true`` also the composability matrix: each registered method applied (at its
defaults) to each model (its smallest depth) for each data set's input, counted by fvcore, or the
one line that refuses the combination."""

from __future__ import annotations

from dataclasses import dataclass

from lightcnn.config import Config, InputSpec, TaskConfig, option
from lightcnn.data.sources import SOURCES
from lightcnn.engine.profiling import count_params, profile_model
from lightcnn.errors import UserError
from lightcnn.methods import MethodContext, apply_method, method_config, method_names
from lightcnn.methods.registry import fitted_values
from lightcnn.models import build_model, model_config, model_names
from lightcnn.tasks.base import RunContext, TaskResult, register_task


@dataclass
class ListTaskConfig(TaskConfig):
    """Every registered model with its params and conv MACs for each real data set's input."""

    name: str = "list"
    methods: bool = option(
        False, "also which method applies to which model on which data set (the composability matrix)"
    )


SMALLEST = {"depth": 20}  # the matrix builds each model at its smallest depth: what works does not depend on it


def input_specs(sources: list[str]) -> dict[str, InputSpec]:
    specs = {}
    for name in sources:
        source = SOURCES.get(name).target
        specs[name] = InputSpec(source.channels, source.image_size, source.image_size, source.num_classes)
    return specs


def combination(model: str, method: str, spec: InputSpec) -> str:
    """``ok``, ``counts only`` (the method needs data to act) or ``n/a: why`` for one model,
    method and input; an ok cell's model is the one the method returned, counted by fvcore."""
    shape = (spec.channels, spec.height, spec.width)
    values = {k: v for k, v in SMALLEST.items() if k in model_config(model).__dataclass_fields__}
    try:
        net = build_model(model_config(model, **values), spec)
        context = MethodContext(input_shape=shape)
        net = apply_method(net, method_config(method, **fitted_values(method, net)), context)
        profile_model(net, shape, None)
    except UserError as err:
        return f"n/a: {err}"
    return "counts only" if context.fields.get("counts_final") is False else "ok"


def method_matrix(models: list[str], methods: list[str], sources: list[str]) -> list[dict]:
    """One row per model, one cell per method and data set (data sets with the same input shape
    share one computation)."""
    specs = input_specs(sources)
    rows = []
    for model in models:
        row: dict = {"model": model}
        for method in methods:
            done: dict[InputSpec, str] = {}
            for source, spec in specs.items():
                key = InputSpec(spec.channels, spec.height, spec.width, 0)
                if key not in done:
                    done[key] = combination(model, method, spec)
                row[f"{method}/{source}"] = done[key]
        rows.append(row)
    return rows


def matrix_markdown(rows: list[dict], methods: list[str], sources: list[str]) -> str:
    """The matrix as a Markdown table, one column per method: ``ok`` where the combination works
    on every data set, else the data sets it works on; reasons as numbered notes below."""
    notes: list[str] = []

    def mark(cell: str) -> str:
        if not cell.startswith("n/a: "):
            return cell
        reason = cell.removeprefix("n/a: ")
        reason = reason.split("; the data set gives")[0]  # the same reason for every data set of that shape
        if reason not in notes:
            notes.append(reason)
        return f"n/a ({notes.index(reason) + 1})"

    lines = ["| model | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for row in rows:
        cells = []
        for method in methods:
            marks = {source: mark(row[f"{method}/{source}"]) for source in sources}
            if len(set(marks.values())) == 1:
                cells.append(next(iter(marks.values())))
            else:
                cells.append(", ".join(f"{source}: {value}" for source, value in marks.items()))
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"({i}) {reason}" for i, reason in enumerate(notes, 1)]
    return "\n".join(lines)


def model_sizes(names: list[str], sources: list[str]) -> list[dict]:
    """One row per model: its params and conv + linear MACs (default config) per data set, or
    why it cannot be built for that input."""
    rows = []
    for name in names:
        row: dict = {"model": name}
        for source_name, spec in input_specs(sources).items():
            try:
                net = build_model(model_config(name), spec)
                params = count_params(net)[0]
                macs = profile_model(net, (spec.channels, spec.height, spec.width), None).flops_conv
            except UserError as err:
                row[source_name] = f"n/a ({err})"
                continue
            row[source_name] = f"{params:,} params, {macs / 1e6:,.1f} M MACs"
        rows.append(row)
    return rows


@register_task("list", config=ListTaskConfig, writes_record=False)
def list_task(cfg: Config, ctx: RunContext) -> TaskResult:
    import pandas as pd

    sources = SOURCES.names()
    rows = model_sizes(model_names(), sources)
    table = pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
    note = "(default config of each model: model=NAME; e.g. model.depth, model.alpha change the size)"
    if not cfg.task.methods:
        return TaskResult({"models": rows}, f"{table}\n{note}")
    matrix = method_matrix(model_names(), method_names(), sources)
    shown = matrix_markdown(matrix, method_names(), sources)
    return TaskResult({"models": rows, "methods": matrix}, f"{table}\n{note}\n\n{shown}")
