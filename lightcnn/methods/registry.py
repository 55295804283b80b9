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
from lightcnn.record import declare_record_fields, forget_record_fields
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


def _on_add(entry: Entry) -> None:
    ConfigStore.instance().store(group="schema/method", name=entry.name, node=entry.config)
    if entry.info.get("record_fields") is not None:
        declare_record_fields(f"method={entry.name}", entry.info["record_fields"])


def _on_remove(entry: Entry) -> None:
    forget_record_fields(f"method={entry.name}")


METHODS: Registry[Callable[[nn.Module, Any, MethodContext], nn.Module]] = Registry(
    "method.name", _on_add, on_remove=_on_remove
)


def register_method(
    name: str,
    config: type[MethodConfig],
    record_fields: type | None = None,
    smoke: tuple[str, ...] = (),
    fit_to_model: Callable[[nn.Module], dict] | None = None,
    before_training: str | None = None,
) -> Callable:
    """``@register_method(name, config=...)`` on ``apply(model, cfg, context) -> model``; what the
    rest of lightcnn knows about the method is declared here, nowhere else:

    - ``record_fields``: a ``TypedDict`` of the fields ``apply`` (or its callbacks) adds to the run
      record through ``context.fields``, part of the record's schema (:func:`lightcnn.record.record_fields`).
    - ``smoke``: overrides that keep a ``profile=smoke`` training with it small (reproduce adds
      them to the rows that use it; the results' matching adds them too).
    - ``fit_to_model``: config values the method needs to act on a given model at all (the
      composability matrix applies each method at its defaults plus these).

    A method that changes the architecture during training, so that a checkpoint needs it rebuilt
    before its weights load, adds a :class:`~lightcnn.engine.callbacks.RebuildsArchitecture`
    callback to ``context.callbacks``."""
    return METHODS.register(name, config=config, record_fields=record_fields, smoke=tuple(smoke),
                            fit_to_model=fit_to_model, before_training=before_training)  # fmt: skip


def smoke_overrides(name: str) -> tuple[str, ...]:
    """What keeps a ``profile=smoke`` training with method ``name`` small (its entry's ``smoke``)."""
    return METHODS.get(name).info["smoke"]


def before_training(name: str) -> str | None:
    """What method ``name`` computes before training that a yardstick does not time (``before_training``)."""
    return METHODS.get(name).info["before_training"]


def fitted_values(name: str, net: nn.Module) -> dict:
    """Config values method ``name`` needs to act on ``net`` at its defaults (its ``fit_to_model``)."""
    fit = METHODS.get(name).info["fit_to_model"]
    return fit(net) if fit is not None else {}


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
