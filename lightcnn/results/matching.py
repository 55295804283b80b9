"""Which run records belong to a table row.

A row means exact configurations: its overrides composed by Hydra (as ``lightcnn`` would) for
each task the row runs — plus ``task=profile``, whose records carry the same counts — and each
profile considered. A record belongs to the row when its config equals one of those (seed
aside, so runs differing only in seed aggregate). Composition is cached per choice of config
groups; the row's ``key=value`` overrides are then applied to a copy, type-checked by the schema.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lightcnn.composition import CONF_DIR, Composer
from lightcnn.config import config_hash, validate
from lightcnn.errors import UserError
from lightcnn.results.specs import Row, parse_override

RUNTIME_OVERRIDES = ("trainer.progress_bar=false",)


def task_overrides(task: str, profile: str, row_overrides: tuple[str, ...] = ()) -> tuple[str, ...]:
    """What a ``profile=smoke`` run of ``task`` adds to the row's overrides to stay small: what the
    task's and (for a training) the method's registry entries declare (``smoke=``); reproduce adds
    them and matching must too."""
    if profile != "smoke":
        return ()
    from lightcnn.methods.registry import smoke_overrides
    from lightcnn.tasks import get_task

    methods = [value for key, value in map(parse_override, row_overrides) if key == "method"]
    by_method = smoke_overrides(methods[-1]) if methods and task == "train" else ()
    return (*get_task(task).smoke, *by_method)


# record fields that only the model, the method and the input shape decide (no data, no training):
# a row takes them from any record whose model, method and data set equal the row's
COUNT_KEYS = frozenset({
    "params", "trainable_params", "flops", "flops_conv", "first_layer_params", "first_layer_trainable_params",
    "params_folded", "flops_folded", "flops_conv_folded", "internal_variables", "params_hrank_count",
    "flops_hrank_count",
})  # fmt: skip


def count_hash(container: dict) -> str:
    """The hash of what decides a model's counts: its model and method nodes and the data set's
    input (a real data set by name, synthetic data by its shape and classes)."""
    dataset = container.get("dataset") or {}
    shape_keys = ("name", "channels", "image_size", "num_classes")
    return config_hash({
        "model": container.get("model"), "method": container.get("method"),
        "input": {k: dataset.get(k) for k in shape_keys if k in dataset},
    })  # fmt: skip


def noseed_hash(container: dict) -> str:
    data = dict(container)
    data.pop("seed", None)
    data.pop("hydra", None)
    return config_hash(data)


def describe(err: Exception) -> str:
    if isinstance(err, UserError):
        return str(err)
    from lightcnn.composition import describe_config_error  # Hydra or OmegaConf: an override the schema rejects

    return describe_config_error(err)


class ConfigMatcher:
    def __init__(self, profiles: list[str], extra: tuple[str, ...] = (), conf_dir: Path = CONF_DIR) -> None:
        self.profiles, self.extra, self.conf_dir = list(profiles), tuple(extra), conf_dir
        self.compose = Composer(conf_dir)
        self._hashes: dict[tuple, set[str]] = {}
        self._count_hashes: dict[tuple, set[str]] = {}
        self._seeds: dict[tuple, set[int]] = {}

    def config(self, overrides: tuple[str, ...]) -> DictConfig:
        """The composed, validated config of ``overrides``."""
        cfg = self.compose(overrides)
        validate(cfg)
        return cfg

    def _composes(self, overrides: tuple[str, ...]) -> bool:
        try:
            self.config(overrides)
        except Exception:
            return False
        return True

    def hashes(self, row: Row, tasks: tuple[str, ...]) -> set[str]:
        """Seedless config hashes of ``row`` run as each of ``tasks`` (and profile) at each profile."""
        key = (row.overrides, row.profiles, tasks)
        if key not in self._hashes:
            found, counts, seeds = set(), set(), set()
            for task in dict.fromkeys((*tasks, "profile")):
                for profile in self.profiles:
                    overrides = (*row.overrides, *row.at_profile(profile), f"task={task}", f"profile={profile}",
                                 *RUNTIME_OVERRIDES,
                                 *task_overrides(task, profile, row.overrides), *self.extra)  # fmt: skip
                    try:
                        cfg = self.config(overrides)
                    except Exception as err:
                        if task not in tasks or (self.extra and self._composes(overrides[: -len(self.extra)])):
                            continue  # overrides that do not fit this task: no record can come from it
                        raise UserError(f"row {row.label!r}: {describe(err)}") from None
                    container = OmegaConf.to_container(cfg, resolve=True)
                    found.add(noseed_hash(container))
                    counts.add(count_hash(container))
                    seeds.update(row.seeds_at(profile) or (int(container["seed"]),))
            self._hashes[key], self._count_hashes[key], self._seeds[key] = found, counts, seeds
        return self._hashes[key]

    def seeds(self, row: Row, tasks: tuple[str, ...]) -> set[int]:
        """The seeds ``row`` asks for at the matcher's profiles (its ``seeds``, else the config's)."""
        self.hashes(row, tasks)
        return self._seeds[(row.overrides, row.profiles, tasks)]

    def count_hashes(self, row: Row, tasks: tuple[str, ...]) -> set[str]:
        """:func:`count_hash` of ``row``'s configurations: records that hold its counts."""
        self.hashes(row, tasks)
        return self._count_hashes[(row.overrides, row.profiles, tasks)]
