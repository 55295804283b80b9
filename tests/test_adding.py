"""Adding a model or a method is its module: a toy model and a toy method, registered in one
module of their own (tests/helpers/toy_entries.py), reach every place that lists, composes,
counts, trains or records entries."""

import importlib
import sys

import pytest

TOY_MODULE = "helpers.toy_entries"


@pytest.fixture
def toy_entries():
    """Import the toy module (registering its entries); afterwards take them out again."""
    from hydra.core.config_store import ConfigStore

    from lightcnn.methods.registry import METHODS
    from lightcnn.models.registry import MODELS

    module = importlib.import_module(TOY_MODULE)
    yield module
    MODELS.remove("toy_net")
    METHODS.remove("toy_scale")
    repo = ConfigStore.instance().repo
    for group, name in (("model", "toy_net"), ("method", "toy_scale")):
        repo.get(group, {}).pop(f"{name}.yaml", None)
        repo["schema"][group].pop(f"{name}.yaml", None)
    sys.modules.pop(TOY_MODULE)


def test_help_lists_the_new_entries_and_their_keys(toy_entries, lightcnn_in_process):
    listing = lightcnn_in_process("--help")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert any("toy_net" in line and "a 3×3 conv, global average pooling" in line.lower() for line in lines)
    assert any("toy_scale" in line and "scales every convolution" in line.lower() for line in lines)
    keys = lightcnn_in_process("--help", "method=toy_scale")
    assert keys.returncode == 0 and "factor" in keys.stdout and "multiplies every convolution's weights" in keys.stdout


def test_the_composability_matrix_reads_the_new_entries_and_their_input_rule(toy_entries):
    from lightcnn.tasks.listing import method_matrix

    (row,) = method_matrix(["toy_net"], ["none", "toy_scale"], ["cifar10", "mnist"])
    assert row["none/cifar10"] == "ok" and row["toy_scale/cifar10"] == "ok"
    assert row["toy_scale/mnist"] == (
        "n/a: model=toy_net needs images of at least 30×30 pixels (a test's rule); the data set gives 28×28 "
        "(dataset.image_size for synthetic data)"
    )


def test_profile_and_a_one_batch_training_record_the_methods_declared_field(toy_entries, run_config):
    from lightcnn.record import record_fields

    assert record_fields()["toy_scaled_convs"] is int
    data = ("dataset=synthetic", "dataset.channels=3", "dataset.image_size=32", "dataset.num_train=32",
            "dataset.num_test=8")  # fmt: skip
    profiled = run_config("model=toy_net", "method=toy_scale", "task=profile", *data, name="profile")
    conv, linear = 3 * 4 * 9 + 4, 4 * 10 + 10
    assert profiled["params"] == conv + linear and profiled["toy_scaled_convs"] == 1
    trained = run_config("model=toy_net", "method=toy_scale", "model.width=2", "profile=smoke", *data,
                         "trainer.limit_train_batches=1", "trainer.max_epochs=1", "trainer.batch_size=8")  # fmt: skip
    assert trained["status"] == "ok" and trained["epochs"] == 1 and trained["toy_scaled_convs"] == 1
    assert trained["params"] == 3 * 2 * 9 + 2 + 2 * 10 + 10


def test_the_smoke_profile_shrinks_a_method_as_its_entry_declares(toy_entries):
    from lightcnn.results.matching import task_overrides

    assert task_overrides("train", "smoke", ("method=toy_scale",)) == ("method.factor=0.25",)
    assert task_overrides("train", "cpu", ("method=toy_scale",)) == ()


def test_taking_an_entry_out_takes_its_record_fields_out(toy_entries):
    from lightcnn.methods.registry import METHODS
    from lightcnn.record import record_fields

    assert "toy_scaled_convs" in record_fields()
    METHODS.remove("toy_scale")
    assert "toy_scaled_convs" not in record_fields()
    METHODS.add("toy_scale", toy_entries.toy_scale, toy_entries.ToyScaleConfig,
                record_fields=toy_entries.ToyScaleFields, smoke=(), fit_to_model=None)  # fmt: skip
