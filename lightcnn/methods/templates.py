"""Kernel templates (Iuchi and Tsumura, kernel templates, §4): fix part of the first conv to HLAC masks.

``method=template_kernels`` replaces the first convolution of the model (a 3×3 conv with at
least ``method.count`` output filters) by a :class:`TemplateConv2d` whose first ``count``
filters are the HLAC masks, each replicated over the input channels, a mask's 1 →
+3/√fan_in and 0 → −3/√fan_in (fan_in = in_channels·9; Chainer's initial weights lie in that
range with 99.7% probability). Those filters are a parameter with ``requires_grad=False``: no
gradient, no optimizer state, no weight decay, bit-identical after training. The remaining
filters train as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lightcnn.config import MethodConfig, option, require
from lightcnn.errors import ConfigValueError, UserError
from lightcnn.methods.hlac import hlac_masks
from lightcnn.methods.registry import MethodContext, register_method
from lightcnn.models import layers


@dataclass
class TemplateKernelsConfig(MethodConfig):
    name: str = "template_kernels"
    count: int = option(25, "filters fixed to the first `count` HLAC masks")

    def __post_init__(self) -> None:
        require(1 <= self.count <= 25, "count", self.count, "an integer in [1, 25] (there are 25 HLAC masks)")


def template_weights(count: int, in_channels: int) -> torch.Tensor:
    """``(count, in_channels, 3, 3)``: masks at ±3/√fan_in, replicated over the input channels."""
    bound = 3.0 / math.sqrt(in_channels * 9)
    masks = hlac_masks()[:count]
    return (masks * 2 * bound - bound)[:, None].repeat(1, in_channels, 1, 1)


class TemplateConv2d(nn.Module):
    """A conv whose first filters are fixed templates (``fixed_weight``) and the rest train."""

    is_conv = True  # counts as a convolution for models.layers.first_conv

    def __init__(self, conv: nn.Conv2d, count: int) -> None:
        super().__init__()
        self.stride, self.padding, self.dilation = conv.stride, conv.padding, conv.dilation
        self.in_channels, self.out_channels, self.kernel_size = conv.in_channels, conv.out_channels, conv.kernel_size
        fixed = template_weights(count, conv.in_channels).to(conv.weight)
        self.fixed_weight = nn.Parameter(fixed, requires_grad=False)
        self.weight = nn.Parameter(conv.weight.detach()[count:].clone())
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())

    def full_weight(self) -> torch.Tensor:
        return torch.cat([self.fixed_weight, self.weight], 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.full_weight(), self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        fixed = self.fixed_weight.shape[0]
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, fixed={fixed}"


def first_conv(model: nn.Module) -> tuple[nn.Module, str, nn.Conv2d | TemplateConv2d]:
    """(parent module, attribute name, conv) of the first convolution in module order."""
    try:
        return layers.first_conv(model)
    except UserError:
        raise ConfigValueError("name", "template_kernels", "a method for models with a convolution") from None


def conv_weight(conv: nn.Conv2d | TemplateConv2d) -> torch.Tensor:
    """The full weight of a convolution, fixed templates included."""
    return conv.full_weight() if isinstance(conv, TemplateConv2d) else conv.weight


@register_method("template_kernels", config=TemplateKernelsConfig)
def apply_templates(model: nn.Module, cfg: TemplateKernelsConfig, context: MethodContext) -> nn.Module:
    parent, name, conv = first_conv(model)
    if (
        isinstance(conv, TemplateConv2d)
        or conv.kernel_size != (3, 3)
        or conv.groups != 1
        or conv.out_channels < cfg.count
    ):
        raise ConfigValueError(
            "count",
            cfg.count,
            f"at most the filters of a first layer that is a plain 3×3 conv; this model's is "
            f"{conv.kernel_size[0]}×{conv.kernel_size[1]} with {conv.out_channels} filters (groups={conv.groups})",
        )
    setattr(parent, name, TemplateConv2d(conv, cfg.count))
    return model
