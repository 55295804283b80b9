"""Costs of standard and depthwise-separable convolutions (the MobileNet layer-fusion report, eq. 1–4).

Per output position, with kernel side K, N input and M output channels; multiply by the number
of output positions ``h·w`` for a whole layer. FLOPs count multiply-accumulates.
"""

from __future__ import annotations


def standard_conv_macs(k: int, n: int, m: int, positions: int = 1) -> int:
    """Eq. 1: ``K·K·N·M``."""
    return k * k * n * m * positions


def depthwise_macs(k: int, n: int, positions: int = 1) -> int:
    """Eq. 2: ``K·K·N`` (one K×K filter per channel)."""
    return k * k * n * positions


def pointwise_macs(n: int, m: int, positions: int = 1) -> int:
    """Eq. 3: ``N·M`` (a 1×1 convolution)."""
    return n * m * positions


def separable_macs(k: int, n: int, m: int, positions: int = 1) -> int:
    """Eq. 4: ``K·K·N + N·M``."""
    return depthwise_macs(k, n, positions) + pointwise_macs(n, m, positions)


def separable_ratio(k: int, m: int) -> float:
    """Eq. 4 / eq. 1 = ``1/M + 1/K²``: about 1/8–1/9 for K = 3 and a few hundred channels."""
    return 1 / m + 1 / k**2
