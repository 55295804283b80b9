"""Every library internal lightcnn relies on (lightcnn.engine.upstream.RELIANCES) is still there:
an upgrade that moved one fails here, naming the package, its version and the attribute."""

import importlib
from importlib.metadata import version

import pytest

from lightcnn.engine.upstream import RELIANCES


def resolve(path: str):
    """A module or a class in a module, by dotted path."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(("package", "where", "names", "written_against"), RELIANCES)
def test_each_library_internal_lightcnn_relies_on_is_still_there(package, where, names, written_against, tmp_path):
    owner = resolve(where)
    if isinstance(owner, type) and owner.__name__ == "ModelCheckpoint":
        owner = owner(dirpath=str(tmp_path))  # instance attributes
    if isinstance(owner, type) and owner.__name__ == "_ExperimentWriter":
        owner = owner.__new__(owner)
        owner.__init__(log_dir=str(tmp_path))
    missing = [name for name in names.split() if not hasattr(owner, name)]
    assert not missing, (f"{package} {version(package)}: {where} has no {', '.join(missing)}; "
                         f"lightcnn.engine.upstream relies on it (written against {written_against})")  # fmt: skip
