"""``method.pretrained`` of the methods that compress a trained network: null (the model as
built), ``auto`` (the newest ok training run of the same model and data set with ``method=none``
under the results directory) or a lightcnn checkpoint path."""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from lightcnn.engine.weights import load_weights
from lightcnn.errors import ConfigValueError
from lightcnn.methods.registry import MethodContext

log = logging.getLogger(__name__)


def load_pretrained(model: nn.Module, setting: str | None, context: MethodContext) -> Path | None:
    """Load the weights ``setting`` names into ``model``; the path used goes into the record."""
    if setting is None:
        return None
    if setting == "auto":
        path = context.find_baseline() if context.find_baseline else None
        if path is None:
            log.warning("method.pretrained=auto: no trained run of this model without a method; using it as built")
            context.fields["pretrained_checkpoint"] = None
            return None
    else:
        path = Path(setting).expanduser()
        if not path.is_file():
            raise ConfigValueError("pretrained", setting, "null, auto, or an existing lightcnn checkpoint")
    load_weights(model, path)
    context.fields["pretrained_checkpoint"] = str(path)
    return path
