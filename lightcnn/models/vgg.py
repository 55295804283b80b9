"""VGG-16 with batch norm for CIFAR, as HRank uses it (docs/references.md §9):

13 conv 3×3 (with bias) + BN + ReLU in the VGG-16 layout with four 2×2 max-pools
``[64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512]``, then a 2×2
average pool, linear 512 → 512, BN, ReLU, linear → classes. 14,991,946 parameters on CIFAR-10.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lightcnn.config import ModelConfig
from lightcnn.models.registry import InputRule, InputSpec, register_model

VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


@dataclass
class VGGConfig(ModelConfig):
    name: str = "vgg16"


class VGG(nn.Module):
    def __init__(self, layout: tuple, spec: InputSpec) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = spec.channels
        for item in layout:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, item, 3, padding=1), nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
                c = item
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(c, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Linear(512, spec.num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


@register_model(
    "vgg16", config=VGGConfig, inputs=InputRule(min_side=16, why="four 2×2 max-pools"), prefers_channels_last=True
)
def vgg16(cfg: VGGConfig, spec: InputSpec) -> VGG:
    return VGG(VGG16_LAYOUT, spec)
