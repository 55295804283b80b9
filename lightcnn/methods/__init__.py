"""Compression methods. A method receives a built model and returns the model to train.

``method=none`` leaves the model as it is. Each method registers its config dataclass as
``schema/method/<name>`` and an ``apply(model, cfg, context)`` function; every module here is
imported (:mod:`lightcnn.discovery`), so a new method is its module and ``conf/method/<name>.yaml``.
"""

from lightcnn.discovery import import_submodules
from lightcnn.methods.registry import MethodContext, apply_method, method_config, method_names, register_method

import_submodules(__name__, __path__)

__all__ = ["MethodContext", "apply_method", "method_config", "method_names", "register_method"]
