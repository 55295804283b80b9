"""Costs of OctConv and Pointwise OctConv (Inoue and Goto, Pointwise OctConv, eq. 3–14).

``h × w`` is the output size of the high-frequency branch, ``c`` the channels in and out
(``c_in = c_out = c``), ``α`` the low-frequency share in and out, ``k`` the kernel side and
``β`` the channel compression of the pointwise bottleneck. FLOPs count multiply-accumulates.
"""

from __future__ import annotations

PATHS = ("hh", "hl", "lh", "ll")


def oct_path_flops(h: int, w: int, k: int, c: int, alpha: float) -> dict[str, float]:
    """Eq. 3–6: the multiply-accumulates of each of the four paths."""
    a = alpha
    return {
        "hh": h * w * k**2 * (1 - a) ** 2 * c**2,  # eq. 3
        "hl": (h / 2) * (w / 2) * k**2 * a * (1 - a) * c**2,  # eq. 4
        "lh": (h / 2) * (w / 2) * k**2 * (1 - a) * a * c**2,  # eq. 5
        "ll": (h / 2) * (w / 2) * k**2 * a**2 * c**2,  # eq. 6
    }


def oct_flops(h: int, w: int, k: int, c: int, alpha: float) -> float:
    """Eq. 7: ``(1 − ¾α(2 − α)) · h · w · k² · c²``."""
    return (1 - 0.75 * alpha * (2 - alpha)) * h * w * k**2 * c**2


def oct_params(k: int, c: int, alpha: float) -> float:
    """Eq. 8: the four paths together hold ``k² c²`` weights, as a plain convolution."""
    a = alpha
    return k**2 * ((1 - a) ** 2 + a * (1 - a) + (1 - a) * a + a**2) * c**2


def bottleneck_flops(h: int, w: int, k: int, c: int, f: int, beta: float) -> float:
    """Eq. 9: 1×1 (c → f/β), k×k (f/β → f/β), 1×1 (f/β → f) on an ``h × w`` map."""
    return h * w * f / beta**2 * (k**2 * f + beta * (c + f))


def bottleneck_params(k: int, c: int, f: int, beta: float) -> float:
    """Eq. 14: ``c·f/β + k²(f/β)² + (f/β)·f``."""
    return f / beta**2 * (k**2 * f + beta * (c + f))


def pointwise_path_flops(h: int, w: int, k: int, c: int, alpha: float, beta: float) -> dict[str, float]:
    """Eq. 10–13: each path's k×k conv inside a bottleneck whose middle width is the path's
    output channels / β (H→L pools first, L→H upsamples after)."""
    a, b = alpha, beta
    return {
        "hh": (1 - a) ** 2 / b**2 * h * w * c**2 * (k**2 + 2 * b),  # eq. 10
        "hl": a / (4 * b**2) * h * w * c**2 * (a * k**2 + b),  # eq. 11
        "lh": (1 - a) / (4 * b**2) * h * w * c**2 * ((1 - a) * k**2 + b),  # eq. 12
        "ll": a**2 / (4 * b**2) * h * w * c**2 * (k**2 + 2 * b),  # eq. 13
    }


def pointwise_path_params(k: int, c: int, alpha: float, beta: float) -> dict[str, float]:
    """Eq. 14 applied to each path: input and output widths of the path, middle = output / β."""
    high, low = (1 - alpha) * c, alpha * c
    widths = {"hh": (high, high), "hl": (high, low), "lh": (low, high), "ll": (low, low)}
    return {path: bottleneck_params(k, c_in, c_out, beta) for path, (c_in, c_out) in widths.items()}
