"""Loading trained weights from lightcnn (Lightning) checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def load_weights(model: nn.Module, path: Path) -> None:
    """The network weights of a lightcnn checkpoint, whose state-dict keys start with ``net.``."""
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    model.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")})
