"""MobileNet, MobileNet-fused and the plain CNN: costs (eq. 1–4), folding, internal variables."""

import pytest
import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn

from lightcnn.config import validate
from lightcnn.engine.activations import internal_variables
from lightcnn.engine.profiling import model_fields, profile_model
from lightcnn.errors import ConfigValueError, UserError
from lightcnn.formulas.mobilenet import (
    depthwise_macs,
    pointwise_macs,
    separable_macs,
    separable_ratio,
    standard_conv_macs,
)
from lightcnn.models import InputSpec, build_model, model_config
from lightcnn.models.layers import fuse_for_inference

CIFAR, MNIST = InputSpec(3, 32, 32, 10), InputSpec(1, 28, 28, 10)


def macs(module, shape):
    return FlopCountAnalysis(module, torch.zeros(1, *shape)).unsupported_ops_warnings(False).total()


@pytest.mark.parametrize(("k", "n", "m", "side"), [(3, 8, 16, 8), (3, 32, 64, 16), (5, 4, 12, 7), (1, 6, 6, 5)])
def test_eq_1_to_4_against_fvcore(k, n, m, side):
    positions = side * side
    assert macs(nn.Conv2d(n, m, k, padding=k // 2, bias=False), (n, side, side)) == standard_conv_macs(
        k, n, m, positions
    )
    depthwise = nn.Conv2d(n, n, k, padding=k // 2, groups=n, bias=False)
    pointwise = nn.Conv2d(n, m, 1, bias=False)
    assert macs(depthwise, (n, side, side)) == depthwise_macs(k, n, positions)
    assert macs(pointwise, (n, side, side)) == pointwise_macs(n, m, positions)
    assert macs(nn.Sequential(depthwise, pointwise), (n, side, side)) == separable_macs(k, n, m, positions)
    assert separable_macs(k, n, m) / standard_conv_macs(k, n, m) == pytest.approx(separable_ratio(k, m))


def test_mobilenet_matches_the_reference_cifar_counts():
    # kuangliu/pytorch-cifar MobileNet (docs/references.md §6): 3,217,226 params, 46,354,432 MACs
    profile = profile_model(build_model(model_config("mobilenet"), CIFAR), (3, 32, 32))
    assert (profile.params, profile.flops_conv) == (3_217_226, 46_354_432)


def test_mobilenet_needs_about_an_eighth_of_the_plain_cnn():
    plain = profile_model(build_model(model_config("plain_cnn"), CIFAR), (3, 32, 32)).flops_conv
    mobile = profile_model(build_model(model_config("mobilenet"), CIFAR), (3, 32, 32)).flops_conv
    assert 1 / 9 < mobile / plain < 1 / 8


def randomize_bn(model):
    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize(
    ("name", "values", "spec"),
    [
        ("plain_cnn", {"width": 0.25}, CIFAR),
        ("mobilenet", {"width": 0.5}, MNIST),
        ("mobilenet_fused", {}, CIFAR),
        ("mobilenet_fused", {"segment": 2, "width": 0.5}, MNIST),
    ],
)
def test_folding_keeps_outputs_and_removes_bn(name, values, spec):
    model = randomize_bn(build_model(model_config(name, **values), spec))
    folded = fuse_for_inference(model)
    x = torch.randn(4, spec.channels, spec.height, spec.width)
    with torch.no_grad():
        assert torch.allclose(model(x), folded(x), atol=1e-5, rtol=0)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched


def test_fused_blocks_fold_to_one_operator_each():
    from lightcnn.models.layers import DepthwisePointwise

    folded = fuse_for_inference(build_model(model_config("mobilenet_fused"), CIFAR))
    assert sum(isinstance(m, DepthwisePointwise) for m in folded.modules()) == 13


def test_internal_variables_by_hand():
    # stem 32×32×32, then per block: plain stores one map, MobileNet two (depthwise + pointwise),
    # fused one; with segments of 2 only the last block of each pair is stored
    widths = [(64, 32), (128, 16), (128, 16), (256, 8), (256, 8), (512, 4), *[(512, 4)] * 5, (1024, 2), (1024, 2)]
    inputs = [(32, 32), (64, 16), (128, 16), (128, 8), (256, 8), (256, 4), *[(512, 4)] * 5, (512, 2), (1024, 2)]
    stem = 32 * 32 * 32
    outputs = [c * s * s for c, s in widths]
    depthwise = [c * s * s for c, s in inputs]
    counts = {
        name: internal_variables(build_model(model_config(name), CIFAR), (3, 32, 32))
        for name in ("plain_cnn", "mobilenet", "mobilenet_fused")
    }
    assert counts["plain_cnn"] == counts["mobilenet_fused"] == stem + sum(outputs)
    assert counts["mobilenet"] == stem + sum(outputs) + sum(depthwise)
    segmented = internal_variables(build_model(model_config("mobilenet_fused", segment=2), CIFAR), (3, 32, 32))
    # stages of 1, 2, 2, 6, 2 blocks → segments end at blocks 0, 2, 4, 6, 8, 10, 12
    assert segmented == stem + sum(outputs[i] for i in (0, 2, 4, 6, 8, 10, 12))


def test_model_fields_report_folded_counts():
    fields, _ = model_fields(build_model(model_config("mobilenet"), CIFAR), (3, 32, 32))
    # folding drops each BN's γ and β and gives its conv a bias: one parameter less per channel
    block_in = [32, 64, 128, 128, 256, 256, *[512] * 6, 1024]
    block_out = [64, 128, 128, 256, 256, *[512] * 6, 1024, 1024]
    bn_channels = 32 + sum(block_in) + sum(block_out)
    assert fields["params_folded"] == fields["params"] - bn_channels == 3_206_282
    assert fields["flops_conv_folded"] == fields["flops_conv"]
    assert fields["internal_variables"] > 0
    resnet_fields, _ = model_fields(build_model(model_config("resnet", depth=20), CIFAR), (3, 32, 32))
    assert "internal_variables" not in resnet_fields


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.width=0", "model.width=0.0 is not allowed: a number > 0"),
        ("model.segment=0", "model.segment=0 is not allowed: an integer >= 1"),
    ],
)
def test_bad_config(compose, override, message):
    name = "mobilenet_fused"
    with pytest.raises(ConfigValueError) as info:
        validate(compose(f"model={name}", override))
    assert message in str(info.value)


