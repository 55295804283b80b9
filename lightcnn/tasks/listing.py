"""``task=list``: every registered model with its size for each real data set's input shape."""

from __future__ import annotations

from lightcnn.config import Config, InputSpec
from lightcnn.data.sources import SOURCES
from lightcnn.engine.profiling import count_params, profile_model
from lightcnn.errors import UserError
from lightcnn.models import build_model, model_config, model_names
from lightcnn.tasks import RunContext, TaskResult


def model_sizes(names: list[str], sources: list[str]) -> list[dict]:
    """One row per model: its params and conv + linear MACs (default config) per data set, or
    why it cannot be built for that input."""
    rows = []
    for name in names:
        row: dict = {"model": name}
        for source_name in sources:
            source = SOURCES.get(source_name).target
            spec = InputSpec(source.channels, source.image_size, source.image_size, source.num_classes)
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


def list_task(cfg: Config, ctx: RunContext) -> TaskResult:
    import pandas as pd

    sources = SOURCES.names()
    rows = model_sizes(model_names(), sources)
    table = pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
    note = "(default config of each model: model=NAME; e.g. model.depth, model.alpha change the size)"
    return TaskResult({"models": rows}, f"{table}\n{note}")
