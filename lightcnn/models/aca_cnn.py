"""The 6-conv CNN of the ACA-im2col paper (the ACA-im2col report, §4):

    {conv → conv → dropout → pool} × 3 → {fc → dropout} × 2 → classifier

The paper gives only this outline. Our choices: 3×3 convolutions with padding 1 (so the first
layer's im2col matrix of a CIFAR image is 27 × 1024 — 11,059,200 bytes for 100 float32 images, as
the paper's Table 4.1), 32/32, 64/64, 128/128 channels, ReLU after every conv and fc, no BN,
dropout 0.25 after each conv pair and 0.5 after each fc, max-pool 2, fc widths 512 and 256.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lightcnn.config import ModelConfig, option, require
from lightcnn.models.registry import InputRule, InputSpec, register_model


@dataclass
class ACACNNConfig(ModelConfig):
    name: str = "aca_cnn"
    widths: list[int] = option(factory=lambda: [32, 64, 128], help="channels of the three conv pairs")
    fc: list[int] = option(factory=lambda: [512, 256], help="units of the hidden fully connected layers")
    conv_dropout: float = option(0.25, "dropout after each conv pair")
    fc_dropout: float = option(0.5, "dropout after each hidden fully connected layer")

    def __post_init__(self) -> None:
        require(
            len(self.widths) == 3 and all(w >= 1 for w in self.widths),
            "widths",
            list(self.widths),
            "three channel counts >= 1",
        )
        require(len(self.fc) == 2 and all(w >= 1 for w in self.fc), "fc", list(self.fc), "two widths >= 1")
        for key in ("conv_dropout", "fc_dropout"):
            require(0 <= getattr(self, key) < 1, key, getattr(self, key), "a probability in [0, 1)")


class ACACNN(nn.Module):
    def __init__(self, cfg: ACACNNConfig, spec: InputSpec) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = spec.channels
        for width in cfg.widths:
            layers += [
                nn.Conv2d(c, width, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
                nn.Dropout(cfg.conv_dropout), nn.MaxPool2d(2),
            ]  # fmt: skip
            c = width
        self.features = nn.Sequential(*layers)
        flat = c * (spec.height // 8) * (spec.width // 8)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, cfg.fc[0]), nn.ReLU(inplace=True), nn.Dropout(cfg.fc_dropout),
            nn.Linear(cfg.fc[0], cfg.fc[1]), nn.ReLU(inplace=True), nn.Dropout(cfg.fc_dropout),
            nn.Linear(cfg.fc[1], spec.num_classes),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model("aca_cnn", config=ACACNNConfig, inputs=InputRule(min_side=8, why="three 2×2 max-pools"))
def aca_cnn(cfg: ACACNNConfig, spec: InputSpec) -> ACACNN:
    return ACACNN(cfg, spec)
