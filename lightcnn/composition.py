"""Where the configs are, and composing one from overrides as the ``lightcnn`` command would."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import DictConfig

from lightcnn.registration import CONF_DIR, registries

EXPERIMENTS_DIR = Path(__file__).resolve().parent / "experiments"

HIDDEN_GROUPS = {"hydra"}
_initialised_for: list[Path] = []  # the config directory this module initialised Hydra on, if any


def compose_config(overrides: list[str] | tuple[str, ...], conf_dir: Path = CONF_DIR) -> DictConfig:
    """The config ``lightcnn OVERRIDES`` would run (without the ``hydra`` node).

    Inside the Hydra app the running instance composes it. Otherwise Hydra is initialised on
    ``conf_dir`` once and kept (initialising costs more than composing: 0.2 s against a few ms).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from lightcnn.registration import register_configs

    register_configs()
    hydra = GlobalHydra.instance()
    ours = bool(_initialised_for) and hydra.is_initialized()
    if hydra.is_initialized() and ours and _initialised_for[0] != Path(conf_dir):
        hydra.clear()  # we initialised it on another directory
    if not hydra.is_initialized():
        initialize_config_dir(config_dir=str(conf_dir), version_base="1.3")
        _initialised_for[:] = [Path(conf_dir)]
    return compose("config", overrides=list(overrides))


# Hydra's compositions per config directory and choice of groups, shared by every Composer of
# this process (planning a reproduction and rendering its report compose the same rows)
_COMPOSED: dict[Path, dict[tuple[str, ...], DictConfig]] = {}


class Composer:
    """Composes many configs fast: Hydra composes each choice of config groups once (cached);
    the ``key=value`` overrides are then applied to a copy and type-checked by the schema. The
    result equals :func:`compose_config` of the same overrides (the tables match records with it)."""

    def __init__(self, conf_dir: Path = CONF_DIR) -> None:
        self.conf_dir = Path(conf_dir)
        self._composed = _COMPOSED.setdefault(self.conf_dir, {})
        self._profiles: dict[Path, DictConfig] = {}
        from hydra.core.override_parser.overrides_parser import OverridesParser

        self._parser = OverridesParser.create()

    def is_group(self, key: str) -> bool:
        return "." not in key and "/" not in key and (self.conf_dir / key).is_dir()

    def profile_file(self, groups: tuple[str, ...]) -> Path | None:
        """The profile file a plain merge can apply: the profile group sits after every group
        but ``experiment`` (conf/config.yaml), so without an experiment its values come last."""
        keys = {g.split("=", 1)[0]: g.split("=", 1)[1] for g in groups}
        path = self.conf_dir / "profile" / f"{keys.get('profile')}.yaml"
        if keys.get("experiment", "null") != "null" or "profile" not in keys or not path.is_file():
            return None
        return path

    def swappable_task(self, groups: tuple[str, ...]) -> str | None:
        """The chosen task, if its node can be taken from another composition: nothing but the
        task group writes ``task.*`` (profiles set trainer keys; an experiment could, so not then)."""
        keys = {g.split("=", 1)[0]: g.split("=", 1)[1] for g in groups}
        return keys.get("task") if keys.get("experiment", "null") == "null" else None

    def hydra(self, groups: tuple[str, ...]) -> DictConfig:
        """Hydra's composition of ``groups`` (cached; do not modify it)."""
        if groups not in self._composed:
            self._composed[groups] = compose_config(groups, self.conf_dir)
        return self._composed[groups]

    def __call__(self, overrides: list[str] | tuple[str, ...]) -> DictConfig:
        import copy

        from omegaconf import OmegaConf

        groups = tuple(o for o in overrides if self.is_group(o.split("=", 1)[0].lstrip("+")))
        profile = self.profile_file(groups)
        task = self.swappable_task(groups)
        if profile is not None:  # composed without it, then its values on top: one composition for every profile
            groups = (*(g for g in groups if g.split("=", 1)[0] != "profile"), "~profile")
        if task is not None:  # composed with the default task, then the task's own node: one for every task
            groups = tuple(g for g in groups if g.split("=", 1)[0] != "task")
        cfg = copy.deepcopy(self.hydra(groups))
        if task is not None:
            OmegaConf.update(cfg, "task", copy.deepcopy(self.hydra((f"task={task}",)).task), merge=False)
        if profile is not None:
            if profile not in self._profiles:
                self._profiles[profile] = OmegaConf.load(profile)
            cfg = OmegaConf.merge(cfg, self._profiles[profile])
        for text in overrides:
            if "=" not in text:
                raise ValueError(f"override {text!r} is not of the form key=value")
            key = text.split("=", 1)[0].lstrip("+")
            if not self.is_group(key):  # values read by Hydra's own grammar: what Hydra refuses fails here too
                (override,) = self._parser.parse_overrides([text])
                OmegaConf.update(cfg, key, override.value(), merge=False)
        return cfg


