"""ResNet-18 and ResNet-34 for CIFAR (kuangliu/pytorch-cifar layout, used by the pruning report):

conv 3×3/64 (stride 1) + BN + ReLU, four stages of basic blocks (64, 128, 256, 512 channels;
2-2-2-2 or 3-4-6-3 blocks; stride 2 at the start of stages 2–4) with projection shortcuts
(1×1 conv + BN) where the shape changes, global average pool, linear. ResNet-18 on CIFAR-10:
11,173,962 parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lightcnn.config import ModelConfig
from lightcnn.models.registry import InputSpec, register_model

BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}
WIDTHS = (64, 128, 256, 512)


@dataclass
class WideResNetConfig(ModelConfig):
    name: str = "resnet18"


class ProjectedBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu2 = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarWideResNet(nn.Module):
    prefers_channels_last = True

    def __init__(self, blocks: tuple[int, ...], spec: InputSpec) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(spec.channels, WIDTHS[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(WIDTHS[0])
        self.relu = nn.ReLU(inplace=True)
        stages, c = [], WIDTHS[0]
        for index, (count, width) in enumerate(zip(blocks, WIDTHS, strict=True)):
            layer = []
            for block in range(count):
                layer.append(ProjectedBlock(c, width, 2 if index > 0 and block == 0 else 1))
                c = width
            stages.append(nn.Sequential(*layer))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


@register_model("resnet18", config=WideResNetConfig)
def resnet18(cfg: WideResNetConfig, spec: InputSpec) -> CifarWideResNet:
    return CifarWideResNet(BLOCKS["resnet18"], spec)


@dataclass
class ResNet34Config(ModelConfig):
    name: str = "resnet34"


@register_model("resnet34", config=ResNet34Config)
def resnet34(cfg: ResNet34Config, spec: InputSpec) -> CifarWideResNet:
    return CifarWideResNet(BLOCKS["resnet34"], spec)
