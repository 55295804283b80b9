"""MobileNet, MobileNet with layer fusion, and the plain CNN they are compared with
(the MobileNet layer-fusion report).

All three share one stage layout, MobileNet-v1 adapted to 32×32 (CIFAR-10) and 28×28
single-channel (MNIST) inputs as in kuangliu/pytorch-cifar: a 3×3 stem with 32 channels and
stride 1, then 13 blocks ``[64, (128,2), 128, (256,2), 256, (512,2), 512×5, (1024,2), 1024]``
(channels, stride), global average pooling and a linear classifier. ``model.width`` scales every
channel count (⌊c·width + ½⌋, at least 1).

* ``plain_cnn``: each block is a standard 3×3 conv → BN → ReLU (cost K²NM, eq. 1).
* ``mobilenet``: depthwise 3×3 → BN → ReLU → pointwise 1×1 → BN → ReLU (K²N + NM, eq. 4).
* ``mobilenet_fused``: depthwise 3×3 → pointwise 1×1 → BN → ReLU, with no BN, ReLU or stored
  activation between the two convs; ``model.segment`` consecutive blocks of a stage (blocks at
  one resolution) form one unit whose intermediate results are not stored. Folded for inference
  (``fuse_for_inference``), each block is one linear operator (depthwise∘pointwise, with bias)
  followed by ReLU.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from lightcnn.config import ModelConfig, option, require
from lightcnn.errors import ConfigValueError
from lightcnn.models.layers import ConvBNAct, DepthwisePointwise, FoldedUnit, Unit, fold_bn
from lightcnn.models.registry import InputRule, InputSpec, register_model

STEM_WIDTH = 32
LAYOUT = (64, (128, 2), 128, (256, 2), 256, (512, 2), 512, 512, 512, 512, 512, (1024, 2), 1024)


@dataclass
class MobileNetConfig(ModelConfig):
    name: str = "mobilenet"
    width: float = option(1.0, "width multiplier of every layer")

    def __post_init__(self) -> None:
        require(self.width > 0, "width", self.width, "a number > 0")


@dataclass
class PlainCNNConfig(MobileNetConfig):
    name: str = "plain_cnn"


@dataclass
class MobileNetFusedConfig(MobileNetConfig):
    name: str = "mobilenet_fused"
    segment: int = option(1, "consecutive blocks of a stage fused into one unit")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.segment >= 1, "segment", self.segment, "an integer >= 1")


def scaled(channels: int, width: float) -> int:
    return max(1, int(channels * width + 0.5))


def blocks(width: float) -> list[tuple[int, int]]:
    """``[(out_channels, stride)]`` of the 13 blocks at width ``width``."""
    return [(scaled(c, width), 1) if isinstance(c, int) else (scaled(c[0], width), c[1]) for c in LAYOUT]


def stages(layout: list[tuple[int, int]]) -> list[list[int]]:
    """Block indices grouped by resolution: a stride-2 block starts a new stage."""
    groups: list[list[int]] = []
    for index, (_, stride) in enumerate(layout):
        if stride == 2 or not groups:
            groups.append([])
        groups[-1].append(index)
    return groups


STRIDED = sum(1 for c in LAYOUT if not isinstance(c, int))
# every stride-2 stage halves the side: at least one pixel must reach the last
INPUTS = InputRule(min_side=2**STRIDED, why=f"{STRIDED} stride-2 stages")


class SmallCNN(nn.Module):
    """Units in sequence, global average pool, linear classifier."""

    def __init__(self, units: list[nn.Module], channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(*units)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class FusedBlock(nn.Module):
    """Depthwise 3×3 → pointwise 1×1 → BN → ReLU (nothing between the two convolutions)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.pointwise(self.depthwise(x))))

    @torch.no_grad()
    def fold(self) -> nn.Module:
        weight, bias = fold_bn(self.pointwise.weight, None, self.bn)
        operator = DepthwisePointwise(self.depthwise.weight.clone(), weight, bias, self.depthwise.stride[0])
        return FoldedUnit(operator, copy.deepcopy(self.act))


class FusedSegment(Unit):
    """Consecutive fused blocks stored as one unit: only the last block's output is kept."""

    def __init__(self, blocks_: list[FusedBlock]) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)

    def fold(self) -> nn.Module:
        return FusedSegment([block.fold() for block in self.blocks])


def stem(cfg: MobileNetConfig, spec: InputSpec) -> tuple[list[tuple[int, int]], ConvBNAct, int]:
    """(block layout, stem unit, stem width) shared by the three models."""
    layout = blocks(cfg.width)
    width = scaled(STEM_WIDTH, cfg.width)
    return layout, ConvBNAct(spec.channels, width, 3), width


@register_model("plain_cnn", config=PlainCNNConfig, inputs=INPUTS)
def plain_cnn(cfg: PlainCNNConfig, spec: InputSpec) -> SmallCNN:
    layout, first, c = stem(cfg, spec)
    units: list[nn.Module] = [first]
    for c_out, stride in layout:
        units.append(ConvBNAct(c, c_out, 3, stride))
        c = c_out
    return SmallCNN(units, c, spec.num_classes)


# depthwise convolutions run slower in bf16 autocast than in float32 even on CPUs with AVX-512 BF16 (0.81×)
@register_model("mobilenet", config=MobileNetConfig, inputs=INPUTS, prefers_float32=True)
def mobilenet(cfg: MobileNetConfig, spec: InputSpec) -> SmallCNN:
    layout, first, c = stem(cfg, spec)
    units: list[nn.Module] = [first]
    for c_out, stride in layout:
        units += [ConvBNAct(c, c, 3, stride, groups=c), ConvBNAct(c, c_out, 1)]
        c = c_out
    return SmallCNN(units, c, spec.num_classes)


@register_model("mobilenet_fused", config=MobileNetFusedConfig, inputs=INPUTS, prefers_float32=True)
def mobilenet_fused(cfg: MobileNetFusedConfig, spec: InputSpec) -> SmallCNN:
    layout, first, c = stem(cfg, spec)
    fused = []
    for c_out, stride in layout:
        fused.append(FusedBlock(c, c_out, stride))
        c = c_out
    units: list[nn.Module] = [first]
    for number, stage in enumerate(stages(layout), start=1):
        size = min(cfg.segment, len(stage))
        if len(stage) % size:
            raise ConfigValueError(
                "segment", cfg.segment, f"a divisor of the {len(stage)} blocks of stage {number} (or more than them)"
            )
        units += [FusedSegment([fused[i] for i in stage[j : j + size]]) for j in range(0, len(stage), size)]
    return SmallCNN(units, c, spec.num_classes)