def _description(path: Path) -> str:
    """The first comment line of a config file (its one-line description)."""
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        if "@package" not in line:
            return line.lstrip("# ").strip()
    return ""


def group_options(conf_dir: Path = CONF_DIR) -> dict[str, list[tuple[str, str]]]:
    """``{group: [(option, one-line description)]}`` read from ``conf/``, with the registered
    entries that have no YAML file there (described by their docstring's first line)."""
    groups = {}
    for group_dir in sorted(p for p in conf_dir.iterdir() if p.is_dir() and p.name not in HIDDEN_GROUPS):
        groups[group_dir.name] = [(f.stem, _description(f)) for f in sorted(group_dir.glob("*.yaml"))]
    for group, registry in registries().items():
        files = {name for name, _ in groups.get(group, [])}
        extra = [(e.name, ((e.load().__doc__ or "").strip().splitlines() or [""])[0]) for e in registry
                 if e.name not in files]  # fmt: skip
        groups[group] = sorted(groups.get(group, []) + extra)
    return groups


def options_with_key(key: str) -> str:
    """``" (method=prune_hrank has compress_rate)"``: the options of the key's group whose schema
    has the key (a key of another option than the one selected), or nothing."""
    group, _, name = key.partition(".")
    if not name or "." in name:
        return ""
    from hydra.core.config_store import ConfigStore

    schemas = ConfigStore.instance().repo.get("schema", {}).get(group, {})
    having = sorted(option.removesuffix(".yaml") for option, node in schemas.items()
                    if hasattr(node, "node") and name in node.node)  # fmt: skip
    return (
        f" ({', '.join(f'{group}={o}' for o in having)} {'has' if len(having) == 1 else 'have'} {name})"
        if having
        else ""
    )


def describe_config_error(err: BaseException) -> str:
    """One line for an error Hydra or OmegaConf raised while composing the config."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

    if isinstance(err, MissingConfigException) and err.missing_cfg_file and "/" in err.missing_cfg_file:
        group, option = err.missing_cfg_file.rsplit("/", 1)
        options = err.options or [name for name, _ in group_options().get(group, [])]
        return f"{group}={option}: no such option; available: {', '.join(options)}"
    if isinstance(err, OverrideParseException):
        return (f"cannot parse override: {str(err).splitlines()[0]} (a value with [ ] * + or spaces is quoted "
                "whole: \"key='value'\", e.g. \"method.compress_rate='[0.1]*3'\")")  # fmt: skip
    cause = err.__cause__ if isinstance(err.__cause__, OmegaConfBaseException) else err
    if isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None) or "?"
        kind = getattr(cause, "object_type", None)
        if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and dataclasses.is_dataclass(kind):
            allowed = ", ".join(f.name for f in dataclasses.fields(kind))
            return f"{key}: unknown key; allowed keys here: {allowed}{options_with_key(key)}"
        message = (getattr(cause, "msg", None) or str(cause)).splitlines()[0]
        return f"{key}: {message}"
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(err).__name__
