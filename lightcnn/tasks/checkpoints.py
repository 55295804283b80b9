"""Trained weights for the analysis tasks (``task.checkpoint``: null, ``auto`` or a path)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from lightcnn.errors import ConfigValueError
from lightcnn.results.record import iter_records
from lightcnn.tasks import RunContext

log = logging.getLogger(__name__)


def find_trained_checkpoint(ctx: RunContext) -> Path | None:
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


def resolve_checkpoint(setting: str | None, ctx: RunContext) -> Path | None:
    """None (the model as built), ``auto`` (the newest matching training run, if any) or a path."""
    if setting is None:
        return None
    if setting == "auto":
        found = find_trained_checkpoint(ctx)
        if found is None:
            log.warning("no trained run of this model under %s: using the model as built", ctx.results_dir)
        return found
    path = Path(setting).expanduser()
    if not path.is_file():
        raise ConfigValueError("task.checkpoint", setting, "null, auto, or an existing checkpoint file")
    return path


def load_weights(model: nn.Module, path: Path) -> None:
    """Weights of a lightcnn (Lightning) checkpoint, whose keys start with ``net.``."""
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    model.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")})
