"""The one registry type behind models, methods, tasks and data sets."""

import pytest

from lightcnn.data.sources import SOURCES
from lightcnn.errors import ConfigValueError
from lightcnn.methods.registry import METHODS
from lightcnn.models.registry import MODELS
from lightcnn.registry import Registry
from lightcnn.tasks import TASKS, get_task


def test_an_unknown_name_names_the_key_and_the_choices():
    registry = Registry("thing.name")
    registry.add("b", object())
    registry.register("a")(len)
    with pytest.raises(ConfigValueError, match=r"thing.name='c' is not allowed: one of a, b"):
        registry.get("c")
    with pytest.raises(ValueError, match="registered twice"):
        registry.add("a", min)
    assert registry.names() == ["a", "b"] and registry.get("a").load() is len and "b" in registry


def test_a_target_registered_by_name_is_imported_only_when_used():
    registry = Registry("thing.name")
    registry.add("json_dumps", "json:dumps", flag=True)
    entry = registry.get("json_dumps")
    assert entry.info == {"flag": True} and entry.load()([1]) == "[1]"


def test_every_kind_of_part_is_one_registry():
    assert all(isinstance(r, Registry) for r in (MODELS, METHODS, TASKS, SOURCES))
    assert {"resnet", "oct_resnet", "vgg16"} <= set(MODELS.names())
    assert {"none", "prune_hrank", "prune_rl", "template_kernels", "aca_im2col"} <= set(METHODS.names())
    assert SOURCES.names() == ["cifar10", "fashion_mnist", "mnist"]
    assert get_task("train").resumes and not get_task("list").writes_record


@pytest.mark.parametrize("registry", [MODELS, METHODS, TASKS], ids=lambda r: r.key)
def test_each_entry_keeps_its_config_dataclass_beside_its_function(registry):
    from hydra.core.config_store import ConfigStore

    group = registry.key.split(".")[0]
    stored = ConfigStore.instance().list(f"schema/{group}")
    for entry in registry:
        assert entry.config is not None and entry.config.__module__ == entry.load().__module__, entry.name
        assert f"{entry.name}.yaml" in stored, entry.name


@pytest.mark.parametrize("group", ["model", "method", "task"])
def test_every_shipped_entry_has_its_yaml_option_and_every_yaml_option_is_an_entry(group):
    from lightcnn.registration import CONF_DIR, registries

    files = {path.stem for path in (CONF_DIR / group).glob("*.yaml")}
    shipped = {entry.name for entry in registries()[group] if entry.load().__module__.startswith("lightcnn.")}
    assert files == shipped


def test_composing_a_config_imports_no_lightning():
    import subprocess
    import sys

    code = (
        "import sys; from lightcnn.composition import compose_config; compose_config(['task=train']);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pytorch_lightning', 'lightning', 'lightning_fabric')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
