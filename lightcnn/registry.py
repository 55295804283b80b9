"""One registry type for every pluggable part: models, methods, tasks and data sets.

An entry has a name, a target (a builder, an ``apply`` function, a task function, a data source —
or ``"module:attribute"``, imported only when the entry is used), the config dataclass it takes
(if any) and flags. ``get`` names the config key and the choices when a name is unknown::

    MODELS = Registry("model.name")

    @MODELS.register("resnet", config=ResNetConfig)
    def resnet(cfg, spec): ...
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from lightcnn.errors import ConfigValueError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    target: T | str  # the object, or "module:attribute" imported on first use
    config: type | None = None  # the config dataclass the target takes
    info: dict[str, Any] = field(default_factory=dict)  # flags (e.g. a task's resumes=True)

    def load(self) -> T:
        """The target, imported now if it was registered by name."""
        if isinstance(self.target, str):
            module, _, attribute = self.target.partition(":")
            return getattr(importlib.import_module(module), attribute)
        return self.target


class Registry(Generic[T]):
    """Named entries of one kind; ``key`` is the config key that chooses one (for errors)."""

    def __init__(
        self,
        key: str,
        on_add: Callable[[Entry[T]], None] | None = None,
        on_remove: Callable[[Entry[T]], None] | None = None,
    ) -> None:
        self.key, self._on_add, self._on_remove = key, on_add, on_remove
        self._entries: dict[str, Entry[T]] = {}

    def add(self, name: str, target: T | str, config: type | None = None, **info: Any) -> Entry[T]:
        if name in self._entries:
            raise ValueError(f"{self.key}={name!r} registered twice")
        entry = Entry(name, target, config, dict(info))
        self._entries[name] = entry
        if self._on_add is not None:
            self._on_add(entry)
        return entry

    def remove(self, name: str) -> None:
        """Take entry ``name`` out (a test's temporary entry); what registering added goes too."""
        entry = self._entries.pop(name)
        if self._on_remove is not None:
            self._on_remove(entry)

    def register(self, name: str, config: type | None = None, **info: Any) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(target: T) -> T:
            self.add(name, target, config, **info)
            return target

        return decorate

    def get(self, name: str) -> Entry[T]:
        if name not in self._entries:
            raise ConfigValueError(self.key, name, "one of " + ", ".join(self.names()))
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[name] for name in self.names())
