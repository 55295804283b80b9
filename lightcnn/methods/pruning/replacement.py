"""Filter replacement (the report's method 1 and 2): before pruning, the least important filters
of a conv are overwritten with copies of important ones, so retraining starts from filters that
already work; HRank then prunes the duplicates."""

from __future__ import annotations

import torch
from torch import nn

from lightcnn.methods.pruning.surgery import PrunableConv


@torch.no_grad()
def replace_filters(model: nn.Module, unit: PrunableConv, scores: torch.Tensor, ratio: float, mode: str) -> list[int]:
    """Overwrite the ``ratio`` least important filters (and their BN channels) with copies of
    important ones: ``duplicate_top`` copies the top filters one to one (each then appears twice),
    ``replace_with_best`` copies the single best into all of them. Returns the replaced indices."""
    order = torch.argsort(-scores, stable=True)  # most important first
    count = max(1, int(round(ratio * len(order))))
    worst = order[-count:]
    sources = order[:count] if mode == "duplicate_top" else order[:1].repeat(count)
    conv, bn = model.get_submodule(unit.conv), model.get_submodule(unit.bn)
    for param in (conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var):
        if param is not None:
            param[worst] = param[sources]
    return worst.tolist()
