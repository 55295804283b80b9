"""Batch-wise augmentation and normalisation on the device (no per-sample Python).

All functions take a whole batch ``(N, C, H, W)`` and draw their randomness from torch's
global generator on the batch's device, which ``seed_everything`` seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def random_translate(images: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Shift each image by its own random (dy, dx) in [-max_shift, max_shift], filling with 0.

    The same as a random crop of the original size after zero-padding by ``max_shift``.
    """
    if max_shift <= 0:
        return images
    n, _, h, w = images.shape
    padded = F.pad(images, (max_shift, max_shift, max_shift, max_shift))
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n, 1), device=images.device)
    rows = offsets[0] + torch.arange(h, device=images.device)  # (N, H) rows of the padded image
    cols = offsets[1] + torch.arange(w, device=images.device)  # (N, W)
    batch = torch.arange(n, device=images.device)[:, None, None]
    # advanced indexing on dims 0, 2, 3 gives (N, H, W, C)
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def random_hflip(images: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = torch.rand(images.shape[0], device=images.device) < p
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def normalize(
    images: torch.Tensor, mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """uint8 images → float32 ``(x / 255 − mean) / std`` per channel (``mean``/``std`` may be
    tensors of shape ``(1, C, 1, 1)`` already on the device, as the data module caches them)."""
    if not isinstance(mean, torch.Tensor):
        mean = torch.tensor(mean, device=images.device, dtype=torch.float32).view(1, -1, 1, 1)
    if not isinstance(std, torch.Tensor):
        std = torch.tensor(std, device=images.device, dtype=torch.float32).view(1, -1, 1, 1)
    return (images.float() / 255.0 - mean) / std
