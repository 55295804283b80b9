"""Internal variables: the activation elements a forward pass stores for one image.

A model made of :class:`~lightcnn.models.layers.Unit` modules stores one activation per unit
(its output; what happens inside a unit, such as the depthwise result of a fused block, is never
stored). Counted with forward hooks on the outermost units, in eval mode, batch 1.
"""

from __future__ import annotations

import torch
from torch import nn

from lightcnn.engine.inspection import inspecting
from lightcnn.models.layers import Unit


def outermost_units(model: nn.Module) -> list[nn.Module]:
    found = []

    def walk(module: nn.Module) -> None:
        for child in module.children():
            if isinstance(child, Unit):
                found.append(child)
            else:
                walk(child)

    walk(model)
    return found


@torch.no_grad()
def internal_variables(model: nn.Module, input_shape: tuple[int, int, int]) -> int | None:
    """Elements stored per image (None for a model without units, whose count is undefined)."""
    units = outermost_units(model)
    if not units:
        return None
    total = 0

    def count(module, inputs, output) -> None:
        nonlocal total
        total += output.numel()

    with inspecting(model, [(unit, count) for unit in units]):
        device = next(iter(model.parameters()), torch.empty(0)).device
        model(torch.zeros(1, *input_shape, device=device))
    return total
