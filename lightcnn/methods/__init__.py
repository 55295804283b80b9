"""Compression methods. A method receives a built model and returns the model to train.

``method=none`` leaves the model as it is. Each method registers its config dataclass as
``schema/method/<name>`` and an ``apply(model, cfg, context)`` function.
"""

from lightcnn.methods import aca_im2col, templates  # noqa: F401  (registers their methods)
from lightcnn.methods.pruning import hrank, rl  # noqa: F401  (registers prune_hrank, prune_rl)
from lightcnn.methods.registry import MethodContext, apply_method, method_config, method_names, register_method

__all__ = ["MethodContext", "apply_method", "method_config", "method_names", "register_method"]