def test_segment_must_divide_the_blocks_of_a_stage():
    with pytest.raises(ConfigValueError, match=r"model.segment=4 is not allowed: a divisor of the 6 blocks of stage 4"):
        build_model(model_config("mobilenet_fused", segment=4), CIFAR)


def test_too_small_input_is_rejected():
    with pytest.raises(UserError, match=r"model=mobilenet needs images of at least 16×16 pixels .* gives 8×8"):
        build_model(model_config("mobilenet"), InputSpec(3, 8, 8, 10))


def test_latency_task_records_median_and_iqr(run_config):
    record = run_config("task=latency", "model=mobilenet_fused", "model.width=0.25", "dataset=synthetic",
                        "task.batch_sizes=[1,4]", "task.repeats=3", "task.warmup=1")  # fmt: skip
    cpu = record["latency"]["cpu"]
    assert set(cpu) == {"b1", "b4"} and all(v["repeats"] == 3 and v["median_ms"] > 0 for v in cpu.values())
    assert "cuda" not in record["latency"] or torch.cuda.is_available()
    assert record["latency_folded"] is True and record["internal_variables"] > 0


def test_summarize_ms():
    from lightcnn.tasks.latency import summarize_ms

    assert summarize_ms([0.001, 0.002, 0.003, 0.004, 0.005]) == {"median_ms": 3.0, "iqr_ms": 2.0, "repeats": 5}
