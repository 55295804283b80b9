"""Oct-ResNet and Pointwise-Oct-ResNet for CIFAR (Inoue and Goto, Pointwise OctConv, §6.1).

The CIFAR ResNet of ``resnet.py`` with every convolution except the first replaced by an
OctConv: the first OctConv has α_in = 0, α_out = α; the last has α_in = α, α_out = 0; all
others α_in = α_out = α. BN and ReLU act on each frequency branch; residuals are added per
branch. Shortcuts stay parameter-free (option A, per branch); where the frequency layout
changes (the first and last blocks) the identity is split into (high, pooled low) channels, or
merged back as (high, upsampled low).

``pwise_oct_resnet`` wraps the k×k conv of the chosen ``paths`` in 1×1 convolutions with channel
compression β; ``bottleneck`` picks the reading: ``per_path`` (eq. 10–14: each path's middle
width is its output channels / β) or ``shared`` (one c → c/β → c bottleneck around the OctConv).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from lightcnn.config import option, require, require_choice
from lightcnn.models.octconv import (
    PATHS,
    Oct,
    OctBatchNorm,
    OctConv2d,
    PointwiseOctConv2d,
    SharedPointwiseOctConv2d,
    add,
    as_oct,
    oct_relu,
    split_channels,
)
from lightcnn.models.registry import InputRule, InputSpec, register_model
from lightcnn.models.resnet import RESNET_DEPTHS, STAGE_WIDTHS, ResNetConfig, init_weights

BOTTLENECKS = ("per_path", "shared")


@dataclass
class OctResNetConfig(ResNetConfig):
    name: str = "oct_resnet"
    alpha: float = option(0.25, "low-frequency share of the channels")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0.0 <= self.alpha <= 1.0, "alpha", self.alpha, "a number in [0, 1]")


@dataclass
class PwiseOctResNetConfig(OctResNetConfig):
    name: str = "pwise_oct_resnet"
    beta: int = option(2, "channel compression of the pointwise bottleneck")
    paths: list[str] = option(factory=lambda: list(PATHS), help="paths whose conv gets the bottleneck")
    bottleneck: str = option("per_path", "per_path: one pointwise pair per path | shared: one pair for all")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.beta >= 1, "beta", self.beta, "a positive integer")
        require(len(self.paths) > 0, "paths", list(self.paths), f"a non-empty subset of {list(PATHS)}")
        for path in self.paths:
            require(path in PATHS, "paths", list(self.paths), f"a non-empty subset of {list(PATHS)}")
        require(len(set(self.paths)) == len(self.paths), "paths", list(self.paths), "each path at most once")
        require_choice("bottleneck", self.bottleneck, BOTTLENECKS)


class OctShortcut(nn.Module):
    """Parameter-free shortcut between frequency layouts (option A on each branch)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, alpha_in: float, alpha_out: float) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.alpha_in, self.alpha_out = alpha_in, alpha_out
        self.in_split, self.out_split = split_channels(in_channels, alpha_in), split_channels(out_channels, alpha_out)

    def _option_a(self, x: torch.Tensor | None, c_out: int) -> torch.Tensor | None:
        if x is None:
            return None
        x = x[:, :, :: self.stride, :: self.stride]
        extra = c_out - x.shape[1]
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2)) if extra else x

    def forward(self, x: torch.Tensor | Oct) -> Oct:
        x_h, x_l = as_oct(x)
        if self.in_split[1] and not self.out_split[1]:  # merge: (high, low) → one full-resolution map
            low = F.interpolate(x_l, scale_factor=2, mode="nearest")
            x_h, x_l = (low if x_h is None else torch.cat([x_h, low], 1)), None
        if not self.in_split[1] and self.out_split[1]:  # split: one map → (high, pooled low)
            full = self._option_a(x_h, self.out_channels)
            high = self.out_split[0]
            return (full[:, :high] if high else None), F.avg_pool2d(full[:, high:], 2)
        if self.in_split[1] and self.out_split[1]:
            return self._option_a(x_h, self.out_split[0]), self._option_a(x_l, self.out_split[1])
        return self._option_a(x_h, self.out_channels), None


class OctBasicBlock(nn.Module):
    def __init__(self, conv_factory, in_c: int, out_c: int, stride: int, a_in: float, a_mid: float, a_out: float):
        super().__init__()
        self.conv1 = conv_factory(in_c, out_c, 3, a_in, a_mid, stride)
        self.bn1 = OctBatchNorm(out_c, a_mid)
        self.conv2 = conv_factory(out_c, out_c, 3, a_mid, a_out, 1)
        self.bn2 = OctBatchNorm(out_c, a_out)
        self.shortcut = OctShortcut(in_c, out_c, stride, a_in, a_out)

    def forward(self, x: torch.Tensor | Oct) -> Oct:
        out = oct_relu(self.bn1(self.conv1(x)))
        out_h, out_l = self.bn2(self.conv2(out))
        sc_h, sc_l = self.shortcut(x)
        return oct_relu((add(out_h, sc_h), add(out_l, sc_l)))


class OctResNet(nn.Module):
    """CIFAR ResNet of depth 6n + 2 whose convolutions after the stem are OctConvs."""

    def __init__(self, depth: int, alpha: float, conv_factory, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, STAGE_WIDTHS[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(STAGE_WIDTHS[0])
        self.relu = nn.ReLU(inplace=True)
        layout = [(stage, block) for stage in range(3) for block in range(n)]
        blocks, width = [], STAGE_WIDTHS[0]
        for index, (stage, block) in enumerate(layout):
            first, last = index == 0, index == len(layout) - 1
            stride = 2 if stage > 0 and block == 0 else 1
            out = STAGE_WIDTHS[stage]
            blocks.append(
                OctBasicBlock(conv_factory, width, out, stride, 0.0 if first else alpha, alpha, 0.0 if last else alpha)
            )
            width = out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        high, _ = self.blocks(x)
        return self.fc(torch.flatten(self.pool(high), 1))


def octave_inputs(cfg: OctResNetConfig) -> InputRule:
    """With a low-frequency path (alpha > 0) it runs at half the resolution through two stride-2 stages."""
    if cfg.alpha > 0:
        return InputRule(side_divisor=8, why="the low-frequency path halves them three times")
    return InputRule()


# channels_last stays off: NHWC halves CPU throughput here (pooling, slicing of branches)
@register_model("oct_resnet", config=OctResNetConfig, inputs=octave_inputs)
def oct_resnet(cfg: OctResNetConfig, spec: InputSpec) -> OctResNet:
    factory = partial(_octconv)
    return OctResNet(cfg.depth, cfg.alpha, factory, spec.channels, spec.num_classes)


@register_model("pwise_oct_resnet", config=PwiseOctResNetConfig, inputs=octave_inputs)
def pwise_oct_resnet(cfg: PwiseOctResNetConfig, spec: InputSpec) -> OctResNet:
    layer = PointwiseOctConv2d if cfg.bottleneck == "per_path" else SharedPointwiseOctConv2d
    factory = partial(_octconv, layer=layer, pointwise=tuple(cfg.paths), beta=cfg.beta)
    return OctResNet(cfg.depth, cfg.alpha, factory, spec.channels, spec.num_classes)


def _octconv(c_in, c_out, k, a_in, a_out, stride, layer=OctConv2d, **kwargs) -> nn.Module:
    return layer(c_in, c_out, k, a_in, a_out, stride, **kwargs)


__all__ = ["OctResNet", "OctResNetConfig", "PwiseOctResNetConfig", "RESNET_DEPTHS"]
