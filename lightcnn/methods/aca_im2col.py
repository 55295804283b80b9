"""``method=aca_im2col``: compute the marked convolutions from ACA-approximated im2col matrices.

``method.layers`` says which convolutions (in module order) compute from the approximation:
``first`` (the default: the first conv of any model), a list of conv indices (``'[0,2,4]'``, quoted), or
the paper's mask, one character per convolution, ``1`` = approximated (``100000``: the first of
six; quote a mask with leading zeros). ``method.eps`` is ACA's relative Frobenius tolerance (0.1
in the paper), ``method.max_rank`` an optional cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from lightcnn.config import MethodConfig, option, require, require_choice
from lightcnn.errors import ConfigValueError
from lightcnn.methods.aca import STOP_RULES, ACAConv2d
from lightcnn.methods.registry import MethodContext, register_method


@dataclass
class ACAIm2colConfig(MethodConfig):
    name: str = "aca_im2col"
    layers: str = option(
        "first", "first | conv indices, quoted: \"method.layers='[0,2,4]'\" | a 0/1 mask per conv: 100000"
    )
    eps: float = option(0.1, "tolerance: relative Frobenius error of the approximation")
    max_rank: int | None = option(None, "cap on the rank (pivots); null = as many as eps needs")
    stop: str = option("exact", "exact: error <= eps guaranteed; estimate: textbook ACA criterion only")

    def __post_init__(self) -> None:
        self.layers = str(self.layers)
        if self.layers.startswith("["):
            indices = conv_indices(self.layers)
            require(indices is not None, "layers", self.layers,
                    "a non-empty list of conv indices (0 = the first conv), e.g. '[0,2,4]'")  # fmt: skip
            return
        require(
            self.layers == "first" or (len(self.layers) > 0 and set(self.layers) <= {"0", "1"}),
            "layers",
            self.layers,
            "first, a list of conv indices (e.g. [0,2,4]), or one character 0 or 1 per convolution (e.g. 100000)",
        )
        require(self.eps > 0, "eps", self.eps, "a number > 0")
        require(self.max_rank is None or self.max_rank >= 1, "max_rank", self.max_rank, "null or an integer >= 1")
        require_choice("stop", self.stop, STOP_RULES)


def conv_indices(text: str) -> list[int] | None:
    """``'[0,2,4]'`` → ``[0, 2, 4]`` (sorted, distinct); None when it is not such a list."""
    import yaml

    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(values, list) or not values or not all(type(v) is int and v >= 0 for v in values):
        return None
    return sorted(set(values))


def convolutions(model: nn.Module) -> list[tuple[nn.Module, str, nn.Conv2d]]:
    """(parent, attribute, conv) of every ``nn.Conv2d`` in module order."""
    found = []
    for _, parent in model.named_modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                found.append((parent, name, child))
    return found


def first_conv_only(model: nn.Module) -> dict:
    """The default layer mask names one flag per conv of aca_cnn (six); on another model the
    composability matrix compresses its first conv."""
    return {"layers": "1".ljust(len(convolutions(model)), "0")}


@register_method("aca_im2col", config=ACAIm2colConfig, fit_to_model=first_conv_only)
def apply_aca(model: nn.Module, cfg: ACAIm2colConfig, context: MethodContext) -> nn.Module:
    convs = convolutions(model)
    marked = chosen_convs(cfg.layers, len(convs))
    for index in marked:
        parent, name, conv = convs[index]
        if conv.groups != 1:
            raise ConfigValueError("layers", cfg.layers, f"ungrouped convolutions only (conv {index} is grouped)")
        setattr(parent, name, ACAConv2d.from_conv(conv, approximate=True, eps=cfg.eps, max_rank=cfg.max_rank,
                                                  stop=cfg.stop))  # fmt: skip
    return model


def chosen_convs(layers: str, count: int) -> list[int]:
    """The indices ``method.layers`` marks among a model's ``count`` convolutions."""
    if layers == "first":
        return [0]
    if layers.startswith("["):
        indices = conv_indices(layers) or []
        if max(indices) >= count:
            raise ConfigValueError("layers", layers, f"indices below {count}, the number of convolutions of this model")
        return indices
    if len(layers) != count:
        if len(layers) < count:  # YAML read a mask with leading zeros as a number
            hint = f"quote a mask with leading zeros on the command line: method.layers=\"'{layers.zfill(count)}'\""
        else:
            hint = "or method.layers=first, or a list of conv indices"
        raise ConfigValueError(
            "layers", layers, f"exactly {count} characters, one per convolution of this model ({hint})"
        )
    return [i for i, flag in enumerate(layers) if flag == "1"]
