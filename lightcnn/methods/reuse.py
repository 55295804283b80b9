"""Computation-reuse census (Iuchi and Tsumura, kernel templates, §5): how often the same
(weight value, input value) pair is multiplied in a convolution.

The multiplications of a convolution of one image are ``weight[f, j] · patch[j, p]`` for every
filter f, every kernel element j (channel × kernel row × kernel column) and every output
position p. Each value is first put in the given precision and identified by its bit pattern:

* ``float32``: the value as stored;
* ``float16``: rounded to half precision (round to nearest even);
* ``fixed8``: signed 8-bit fixed point per tensor, ``q = clamp(round(v / s), −128, 127)`` with
  ``s = max|v| / 127`` over the tensor (the weights and the input image get one scale each;
  ``round`` is half to even).

Everything is vectorised: the pair keys of all multiplications are built as one int64 tensor
and counted with ``torch.unique``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PRECISIONS = ("fixed8", "float16", "float32")
# occurrence buckets of the paper's Tables 2-3, inclusive as printed; the last is "more than 10000"
BUCKETS = ((1, 5), (6, 10), (11, 50), (51, 100), (101, 500), (501, 1000), (1001, 5000), (5001, 10000), (10001, None))


def bucket_name(low: int, high: int | None) -> str:
    return f"{low}-{high}" if high is not None else f">{low - 1}"


def value_keys(values: torch.Tensor, precision: str) -> torch.Tensor:
    """int64 keys, equal exactly when two values are equal in ``precision``."""
    values = values.detach().float().cpu()
    if precision == "float32":
        return values.contiguous().view(torch.int32).long() & 0xFFFFFFFF
    if precision == "float16":
        return values.half().contiguous().view(torch.int16).long() & 0xFFFF
    if precision == "fixed8":
        peak = values.abs().max()
        scale = peak / 127 if peak > 0 else torch.tensor(1.0)
        return torch.clamp(torch.round(values / scale), -128, 127).long() & 0xFF
    raise ValueError(f"precision {precision!r}: one of {', '.join(PRECISIONS)}")


def pair_counts(
    weight: torch.Tensor, image: torch.Tensor, precision: str, stride: int = 1, padding: int = 0
) -> torch.Tensor:
    """Occurrences of each distinct (weight, input) pair in the convolution of ``image``
    ``(C, H, W)`` by ``weight`` ``(F, C, k, k)`` (one entry per distinct pair)."""
    filters, _, k, _ = weight.shape
    patches = F.unfold(image[None].float(), k, padding=padding, stride=stride)[0]  # (C·k·k, positions)
    w_keys = value_keys(weight.reshape(filters, -1), precision)  # (F, C·k·k)
    x_keys = value_keys(patches, precision)  # (C·k·k, positions)
    pairs = (w_keys[:, :, None] << 32) | x_keys[None, :, :]
    return torch.unique(pairs.reshape(-1), return_counts=True)[1]


def histogram(counts: torch.Tensor) -> dict[str, int]:
    """How many distinct pairs occur a number of times within each bucket."""
    return {
        bucket_name(low, high): int(((counts >= low) & (counts <= (high if high is not None else counts.max()))).sum())
        for low, high in BUCKETS
    }


def census(weight: torch.Tensor, image: torch.Tensor, precision: str, stride: int = 1, padding: int = 0) -> dict:
    """Histogram, distinct pairs, multiplications and their ratio for one image."""
    counts = pair_counts(weight, image, precision, stride, padding)
    total = int(counts.sum())
    return {
        "buckets": histogram(counts),
        "distinct": int(counts.numel()),
        "multiplications": total,
        "ratio": counts.numel() / total,
    }


def mean_census(per_image: list[dict]) -> dict:
    """The paper's figures: each number averaged over the images."""
    n = len(per_image)
    return {
        "buckets": {name: sum(c["buckets"][name] for c in per_image) / n for name in per_image[0]["buckets"]},
        "distinct": sum(c["distinct"] for c in per_image) / n,
        "multiplications": per_image[0]["multiplications"],
        "ratio": sum(c["ratio"] for c in per_image) / n,
        "images": n,
    }
