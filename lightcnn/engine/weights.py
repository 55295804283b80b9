"""Loading trained weights from lightcnn (Lightning) checkpoints."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from lightcnn.engine.checkpoint_io import CorruptCheckpoint, load_checkpoint
from lightcnn.errors import UserError


def load_weights(model: nn.Module, path: Path) -> None:
    """The network weights of a lightcnn checkpoint, whose state-dict keys start with ``net.``
    (read with ``weights_only=True``: a checkpoint carrying code is refused)."""
    try:
        state = load_checkpoint(path)["state_dict"]
    except CorruptCheckpoint as err:
        raise UserError(str(err)) from None
    model.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")})
