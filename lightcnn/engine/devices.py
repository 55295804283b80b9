"""Device helpers that need no Lightning (latency timing, the benchmark)."""

from __future__ import annotations

import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
