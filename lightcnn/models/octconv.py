"""Octave convolution (Chen et al. 2019) and Pointwise OctConv (Inoue and Goto; docs/pointwise-octconv.md).

A feature map is a pair ``(high, low)``: ``high`` at full resolution with ``c − low`` channels,
``low`` at half resolution with ``split_channels(c, α)[1]`` channels; either may be ``None``
(α = 0: no low part). Four paths map it to the output pair:

    Y_H = f(X_H; W_HH) + upsample(f(X_L; W_LH), 2)        (nearest)
    Y_L = f(X_L; W_LL) + f(avgpool(X_H, 2); W_HL)

Stride 2 is done by pooling (no strided convolution): X_H and X_L are average-pooled first, and
L→H reads the un-pooled X_L at what is now the high resolution, without upsampling.

**Channel rule**, used everywhere: ``low = ⌊α·c⌋``, ``high = c − low`` (as the official code).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lightcnn.errors import ConfigValueError

PATHS = ("hh", "hl", "lh", "ll")
Oct = tuple[torch.Tensor | None, torch.Tensor | None]


def split_channels(channels: int, alpha: float) -> tuple[int, int]:
    """``(high, low)`` channels: ``low = ⌊α·c⌋`` (with a 1e-9 guard against float error)."""
    low = math.floor(alpha * channels + 1e-9)
    return channels - low, low


def as_oct(x: torch.Tensor | Oct) -> Oct:
    return x if isinstance(x, tuple) else (x, None)


def pool2(x: torch.Tensor | None) -> torch.Tensor | None:
    return None if x is None else F.avg_pool2d(x, 2)


def add(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    return b if a is None else a if b is None else a + b


def conv(c_in: int, c_out: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)


class OctConv2d(nn.Module):
    """Octave convolution with the paths ``paths`` ⊆ {hh, hl, lh, ll} (a path with no input or
    no output channels is not built)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        alpha_in: float,
        alpha_out: float,
        stride: int = 1,
        paths: Sequence[str] = PATHS,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"OctConv2d supports stride 1 or 2, not {stride}")
        self.in_split = split_channels(in_channels, alpha_in)
        self.out_split = split_channels(out_channels, alpha_out)
        self.kernel_size, self.stride = kernel_size, stride
        widths = {
            "hh": (self.in_split[0], self.out_split[0]),
            "hl": (self.in_split[0], self.out_split[1]),
            "lh": (self.in_split[1], self.out_split[0]),
            "ll": (self.in_split[1], self.out_split[1]),
        }
        self.paths = nn.ModuleDict(
            {p: self.path_conv(p, *widths[p]) for p in PATHS if p in paths and widths[p][0] and widths[p][1]}
        )

    def path_conv(self, path: str, c_in: int, c_out: int) -> nn.Module:
        """The module of one path (a plain k×k convolution here)."""
        return conv(c_in, c_out, self.kernel_size)

    def forward(self, x: torch.Tensor | Oct) -> Oct:
        x_h, x_l = as_oct(x)
        x_l_same = x_l  # L→H input: the low map at the output's high resolution when stride 2
        if self.stride == 2:
            x_h, x_l = pool2(x_h), pool2(x_l)
        y_h = y_l = None  # a path whose input branch is absent contributes nothing
        if "hh" in self.paths and x_h is not None:
            y_h = self.paths["hh"](x_h)
        if "lh" in self.paths and x_l is not None:
            if self.stride == 2:
                y_h = add(y_h, self.paths["lh"](x_l_same))
            else:
                y_h = add(y_h, F.interpolate(self.paths["lh"](x_l), scale_factor=2, mode="nearest"))
        if "ll" in self.paths and x_l is not None:
            y_l = self.paths["ll"](x_l)
        if "hl" in self.paths and x_h is not None:
            y_l = add(y_l, self.paths["hl"](pool2(x_h)))
        return y_h, y_l

    def extra_repr(self) -> str:
        return f"in={self.in_split}, out={self.out_split}, k={self.kernel_size}, stride={self.stride}"


