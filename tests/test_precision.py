"""``trainer.precision=auto``: bf16 autocast only where the device computes bf16 in hardware and
the model is not slower in it; the record names the precision the run trained in."""

import pytest

from lightcnn.engine import precision
from lightcnn.engine.precision import device_type, resolve_precision, training_precision
from lightcnn.models import build_model, model_config
from lightcnn.models.registry import InputSpec

CIFAR = InputSpec(3, 32, 32, 10)


@pytest.mark.parametrize(
    ("requested", "fast", "prefers_float32", "expected"),
    [
        ("auto", True, False, "bf16-mixed"),
        ("auto", False, False, "32-true"),  # AVX2-only CPU: bf16 is emulated, ten times slower
        ("auto", True, True, "32-true"),  # depthwise convolutions: slower in bf16 even on AVX-512 BF16
        ("32", True, False, "32"),  # an explicit choice is never changed
        ("bf16-mixed", False, True, "bf16-mixed"),
    ],
)
def test_resolve_precision(requested, fast, prefers_float32, expected):
    assert resolve_precision(requested, fast, prefers_float32) == expected


def test_device_type_of_accelerators(monkeypatch):
    assert device_type("cpu") == "cpu" and device_type("gpu") == "cuda" and device_type("cuda") == "cuda"
    monkeypatch.setattr(precision.torch.cuda, "is_available", lambda: False)
    assert device_type("auto") == "cpu"


@pytest.mark.parametrize(
    ("model", "expected"),
    [("resnet", "bf16-mixed"), ("mobilenet", "32-true"), ("mobilenet_fused", "32-true"), ("plain_cnn", "bf16-mixed")],
)
def test_models_declare_whether_they_are_slower_in_bf16(monkeypatch, model, expected):
    monkeypatch.setattr(precision, "bf16_is_fast", lambda device: True)
    net = build_model(model_config(model), CIFAR)
    assert training_precision("auto", "cpu", net) == expected


def test_the_record_names_the_precision_the_run_trained_in(run_config, monkeypatch):
    monkeypatch.setattr(precision, "bf16_is_fast", lambda device: False)
    record = run_config("model=plain_cnn", "model.width=0.25", "dataset=synthetic", "profile=smoke")
    assert record["config"]["trainer"]["precision"] == "auto" and record["precision"] == "32-true"
    monkeypatch.setattr(precision, "bf16_is_fast", lambda device: True)
    record = run_config("model=plain_cnn", "model.width=0.25", "dataset=synthetic", "profile=smoke", name="bf16")
    assert record["precision"] == "bf16-mixed" and record["status"] == "ok"
