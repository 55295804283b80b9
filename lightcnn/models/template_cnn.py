"""The small CNN of the kernel-template paper (Iuchi and Tsumura, kernel templates, Figs. 5 and 6).

The figures are missing from the text; what it fixes is the first layer: 32 filters of 3×3 over
the input channels, no padding (CIFAR-10: 3 × 32×32 → 32 × 30×30; MNIST: 1 × 28×28 → 32 × 26×26),
so its convolution performs 32 · C · 30·30 · 9 multiplications (777,600 for CIFAR-10) and holds
864 weights (288 for MNIST). The rest is our choice, a Chainer-era small CNN:

    conv 3×3/32, no padding, no bias → BN → ReLU
    conv 3×3/64, pad 1 → BN → ReLU → max-pool 2
    conv 3×3/128, pad 1 → BN → ReLU → max-pool 2
    linear → 256 → ReLU → dropout 0.5 → linear → classes

(CIFAR-10: 1,701,930 parameters; MNIST: 1,275,370.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lightcnn.config import ModelConfig, option, require
from lightcnn.models.registry import InputRule, InputSpec, register_model


@dataclass
class TemplateCNNConfig(ModelConfig):
    name: str = "template_cnn"
    first_filters: int = option(32, "filters of the first 3x3 conv (the templates replace some of them)")
    hidden: int = option(256, "units of the hidden fully connected layer")
    dropout: float = option(0.5, "dropout before the classifier")

    def __post_init__(self) -> None:
        require(self.first_filters >= 1, "first_filters", self.first_filters, "an integer >= 1")
        require(self.hidden >= 1, "hidden", self.hidden, "an integer >= 1")
        require(0 <= self.dropout < 1, "dropout", self.dropout, "a probability in [0, 1)")


def conv_bn_relu(c_in: int, c_out: int, padding: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=padding, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class TemplateCNN(nn.Module):
    def __init__(self, cfg: TemplateCNNConfig, spec: InputSpec) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(spec.channels, cfg.first_filters, padding=0),
            *conv_bn_relu(cfg.first_filters, 64, padding=1),
            nn.MaxPool2d(2),
            *conv_bn_relu(64, 128, padding=1),
            nn.MaxPool2d(2),
        )
        side_h, side_w = (spec.height - 2) // 4, (spec.width - 2) // 4
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * side_h * side_w, cfg.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, spec.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model(
    "template_cnn", config=TemplateCNNConfig, prefers_channels_last=True,
    inputs=InputRule(min_side=6, why="an unpadded 3×3 conv and two 2×2 poolings"),
)  # fmt: skip
def template_cnn(cfg: TemplateCNNConfig, spec: InputSpec) -> TemplateCNN:
    return TemplateCNN(cfg, spec)
