"""Model registry (timm style): ``@register_model(name, config=...)`` on a builder function.

A builder takes its typed config and the :class:`InputSpec` of the data set and returns an
``nn.Module`` mapping ``(N, C, H, W)`` images to ``(N, num_classes)`` logits. Registering also
stores the config dataclass in Hydra's ConfigStore as ``schema/model/<name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from torch import nn

from lightcnn.config import InputSpec, ModelConfig
from lightcnn.errors import ConfigValueError, UserError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    config: type
    builder: Callable[..., nn.Module]


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, config: type[ModelConfig]) -> Callable:
    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} registered twice")
        _MODELS[name] = ModelEntry(name, config, builder)
        ConfigStore.instance().store(group="schema/model", name=name, node=config)
        return builder

    return decorate


def require_input_size(model: str, spec: InputSpec, smallest: int, why: str = "") -> None:
    """A clear error when the data set's images are smaller than ``smallest`` × ``smallest``."""
    if min(spec.height, spec.width) < smallest:
        raise UserError(
            f"model={model} needs images of at least {smallest}×{smallest} pixels{f' ({why})' if why else ''}; "
            f"the data set gives {spec.height}×{spec.width} (dataset.image_size for synthetic data)"
        )


def require_divisible_size(model: str, spec: InputSpec, divisor: int, why: str) -> None:
    """A clear error, before anything is built, when the image sides are not multiples of ``divisor``."""
    if spec.height % divisor or spec.width % divisor:
        raise UserError(
            f"model={model} needs image sides divisible by {divisor} ({why}); "
            f"the data set gives {spec.height}×{spec.width}"
        )


def model_names() -> list[str]:
    return sorted(_MODELS)


def model_config(name: str, **values) -> ModelConfig:
    """The config of registered model ``name`` with ``values`` set (ranges checked)."""
    if name not in _MODELS:
        raise ConfigValueError("model.name", name, "one of " + ", ".join(model_names()))
    try:
        return _MODELS[name].config(**values)
    except ConfigValueError as err:
        raise err.with_prefix("model") from None


def build_model(cfg: ModelConfig, spec: InputSpec) -> nn.Module:
    """Build the registered model ``cfg.name`` for inputs described by ``spec``."""
    entry = _MODELS.get(cfg.name)
    if entry is None:
        raise ConfigValueError("model.name", cfg.name, "one of " + ", ".join(model_names()))
    try:
        return entry.builder(cfg, spec)
    except ConfigValueError as err:
        raise err.with_prefix("model") from None
