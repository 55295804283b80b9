"""Entries register themselves when their module is imported; :func:`import_submodules` imports
every module of a package, so that adding a model or a method is its module and its YAML file,
with no list of modules to extend (a subpackage's ``__init__`` imports those of its modules that
register)."""

from __future__ import annotations

import importlib
import pkgutil


def import_submodules(package: str, path: list[str]) -> list[str]:
    """Import every module and subpackage directly in ``package`` (``path``: its ``__path__``),
    those starting with ``_`` aside; their names, in import order."""
    names = sorted(info.name for info in pkgutil.iter_modules(path) if not info.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names
