"""The 25 binary HLAC 3×3 masks (Otsu & Kurita 1988) in the conventional order.

Order 0 (1 mask), order 1 (4) and order 2 (20): every mask holds the centre pixel and up to two
more, one representative per class of masks equal under translation
(docs/references.md §1; the order of NaoyaIijima/hlac and panda5mt/hlac_mat).
"""

from __future__ import annotations

import torch

HLAC_MASKS = (
    "000010000",
    "000011000", "001010000", "010010000", "100010000",
    "000111000", "001010100", "010010010", "100010001", "001110000",
    "010010100", "100010010", "000110001", "000011100", "001010010",
    "010010001", "100011000", "010110000", "100010100", "000110010",
    "000010101", "000011010", "001010001", "010011000", "101010000",
)  # fmt: skip


def hlac_masks() -> torch.Tensor:
    """``(25, 3, 3)`` tensor of 0/1 masks, row-major as the strings above."""
    return torch.tensor([[int(ch) for ch in mask] for mask in HLAC_MASKS], dtype=torch.float32).view(25, 3, 3)


def mask_order(mask: torch.Tensor) -> int:
    """Order of a mask: its number of pixels minus one."""
    return int(mask.sum().item()) - 1


def translation_class(mask: torch.Tensor) -> frozenset[tuple[int, int]]:
    """The mask's pixel offsets shifted so that the smallest is (0, 0): equal for translates."""
    cells = [(int(r), int(c)) for r, c in mask.nonzero().tolist()]
    r0, c0 = min(r for r, _ in cells), min(c for _, c in cells)
    return frozenset((r - r0, c - c0) for r, c in cells)