def bottleneck(c_in: int, c_out: int, k: int, beta: int) -> nn.Sequential:
    """1×1 (c_in → c_out/β), k×k (c_out/β → c_out/β), 1×1 (c_out/β → c_out); no BN or ReLU
    inside, so the costs are exactly those of eq. 9 and 14."""
    middle = c_out // beta
    return nn.Sequential(conv(c_in, middle, 1), conv(middle, middle, k), conv(middle, c_out, 1))


def check_beta(beta: int, path: str, c_out: int) -> None:
    if not isinstance(beta, int) or beta < 1 or beta > c_out:
        raise ConfigValueError(
            "beta", beta, f"a positive integer at most the {c_out} output channels of path {path} in this layer"
        )


class PointwiseOctConv2d(OctConv2d):
    """OctConv whose ``pointwise`` paths put their k×k conv inside a bottleneck (``per_path``
    reading: middle width = that path's output channels / β, ⌊·⌋)."""

    def __init__(self, *args, pointwise: Sequence[str] = PATHS, beta: int = 2, **kwargs) -> None:
        self.pointwise, self.beta = tuple(pointwise), beta
        super().__init__(*args, **kwargs)

    def path_conv(self, path: str, c_in: int, c_out: int) -> nn.Module:
        if path not in self.pointwise:
            return super().path_conv(path, c_in, c_out)
        check_beta(self.beta, path, c_out)
        return bottleneck(c_in, c_out, self.kernel_size, self.beta)


class SharedPointwiseOctConv2d(nn.Module):
    """The ``shared`` reading: one bottleneck around the whole OctConv — 1×1 OctConv
    (c_in → c_out/β), k×k OctConv on the ``pointwise`` paths (c_out/β → c_out/β), 1×1 OctConv
    (c_out/β → c_out) — plus, in parallel, full-width k×k convs for the other paths. With all
    four paths its weights are those of a plain bottleneck c → c/β → c (eq. 14 with f = c)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        alpha_in: float,
        alpha_out: float,
        stride: int = 1,
        pointwise: Sequence[str] = PATHS,
        beta: int = 2,
    ) -> None:
        super().__init__()
        check_beta(beta, "+".join(pointwise), out_channels)
        middle = out_channels // beta
        # the middle feature maps carry only the branches the chosen paths read and write
        chosen = set(pointwise)
        a_read = _branch_alpha(alpha_in, high=bool({"hh", "hl"} & chosen), low=bool({"lh", "ll"} & chosen))
        a_write = _branch_alpha(alpha_out, high=bool({"hh", "lh"} & chosen), low=bool({"hl", "ll"} & chosen))
        self.reduce = OctConv2d(in_channels, middle, 1, alpha_in, a_read)
        self.conv = OctConv2d(middle, middle, kernel_size, a_read, a_write, stride, paths=pointwise)
        self.expand = OctConv2d(middle, out_channels, 1, a_write, alpha_out)
        others = [p for p in PATHS if p not in pointwise]
        self.rest = (
            OctConv2d(in_channels, out_channels, kernel_size, alpha_in, alpha_out, stride, others) if others else None
        )

    def forward(self, x: torch.Tensor | Oct) -> Oct:
        y_h, y_l = self.expand(self.conv(self.reduce(x)))
        if self.rest is not None:
            r_h, r_l = self.rest(x)
            y_h, y_l = add(y_h, r_h), add(y_l, r_l)
        return y_h, y_l


def _branch_alpha(alpha: float, high: bool, low: bool) -> float:
    """The α of a middle map that needs only its high branch (0), only its low one (1), or both."""
    if high and low:
        return alpha
    return 0.0 if high else 1.0


class OctBatchNorm(nn.Module):
    """Batch norm per frequency branch."""

    def __init__(self, channels: int, alpha: float) -> None:
        super().__init__()
        high, low = split_channels(channels, alpha)
        self.bn_h = nn.BatchNorm2d(high) if high else None
        self.bn_l = nn.BatchNorm2d(low) if low else None

    def forward(self, x: Oct) -> Oct:
        x_h, x_l = x
        return (self.bn_h(x_h) if self.bn_h is not None else x_h, self.bn_l(x_l) if self.bn_l is not None else x_l)


def oct_relu(x: Oct) -> Oct:
    return tuple(None if t is None else F.relu(t) for t in x)  # type: ignore[return-value]
