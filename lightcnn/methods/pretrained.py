"""``method.pretrained`` of the methods that compress a trained network: null (the model as
built), ``auto`` (the baseline run the runner pinned, see :mod:`lightcnn.dependencies`) or a
lightcnn checkpoint path."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from torch import nn

from lightcnn.config import MethodConfig, option
from lightcnn.engine.weights import load_weights
from lightcnn.errors import ConfigValueError
from lightcnn.methods.registry import MethodContext

log = logging.getLogger(__name__)


@dataclass
class PretrainedMethodConfig(MethodConfig):
    """A method that starts from trained weights."""

    pretrained: str | None = option(None, "null (the model as built), auto (its pinned baseline run) or a checkpoint")
    baseline_overrides: list[str] = option(factory=list, help="auto: its own, e.g. [trainer.max_epochs=300]")


class PretrainedFields(TypedDict, total=False):
    """Record fields of a method that loads trained weights."""

    pretrained_checkpoint: str  # the weights method.pretrained loaded


def load_pretrained(model: nn.Module, setting: str | None, context: MethodContext) -> Path | None:
    """Load the weights ``setting`` names into ``model``; the path used goes into the record."""
    if setting is None:
        return None
    if setting == "auto":
        path = context.find_baseline() if context.find_baseline else None
        if path is None:  # a task that needs no weights (task=profile): the counts do not depend on them
            return None
    else:
        path = Path(setting).expanduser()
        if not path.is_file():
            raise ConfigValueError("pretrained", setting, "null, auto, or an existing lightcnn checkpoint")
    load_weights(model, path)
    context.fields["pretrained_checkpoint"] = str(path)
    return path
