"""A search's space and objectives, checked before any trial runs (one line, exit 2, naming the
key): every searched key must be a key of the composed config, every range non-empty, every
objective a numeric field of the run record that is not measured on the test set."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lightcnn.errors import UserError
from lightcnn.record import record_fields

SAMPLERS = ("nsga2", "tpe")
DIRECTIONS = ("maximize", "minimize")
# selection never looks at the test set: these are shown beside the front, never searched on
TEST_FIELDS = frozenset({"test_acc", "test_acc5", "test_loss", "test_acc_at_best_val", "test_acc5_at_best_val"})
VALIDATION_FIELDS = frozenset({"best_val_acc", "final_val_acc"})
_ABSENT = object()


@dataclass(frozen=True)
class Dimension:
    """One searched config key: a float or int range (``log``, ``step``) or a list of choices."""

    key: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    integer: bool = False
    choices: tuple = ()

    def distribution(self):
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.choices:
            return CategoricalDistribution(list(self.choices))
        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def override(self, value: Any) -> str:
        return f"{self.key}={value}"

    def member(self, value: Any) -> Any:
        """``value`` as the study holds it (a choice as written in the space), or None when the
        space does not hold it."""
        import yaml

        if self.choices:
            parsed = yaml.safe_load(value) if isinstance(value, str) else value
            same = [c for c in self.choices if (yaml.safe_load(c) if isinstance(c, str) else c) == parsed]
            return same[0] if same else None
        if not isinstance(value, int | float) or isinstance(value, bool) or not self.low <= value <= self.high:
            return None
        if self.step and abs((value - self.low) / self.step - round((value - self.low) / self.step)) > 1e-9:
            return None
        return int(value) if self.integer else float(value)


def numeric_record_fields() -> frozenset[str]:
    """The run record's int and float fields (``RunRecord``'s and the registered methods')."""
    import lightcnn.methods  # noqa: F401  (registers the methods and their record fields)

    hints = record_fields()

    def numeric(hint) -> bool:
        args = set(typing.get_args(hint)) - {type(None)}
        return hint in (int, float) or (bool(args) and args <= {int, float})

    return frozenset(name for name, hint in hints.items() if numeric(hint) and hint is not bool)


def parse_space(space: Any, config: DictConfig) -> list[Dimension]:
    if not isinstance(space, dict) or not space:
        raise UserError("hydra.sweeper.space: empty; give each searched key a range or choices")
    dimensions = [dimension(str(key), spec, config) for key, spec in space.items()]
    for searched in dimensions:
        check_values(searched, config)
    return dimensions


def check_values(searched: Dimension, config: DictConfig) -> None:
    """Every choice, and both ends of a range, pass the config's own checks (``model.depth=14``
    is refused before any trial, naming the allowed depths)."""
    import yaml

    from lightcnn.config import validate

    job = OmegaConf.masked_copy(config, [key for key in config if key != "hydra"])  # the run's own config
    for value in searched.choices or (searched.low, searched.high):
        trial = job.copy()
        parsed = yaml.safe_load(value) if isinstance(value, str) else value
        OmegaConf.update(trial, searched.key, parsed, merge=False)
        try:
            validate(trial)
        except UserError as err:
            raise UserError(f"hydra.sweeper.space.{searched.key}: {value!r} is refused: {err}") from None


def dimension(key: str, spec: Any, config: DictConfig) -> Dimension:
    where = f"hydra.sweeper.space.{key}"
    if OmegaConf.select(config, key, default=_ABSENT) is _ABSENT:
        raise UserError(f"{where}: {key} is not a key of the composed config (select the model or method that has it)")
    if not isinstance(spec, dict):
        raise UserError(f"{where}={spec!r}; allowed: {{low, high[, log, step, int]}} or {{choices: [...]}}")
    unknown = sorted(set(spec) - {"low", "high", "log", "step", "int", "choices"})
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r}; allowed: low, high, log, step, int, choices")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise UserError(f"{where}.choices={choices!r}: a non-empty list")
        return Dimension(key, choices=tuple(str(c) if isinstance(c, list) else c for c in choices))
    low, high = spec.get("low"), spec.get("high")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)) or not low < high:
        raise UserError(f"{where}: low={low!r}, high={high!r}; allowed: two numbers with low < high")
    if spec.get("log") and low <= 0:
        raise UserError(f"{where}: log=true needs low > 0 (low={low!r})")
    integer = bool(spec.get("int", isinstance(low, int) and isinstance(high, int) and "step" not in spec))
    return Dimension(key, low, high, bool(spec.get("log", False)), spec.get("step"), integer)


def parse_objectives(objectives: Any, config: DictConfig) -> list[tuple[str, str]]:
    """``[(record field, direction)]``; validation accuracy needs a validation split."""
    if not isinstance(objectives, dict) or not objectives:
        raise UserError("hydra.sweeper.objectives: empty; e.g. {best_val_acc: maximize, flops: minimize}")
    fields = numeric_record_fields()
    parsed = []
    for name, direction in objectives.items():
        where = f"hydra.sweeper.objectives.{name}"
        if name in TEST_FIELDS:
            raise UserError(f"{where}: a test-set measure; a search selects on validation (best_val_acc)")
        if name not in fields:
            raise UserError(f"{where}: not a numeric record field; allowed: {', '.join(sorted(fields - TEST_FIELDS))}")
        if direction not in DIRECTIONS:
            raise UserError(f"{where}={direction!r}; allowed: maximize, minimize")
        if name in VALIDATION_FIELDS and not OmegaConf.select(config, "dataset.val_fraction", default=0):
            raise UserError(f"dataset.val_fraction=0: {where} needs a validation split (e.g. dataset.val_fraction=0.1)")
        parsed.append((str(name), str(direction)))
    return parsed


def parse_hand_picked(items: Any, dimensions: list[Dimension]) -> list[tuple[str, dict]]:
    """``[(label, params)]``: settings a paper picked by hand, each giving every searched key a
    value the space holds (they are measured as trials, at the search's schedule)."""
    if not items:
        return []
    if not isinstance(items, list):
        raise UserError(f"hydra.sweeper.hand_picked={items!r}; allowed: a list of {{label, settings: {{key: value}}}}")
    keys = {d.key: d for d in dimensions}
    picked = []
    for index, item in enumerate(items):
        where = f"hydra.sweeper.hand_picked[{index}]"
        if not isinstance(item, dict) or set(item) != {"label", "settings"} or not isinstance(item["settings"], dict):
            raise UserError(f"{where}={item!r}; allowed: {{label: ..., settings: {{key: value}}}}")
        settings = item["settings"]
        missing, unknown = sorted(set(keys) - set(settings)), sorted(set(settings) - set(keys))
        if missing or unknown:
            raise UserError(f"{where} ({item['label']}): settings must give exactly the searched keys; "
                            f"missing {missing}, not searched {unknown}")  # fmt: skip
        params = {}
        for key, value in settings.items():
            member = keys[key].member(value)
            if member is None:
                raise UserError(f"{where} ({item['label']}): {key}={value!r} is not in the space")
            params[key] = member
        picked.append((str(item["label"]), params))
    return picked
