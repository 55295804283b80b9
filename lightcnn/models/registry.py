"""Model registry (timm style): ``@register_model(name, config=...)`` on a builder function.

A builder takes its typed config and the :class:`InputSpec` of the data set and returns an
``nn.Module`` mapping ``(N, C, H, W)`` images to ``(N, num_classes)`` logits. Registering also
stores the config dataclass in Hydra's ConfigStore as ``schema/model/<name>``.
"""

from __future__ import annotations

from collections.abc import Callable

from hydra.core.config_store import ConfigStore
from torch import nn

from lightcnn.config import InputSpec, ModelConfig
from lightcnn.errors import ConfigValueError, UserError
from lightcnn.registry import Entry, Registry


def _store_schema(entry: Entry) -> None:
    ConfigStore.instance().store(group="schema/model", name=entry.name, node=entry.config)


MODELS: Registry[Callable[..., nn.Module]] = Registry("model.name", on_add=_store_schema)


def register_model(name: str, config: type[ModelConfig], slow: bool = False) -> Callable:
    """``@register_model(name, config=...)`` on a builder ``(cfg, spec) -> nn.Module``. ``slow``:
    building and counting it takes seconds (tens of millions of parameters), so the tests that
    go through every model run it in the slow suite only."""
    return MODELS.register(name, config=config, slow=slow)


def is_slow(name: str) -> bool:
    """Whether model ``name`` was registered ``slow`` (its test cost class)."""
    return bool(MODELS.get(name).info.get("slow"))


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
    return MODELS.names()


def model_config(name: str, **values) -> ModelConfig:
    """The config of registered model ``name`` with ``values`` set (ranges checked)."""
    entry = MODELS.get(name)
    try:
        return entry.config(**values)
    except ConfigValueError as err:
        raise err.with_prefix("model") from None


def build_model(cfg: ModelConfig, spec: InputSpec) -> nn.Module:
    """Build the registered model ``cfg.name`` for inputs described by ``spec``."""
    entry = MODELS.get(cfg.name)
    try:
        return entry.target(cfg, spec)
    except ConfigValueError as err:
        raise err.with_prefix("model") from None
