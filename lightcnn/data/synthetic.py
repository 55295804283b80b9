"""A small generated data set that a CNN learns in a few steps (for tests and smoke runs).

Each class has one smooth random prototype image (a 4×4 random pattern upsampled to the image
size); a sample is its class prototype plus Gaussian pixel noise, stored as uint8 like the real
data sets. The generator seed is fixed, so every run sees the same data; the run's own seed
only changes initialisation and batch order.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

DATA_SEED = 1234


def make_synthetic(
    num_train: int, num_test: int, channels: int, image_size: int, num_classes: int, noise: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_x, train_y, test_x, test_y)``: uint8 images ``(N, C, S, S)`` and int64 labels."""
    gen = torch.Generator().manual_seed(DATA_SEED)
    coarse = torch.rand(num_classes, channels, 4, 4, generator=gen)
    prototypes = F.interpolate(coarse, size=(image_size, image_size), mode="bilinear", align_corners=False)

    def sample(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = torch.arange(count) % num_classes
        labels = labels[torch.randperm(count, generator=gen)]
        images = prototypes[labels] + noise * torch.randn(count, channels, image_size, image_size, generator=gen)
        images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
        return images.numpy(), labels.numpy().astype(np.int64)

    train_x, train_y = sample(num_train)
    test_x, test_y = sample(num_test)
    return train_x, train_y, test_x, test_y
