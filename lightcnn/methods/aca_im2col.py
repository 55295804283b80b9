"""``method=aca_im2col``: compute the marked convolutions from ACA-approximated im2col matrices.

``method.layers`` has one character per convolution of the model, in order, ``1`` =
approximated (``100000``: only the first of six); ``method.eps`` is ACA's relative Frobenius
tolerance (0.1 in the paper), ``method.max_rank`` an optional cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from lightcnn.config import MethodConfig, require
from lightcnn.errors import ConfigValueError
from lightcnn.methods.aca import STOP_RULES, ACAConv2d
from lightcnn.methods.registry import MethodContext, register_method


@dataclass
class ACAIm2colConfig(MethodConfig):
    name: str = "aca_im2col"
    layers: str = "100000"
    eps: float = 0.1
    max_rank: int | None = None
    stop: str = "exact"  # exact: error <= eps guaranteed; estimate: textbook ACA criterion only

    def __post_init__(self) -> None:
        self.layers = str(self.layers)
        require(
            len(self.layers) > 0 and set(self.layers) <= {"0", "1"},
            "layers",
            self.layers,
            "one character 0 or 1 per convolution (1 = approximated), e.g. 100000",
        )
        require(self.eps > 0, "eps", self.eps, "a number > 0")
        require(self.max_rank is None or self.max_rank >= 1, "max_rank", self.max_rank, "null or an integer >= 1")
        require(self.stop in STOP_RULES, "stop", self.stop, "one of " + ", ".join(STOP_RULES))


def convolutions(model: nn.Module) -> list[tuple[nn.Module, str, nn.Conv2d]]:
    """(parent, attribute, conv) of every ``nn.Conv2d`` in module order."""
    found = []
    for _, parent in model.named_modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                found.append((parent, name, child))
    return found


@register_method("aca_im2col", config=ACAIm2colConfig)
def apply_aca(model: nn.Module, cfg: ACAIm2colConfig, context: MethodContext) -> nn.Module:
    convs = convolutions(model)
    if len(cfg.layers) != len(convs):
        if len(cfg.layers) < len(convs):  # YAML read a mask with leading zeros as a number
            padded = cfg.layers.zfill(len(convs))
            hint = f"quote a mask with leading zeros on the command line: method.layers=\"'{padded}'\""
        else:
            hint = f"e.g. the first conv only: method.layers=\"'{'1'.ljust(len(convs), '0')}'\""
        raise ConfigValueError(
            "layers", cfg.layers, f"exactly {len(convs)} characters, one per convolution of this model ({hint})"
        )
    for flag, (parent, name, conv) in zip(cfg.layers, convs, strict=True):
        if flag == "1":
            if conv.groups != 1:
                raise ConfigValueError("layers", cfg.layers, "1 only for ungrouped convolutions")
            setattr(
                parent,
                name,
                ACAConv2d.from_conv(conv, approximate=True, eps=cfg.eps, max_rank=cfg.max_rank, stop=cfg.stop),
            )
    return model
