"""Which filters a pruning keeps, given one importance score per filter: shared by one-shot
pruning (:mod:`~lightcnn.methods.pruning.hrank`) and pruning during training
(:mod:`~lightcnn.methods.pruning.schedule`)."""

from __future__ import annotations

import torch
from torch import nn

from lightcnn.methods.pruning.rates import kept_filters
from lightcnn.methods.pruning.surgery import PrunableConv, remove_filters


def choose_filters(scores: torch.Tensor | None, keep: int) -> torch.Tensor:
    """The ``keep`` highest-ranked filters in index order (ties keep the lower index); the first
    ``keep`` without scores."""
    if scores is None:
        return torch.arange(keep)
    return torch.sort(torch.argsort(-scores.cpu(), stable=True)[:keep]).values


def prune_by_scores(
    model: nn.Module, units: list[PrunableConv], rates: list[float], scores: list | None
) -> list[torch.Tensor]:
    """Keep each unit's highest-scoring filters (the first ones without scores); returns the
    indices each unit kept."""
    kept = []
    for index, unit in enumerate(units):
        keep = kept_filters(model.get_submodule(unit.conv).out_channels, rates[index])
        kept.append(choose_filters(scores[index] if scores else None, keep))
        remove_filters(model, unit, kept[-1])
    return kept
