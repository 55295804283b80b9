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
from lightcnn.registry import Entry, Registry


def _store_schema(entry: Entry) -> None:
    ConfigStore.instance().store(group="schema/model", name=entry.name, node=entry.config)


MODELS: Registry[Callable[..., nn.Module]] = Registry("model.name", on_add=_store_schema)


@dataclass(frozen=True)
class InputRule:
    """The images a model takes, declared on its entry: sides of at least ``min_side`` pixels,
    divisible by ``side_divisor``; ``why`` says what in the architecture asks for it."""

    min_side: int = 1
    side_divisor: int = 1
    why: str = ""

    def problem(self, model: str, spec: InputSpec) -> str | None:
        """The one-line refusal of ``spec``'s images, or None when the model takes them."""
        because = f" ({self.why})" if self.why else ""
        shape = f"{spec.height}×{spec.width}"
        if min(spec.height, spec.width) < self.min_side:
            return (f"model={model} needs images of at least {self.min_side}×{self.min_side} pixels{because}; "
                    f"the data set gives {shape} (dataset.image_size for synthetic data)")  # fmt: skip
        if spec.height % self.side_divisor or spec.width % self.side_divisor:
            divisor = self.side_divisor
            return f"model={model} needs image sides divisible by {divisor}{because}; the data set gives {shape}"
        return None


ANY_INPUT = InputRule()


def register_model(
    name: str,
    config: type[ModelConfig],
    inputs: InputRule | Callable[[ModelConfig], InputRule] = ANY_INPUT,
    prefers_float32: bool = False,
    prefers_channels_last: bool = False,
    slow: bool = False,
) -> Callable:
    """``@register_model(name, config=...)`` on a builder ``(cfg, spec) -> nn.Module``; what the
    rest of lightcnn knows about the model is declared here, nowhere else:

    - ``inputs``: the images it takes (an :class:`InputRule`, or a function of its config giving
      one); :func:`build_model` refuses others in one line before building, and the tests, the
      composability matrix and ``task=list`` read the same rule.
    - ``prefers_float32`` / ``prefers_channels_last``: measured on CPUs (``make bench``), applied
      by ``trainer.precision=auto`` and ``trainer.channels_last=null`` on CPUs only.
    - ``slow``: building and counting it takes seconds (tens of millions of parameters), so the
      tests that go through every model run it in the slow suite only (its test cost class).
    """
    return MODELS.register(
        name, config=config, inputs=inputs, prefers_float32=prefers_float32,
        prefers_channels_last=prefers_channels_last, slow=slow,
    )  # fmt: skip


def is_slow(name: str) -> bool:
    """Whether model ``name`` was registered ``slow`` (its test cost class)."""
    return bool(MODELS.get(name).info.get("slow"))


def input_rule(cfg: ModelConfig) -> InputRule:
    """The input rule model ``cfg.name`` declared, for this config."""
    rule = MODELS.get(cfg.name).info.get("inputs", ANY_INPUT)
    return rule if isinstance(rule, InputRule) else rule(cfg)


def input_problem(cfg: ModelConfig, spec: InputSpec) -> str | None:
    """Why model ``cfg`` does not take ``spec``'s images (one line), or None when it does."""
    return input_rule(cfg).problem(cfg.name, spec)


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
    problem = input_problem(cfg, spec)
    if problem:
        raise UserError(problem)
    try:
        net = entry.target(cfg, spec)
    except ConfigValueError as err:
        raise err.with_prefix("model") from None
    net.prefers_float32 = entry.info["prefers_float32"]  # read by the engine on the net a method returns
    net.prefers_channels_last = entry.info["prefers_channels_last"]
    return net
