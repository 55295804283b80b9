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


def test_tf32_is_a_precision_of_its_own_and_float32_is_ieee_float32():
    """PyTorch runs float32 convolutions in TF32 on Ampere+ GPUs by default; lightcnn's float32 is
    IEEE float32 and TF32 is asked for by name (Lightning trains it as 32-true)."""
    import torch

    assert precision.apply_float32_math("tf32") == "32-true"
    assert torch.backends.cudnn.conv.fp32_precision == "tf32" and torch.backends.cuda.matmul.fp32_precision == "tf32"
    assert precision.apply_float32_math("32-true") == "32-true"
    assert torch.backends.cudnn.conv.fp32_precision == "ieee" and torch.backends.cuda.matmul.fp32_precision == "ieee"
    assert precision.apply_float32_math("bf16-mixed") == "bf16-mixed"


def test_tf32_is_refused_where_there_is_no_cuda_gpu():
    from lightcnn.errors import ConfigValueError

    net = build_model(model_config("resnet", depth=20), CIFAR)
    with pytest.raises(ConfigValueError, match=r"trainer.precision='tf32' is not allowed: a CUDA GPU .*device is cpu"):
        training_precision("tf32", "cpu", net)


def test_the_models_cpu_preferences_do_not_decide_on_a_gpu(monkeypatch):
    """prefers_float32 and prefers_channels_last were measured on CPUs: on a GPU auto is bf16
    wherever the GPU has it, and the memory format is NCHW unless asked."""
    from lightcnn.config import TrainerConfig
    from lightcnn.engine.module import use_channels_last

    monkeypatch.setattr(precision, "bf16_is_fast", lambda device: True)
    mobilenet = build_model(model_config("mobilenet"), CIFAR)
    assert mobilenet.prefers_float32
    assert training_precision("auto", "cpu", mobilenet) == "32-true"
    assert training_precision("auto", "cuda", mobilenet) == "bf16-mixed"
    resnet = build_model(model_config("resnet", depth=20), CIFAR)
    resnet.prefers_channels_last = True
    assert use_channels_last(TrainerConfig(), resnet, "cpu") and not use_channels_last(TrainerConfig(), resnet, "cuda")
    assert use_channels_last(TrainerConfig(channels_last=True), resnet, "cuda")


def test_a_cpu_task_record_names_the_cpu_where_a_gpu_is_present(monkeypatch):
    from lightcnn.environment import environment

    monkeypatch.setattr(precision.torch.cuda, "is_available", lambda: True)
    assert environment()["device"].startswith("cpu (")
