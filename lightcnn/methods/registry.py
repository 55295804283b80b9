"""Method registry: ``@register_method(name, config=...)`` on an ``apply`` function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from torch import nn

from lightcnn.config import MethodConfig
from lightcnn.errors import ConfigValueError


@dataclass
class MethodContext:
    """What a method may need beyond the model, and what it may hand back: the data module
    (training only), the input shape ``(C, H, W)``, a finder of the checkpoint of the same model
    trained without a method (training only), a list to which it may add Lightning callbacks (a
    stage that runs during training, e.g. deferred pruning), and ``fields`` it adds to the run
    record (the task merges them after it has run, so a callback may still fill them in)."""

    datamodule: Any = None
    input_shape: tuple[int, int, int] | None = None
    find_baseline: Callable[[], Any] | None = None
    callbacks: list = field(default_factory=list)
    fields: dict = field(default_factory=dict)


_METHODS: dict[str, tuple[type, Callable]] = {}


def register_method(name: str, config: type[MethodConfig]) -> Callable:
    def decorate(apply: Callable[[nn.Module, Any, MethodContext], nn.Module]) -> Callable:
        if name in _METHODS:
            raise ValueError(f"method {name!r} registered twice")
        _METHODS[name] = (config, apply)
        ConfigStore.instance().store(group="schema/method", name=name, node=config)
        return apply

    return decorate


def method_names() -> list[str]:
    return sorted(_METHODS)


def apply_method(model: nn.Module, cfg: MethodConfig, context: MethodContext | None = None) -> nn.Module:
    if cfg.name not in _METHODS:
        raise ConfigValueError("method.name", cfg.name, "one of " + ", ".join(method_names()))
    try:
        return _METHODS[cfg.name][1](model, cfg, context or MethodContext())
    except ConfigValueError as err:
        raise err.with_prefix("method") from None


@dataclass
class NoMethodConfig(MethodConfig):
    name: str = "none"


@register_method("none", config=NoMethodConfig)
def no_method(model: nn.Module, cfg: NoMethodConfig, context: MethodContext) -> nn.Module:
    """The uncompressed baseline: the model as built."""
    return model
