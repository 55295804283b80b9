"""A model and a method added as a contributor adds them: this module alone (it could be
``lightcnn/models/toy_net.py`` and ``lightcnn/methods/toy_scale.py``, each imported with its
package; a YAML file per option is optional). Imported by tests/test_adding.py, which takes
them out of the registries again when it is done."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import torch
from torch import nn

from lightcnn.config import MethodConfig, ModelConfig, option
from lightcnn.methods.registry import MethodContext, register_method
from lightcnn.models.registry import InputRule, InputSpec, register_model


@dataclass
class ToyNetConfig(ModelConfig):
    name: str = "toy_net"
    width: int = option(4, "channels of its one convolution")


@register_model("toy_net", config=ToyNetConfig, inputs=InputRule(min_side=30, why="a test's rule"))
def toy_net(cfg: ToyNetConfig, spec: InputSpec) -> nn.Module:
    """A 3×3 conv, global average pooling and a linear classifier (a test's model)."""
    return nn.Sequential(
        nn.Conv2d(spec.channels, cfg.width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(cfg.width, spec.num_classes),
    )  # fmt: skip


class ToyScaleFields(TypedDict, total=False):
    toy_scaled_convs: int  # convolutions whose weights the toy method scaled


@dataclass
class ToyScaleConfig(MethodConfig):
    name: str = "toy_scale"
    factor: float = option(0.5, "multiplies every convolution's weights")


@register_method("toy_scale", config=ToyScaleConfig, record_fields=ToyScaleFields, smoke=("method.factor=0.25",))
def toy_scale(model: nn.Module, cfg: ToyScaleConfig, context: MethodContext) -> nn.Module:
    """Scales every convolution's weights by method.factor (a test's method)."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        for conv in convs:
            conv.weight.mul_(cfg.factor)
    context.fields["toy_scaled_convs"] = len(convs)
    return model
