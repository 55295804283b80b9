"""How important each filter of each prunable conv is: one interface for every pruning method.

An importance maps ``(model, units)`` to one ``(C,)`` tensor per unit, higher = more important.
Pruning keeps the most important filters and the filter replacement copies them over the least;
the L1 norm orders the RL controller's filter groups in the ``l1`` ablation. Any function of
this shape can stand in for another: ``method.importance`` of ``prune_hrank`` picks one by name
(:data:`IMPORTANCES`), so the controls a pruning claim needs are rows at the same rates:

* ``rank``: HRank's, the mean rank of each filter's feature map (Lin et al., CVPR 2020);
* ``l1``: the L1 norm of each filter's weights (Li et al., "Pruning filters for efficient
  ConvNets", ICLR 2017);
* ``random``: a seeded uniform draw (the control of Blalock et al., MLSys 2020, and of Li et
  al., "Revisiting random channel pruning", CVPR 2022).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lightcnn.engine.inspection import inspecting
from lightcnn.methods.pruning.graph import PrunableConv

Importance = Callable[[nn.Module, list[PrunableConv]], list[torch.Tensor]]
IMPORTANCES = ("rank", "l1", "random")


@torch.no_grad()
def l1_norm(model: nn.Module, units: list[PrunableConv]) -> list[torch.Tensor]:
    """The L1 norm of each filter's weights."""
    return [model.get_submodule(u.conv).weight.detach().abs().flatten(1).sum(1).cpu() for u in units]


def feature_map_rank(batches: list[torch.Tensor]) -> Importance:
    """HRank's importance: the mean rank of each filter's feature map over ``batches`` (moved to
    the model's device)."""

    def ranks(model: nn.Module, units: list[PrunableConv]) -> list[torch.Tensor]:
        device = next(model.parameters()).device
        return feature_map_ranks(model, units, [b.to(device) for b in batches])

    return ranks


def random_scores(seed: int) -> Importance:
    """A uniform draw per filter from a generator seeded with ``seed`` (the same draw for the same
    seed and units, whatever the model's weights); the global random stream is not touched."""

    def draw(model: nn.Module, units: list[PrunableConv]) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        return [torch.rand(model.get_submodule(u.conv).out_channels, generator=generator) for u in units]

    return draw


def importance_by_name(name: str, batches: list[torch.Tensor], seed: int) -> Importance:
    """The importance ``method.importance=name`` selects (one of :data:`IMPORTANCES`)."""
    return {"rank": lambda: feature_map_rank(batches), "l1": lambda: l1_norm, "random": lambda: random_scores(seed)}[
        name
    ]()


@torch.no_grad()
def feature_map_ranks(model: nn.Module, units: list[PrunableConv], batches: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per unit, the mean rank over the images of each filter's feature map (a ``(C,)`` tensor),
    taken at the unit's activation (through a ReLU where the activation is a function).

    One rule wherever it runs, so a spec prunes the same filters on any hardware: the forward
    pass in float32 with autocast off (one-shot ranking runs before training, scheduled ranking
    between its epochs), the ranks computed on the CPU (LAPACK's SVD, not the device's)."""
    sums: dict[int, torch.Tensor] = {}
    count = 0

    def hook(index: int, through_relu: bool):
        def record(module, inputs, output):
            maps = torch.relu(output.float()) if through_relu else output.float()
            ranks = torch.linalg.matrix_rank(maps.cpu()).float().sum(0)  # (C,) summed over the batch
            sums[index] = ranks if index not in sums else sums[index] + ranks

        return record

    hooks = [(model.get_submodule(u.activation), hook(i, u.rank_through_relu)) for i, u in enumerate(units)]
    device = next(model.parameters()).device
    with inspecting(model, hooks), torch.autocast(device.type, enabled=False):
        for images in batches:
            model(images.float())
            count += images.shape[0]
    return [sums[i] / count for i in range(len(units))]
