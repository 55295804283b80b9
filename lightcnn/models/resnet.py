"""The CIFAR ResNet family: one network of basic blocks, parameterised by stage widths, blocks
per stage and shortcut kind.

* ``model=resnet`` — He et al. (2016, §4.2): conv3×3(16) → 3 stages of n blocks (16/32/64
  channels) → global average pool → linear; depth = 6n + 2. Option-A shortcuts: where a block
  changes shape, the shortcut subsamples by the stride and zero-pads the new channels (no
  parameters). Kaiming-normal init. Counts (32×32 input): ResNet-56 853,018 params and
  125,485,696 conv + linear multiply-accumulates; ResNet-110 1,727,962 and 252,887,680.
* ``model=resnet18`` / ``resnet34`` — ResNet-18/34 in the CIFAR layout of kuangliu/pytorch-cifar
  (used by the pruning report): conv3×3/64 stride 1, four stages of 2-2-2-2 or 3-4-6-3 blocks
  (64/128/256/512 channels), projection shortcuts (1×1 conv + BN) where the shape changes,
  PyTorch's default init. ResNet-18 on CIFAR-10: 11,173,962 params.

In both, stages 2 onwards start with stride 2. Module names (``conv1``, ``layerK.J.conv1``,
``.shortcut``…) are those of the reference implementations, so their checkpoints load.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lightcnn.config import ModelConfig, option, require_choice
from lightcnn.models.registry import InputSpec, register_model

RESNET_DEPTHS = (20, 32, 44, 56, 110)
STAGE_WIDTHS = (16, 32, 64)  # He et al.'s CIFAR ResNets
IMAGENET_STYLE_WIDTHS = (64, 128, 256, 512)  # ResNet-18/34 in the CIFAR layout


@dataclass
class ResNetConfig(ModelConfig):
    name: str = "resnet"
    depth: int = option(56, "layers: 6n+2 with n blocks per stage (He et al.'s CIFAR ResNets: 20, 32, 44, 56, 110)")

    def __post_init__(self) -> None:
        require_choice("depth", self.depth, RESNET_DEPTHS)


class ZeroPadShortcut(nn.Module):
    """Option-A shortcut: take every ``stride``-th pixel, zero-pad channels to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - self.in_channels
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class BasicBlock(nn.Module):
    """conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, → ReLU. ``shortcut``: ``zero_pad``
    (option A) or ``projection`` (1×1 conv + BN) where the block changes shape; identity elsewhere."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str = "zero_pad") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU(inplace=True)
        reshapes = stride != 1 or in_channels != out_channels
        if shortcut == "projection":
            self.shortcut: nn.Module = nn.Sequential(
                *([nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)]
                  if reshapes else [])
            )  # fmt: skip
        else:
            self.shortcut = ZeroPadShortcut(in_channels, out_channels, stride) if reshapes else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """Stem conv3×3 → BN → ReLU, stages ``layer1…`` of :class:`BasicBlock` (``blocks[i]`` blocks
    of ``widths[i]`` channels), global average pool, linear."""

    def __init__(self, widths: tuple[int, ...], blocks: tuple[int, ...], spec: InputSpec, shortcut: str,
                 kaiming_init: bool) -> None:  # fmt: skip
        super().__init__()
        self.conv1 = nn.Conv2d(spec.channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        width = widths[0]
        self.stages = len(widths)
        for index, (count, out_width) in enumerate(zip(blocks, widths, strict=True)):
            stage = []
            for block in range(count):
                stage.append(BasicBlock(width, out_width, 2 if index > 0 and block == 0 else 1, shortcut))
                width = out_width
            self.add_module(f"layer{index + 1}", nn.Sequential(*stage))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, spec.num_classes)
        if kaiming_init:
            init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        for index in range(1, self.stages + 1):
            x = getattr(self, f"layer{index}")(x)
        return self.fc(torch.flatten(self.pool(x), 1))


def identity_conv(channels: int) -> nn.Sequential:
    """1×1 conv + BN that computes the identity (in eval mode): weight I, BN γ=1, β=0, μ=0,
    σ² = 1 − ε, so that √(σ² + ε) = 1."""
    conv, bn = nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(channels).view(channels, channels, 1, 1))
        bn.running_var.fill_(1.0 - bn.eps)
    return nn.Sequential(conv, bn)


def add_skip_convs(model: nn.Module) -> int:
    """Put :func:`identity_conv` on every identity shortcut of the model's basic blocks (the
    pruning report's step for recognisers with skip connections); returns how many. The model's
    function is unchanged at insertion; training then moves them."""
    added = 0
    for block in model.modules():
        if isinstance(block, BasicBlock) and is_identity(block.shortcut):
            block.shortcut = identity_conv(block.conv2.out_channels).to(block.conv2.weight)
            added += 1
    return added


def is_identity(module: nn.Module) -> bool:
    return isinstance(module, nn.Identity) or (isinstance(module, nn.Sequential) and len(module) == 0)


def init_weights(model: nn.Module) -> None:
    """Kaiming-normal convs and linears, as the reference CIFAR ResNet code does."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight)


# NHWC: +24% training throughput on a 2-core CPU (make bench)
@register_model("resnet", config=ResNetConfig, prefers_channels_last=True)
def resnet(cfg: ResNetConfig, spec: InputSpec) -> CifarResNet:
    blocks = (cfg.depth - 2) // 6
    return CifarResNet(STAGE_WIDTHS, (blocks,) * 3, spec, "zero_pad", kaiming_init=True)


@dataclass
class ResNet18Config(ModelConfig):
    name: str = "resnet18"


@dataclass
class ResNet34Config(ModelConfig):
    name: str = "resnet34"


@register_model("resnet18", config=ResNet18Config, prefers_channels_last=True, slow=True)
def resnet18(cfg: ResNet18Config, spec: InputSpec) -> CifarResNet:
    return CifarResNet(IMAGENET_STYLE_WIDTHS, (2, 2, 2, 2), spec, "projection", kaiming_init=False)


@register_model("resnet34", config=ResNet34Config, prefers_channels_last=True, slow=True)
def resnet34(cfg: ResNet34Config, spec: InputSpec) -> CifarResNet:
    return CifarResNet(IMAGENET_STYLE_WIDTHS, (3, 4, 6, 3), spec, "projection", kaiming_init=False)
