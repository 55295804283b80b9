"""Model registry and the model families: every module here registers its models when imported
(:mod:`lightcnn.discovery`), so a new family is its module and ``conf/model/<name>.yaml``."""

from lightcnn.discovery import import_submodules
from lightcnn.models.registry import (
    InputRule,
    InputSpec,
    build_model,
    input_problem,
    is_slow,
    model_config,
    model_names,
    register_model,
)

import_submodules(__name__, __path__)

__all__ = [
    "InputRule", "InputSpec", "build_model", "input_problem", "is_slow", "model_config", "model_names",
    "register_model",
]  # fmt: skip
