"""Building blocks shared by the small CNNs: conv + BN + ReLU units and BN folding.

A :class:`Unit` is a block whose output an inference engine materialises; the number of
activation elements that all units of a model output for one image is its count of "internal
variables" (``lightcnn.engine.activations``).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from lightcnn.errors import UserError


class Unit(nn.Module):
    """Marker base class: one stored activation per forward pass (its output)."""


def fold_bn(weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and bias of a conv followed by ``bn`` (eval statistics) as one conv.

    ``bn(conv(x)) = γ (W x + b − μ) / √(σ² + ε) + β``, so ``W' = W·s`` per output channel and
    ``b' = (b − μ)·s + β`` with ``s = γ / √(σ² + ε)``.
    """
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = torch.zeros_like(bn.running_mean) if bias is None else bias
    shape = (-1,) + (1,) * (weight.dim() - 1)
    return weight * scale.view(shape), (bias - bn.running_mean) * scale + bn.bias


class ConvBNAct(Unit):
    """conv (no bias) → BN → ReLU; :meth:`fold` returns conv (with bias) → ReLU."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))

    @torch.no_grad()
    def fold(self) -> nn.Module:
        source = self.conv
        # a conv that keeps part of its filters elsewhere (templated: fixed + trained) folds its full weight
        full = source.full_weight() if hasattr(source, "full_weight") else source.weight
        groups = getattr(source, "groups", 1)
        conv = nn.Conv2d(full.shape[1] * groups, full.shape[0], tuple(full.shape[-2:]), source.stride,
                         source.padding, source.dilation, groups, bias=True).to(full)  # fmt: skip
        weight, bias = fold_bn(full, None, self.bn)
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
        return FoldedUnit(conv, copy.deepcopy(self.act))


class FoldedUnit(Unit):
    """A unit after BN folding: one conv with bias, then its activation."""

    def __init__(self, conv: nn.Module, act: nn.Module) -> None:
        super().__init__()
        self.conv, self.act = conv, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class DepthwisePointwise(nn.Module):
    """One linear operator: depthwise K×K (stride s) then pointwise 1×1 (with bias), computed in
    one call so the depthwise result is never a stored activation. Costs K²N + NM per position."""

    def __init__(self, dw_weight: torch.Tensor, pw_weight: torch.Tensor, bias: torch.Tensor, stride: int) -> None:
        super().__init__()
        self.dw_weight, self.pw_weight = nn.Parameter(dw_weight), nn.Parameter(pw_weight)
        self.bias, self.stride = nn.Parameter(bias), stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.dw_weight.shape[-1]
        hidden = F.conv2d(x, self.dw_weight, None, self.stride, k // 2, groups=x.shape[1])
        return F.conv2d(hidden, self.pw_weight, self.bias)


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every foldable unit folded (BN into the conv
    before it). Outputs match the original in eval mode up to float rounding."""
    folded = copy.deepcopy(model).eval()

    def replace(parent: nn.Module) -> None:
        for name, child in parent.named_children():
            if hasattr(child, "fold"):
                setattr(parent, name, child.fold())
            else:
                replace(child)

    replace(folded)
    return folded


def first_conv(model: nn.Module) -> tuple[nn.Module, str, nn.Module]:
    """(parent module, attribute name, conv) of the first convolution in module order: an
    ``nn.Conv2d`` or a module that says it is one (``is_conv = True``, e.g. a templated conv)."""
    for _, parent in model.named_modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d) or getattr(child, "is_conv", False):
                return parent, name, child
    raise UserError("the model has no convolution")
