"""Learning-rate schedules as pure functions of the epoch."""

from __future__ import annotations

import math

from lightcnn.config import TrainerConfig


def lr_factor(epoch: int, cfg: TrainerConfig) -> float:
    """Multiplier of ``cfg.lr`` during ``epoch`` (0-based).

    Warm-up epochs run at ``warmup_factor``; then ``step`` multiplies by ``gamma`` at each
    milestone reached, ``cosine`` anneals from 1 to 0 over ``max_epochs``, ``constant`` stays 1.
    """
    if epoch < cfg.warmup_epochs:
        return cfg.warmup_factor
    if cfg.schedule == "step":
        return cfg.gamma ** sum(1 for m in cfg.milestones if epoch >= m)
    if cfg.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(epoch, cfg.max_epochs) / cfg.max_epochs))
    return 1.0
