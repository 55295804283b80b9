"""Method registry: ``@register_method(name, config=...)`` on an ``apply`` function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from torch import nn

from lightcnn.config import MethodConfig
from lightcnn.errors import ConfigValueError
from lightcnn.registry import Entry, Registry


@dataclass
class MethodContext:
    """What a method may need beyond the model, and what it may hand back: the data module
    (training only), the input shape ``(C, H, W)``, a finder of the checkpoint of the same model
    trained without a method (training only), a list to which it may add Lightning callbacks (a
    stage that runs during training, e.g. deferred pruning), ``fields`` it adds to the run
    record (the task merges them after it has run, so a callback may still fill them in), and
    the run's checkpoint directory, where a long method keeps its progress so that the run, run
    again after an interruption, continues it (training only: the RL search)."""

    datamodule: Any = None
    input_shape: tuple[int, int, int] | None = None
    find_baseline: Callable[[], Any] | None = None
    checkpoint_dir: Path | None = None
    processes: int = 1  # training processes (DDP ranks): a method that cannot follow them refuses here
    callbacks: list = field(default_factory=list)
    fields: dict = field(default_factory=dict)


def _store_schema(entry: Entry) -> None:
    ConfigStore.instance().store(group="schema/method", name=entry.name, node=entry.config)


METHODS: Registry[Callable[[nn.Module, Any, MethodContext], nn.Module]] = Registry("method.name", _store_schema)


def register_method(name: str, config: type[MethodConfig]) -> Callable:
    """``@register_method(name, config=...)`` on ``apply(model, cfg, context) -> model``."""
    return METHODS.register(name, config=config)


def method_names() -> list[str]:
    return METHODS.names()


def method_config(name: str, **values) -> MethodConfig:
    """The config of registered method ``name`` with ``values`` set (ranges checked)."""
    try:
        return METHODS.get(name).config(**values)
    except ConfigValueError as err:
        raise err.with_prefix("method") from None


def apply_method(model: nn.Module, cfg: MethodConfig, context: MethodContext | None = None) -> nn.Module:
    apply = METHODS.get(cfg.name).target
    try:
        return apply(model, cfg, context or MethodContext())
    except ConfigValueError as err:
        raise err.with_prefix("method") from None


@dataclass
class NoMethodConfig(MethodConfig):
    name: str = "none"


@register_method("none", config=NoMethodConfig)
def no_method(model: nn.Module, cfg: NoMethodConfig, context: MethodContext) -> nn.Module:
    """The uncompressed baseline: the model as built."""
    return model
