"""OctConv and Pointwise OctConv: layers against eq. 3–14, models against the paper's counts."""

import itertools

import pytest
import torch
from fvcore.nn import FlopCountAnalysis

from lightcnn.config import validate
from lightcnn.engine.profiling import profile_model
from lightcnn.errors import ConfigValueError
from lightcnn.formulas.octconv import (
    bottleneck_flops,
    bottleneck_params,
    oct_flops,
    oct_params,
    oct_path_flops,
    pointwise_path_flops,
    pointwise_path_params,
)
from lightcnn.models import InputSpec, build_model
from lightcnn.models.oct_resnet import OctResNetConfig, PwiseOctResNetConfig
from lightcnn.models.octconv import OctConv2d, PointwiseOctConv2d, split_channels

CIFAR = InputSpec(3, 32, 32, 10)


def whole(c, alpha, beta=1):
    high, low = split_channels(c, alpha)
    return alpha * c == low and all(x % beta == 0 for x in (high, low))


def oct_input(c, alpha, h):
    high, low = split_channels(c, alpha)
    return (torch.randn(1, high, h, h) if high else None, torch.randn(1, low, h // 2, h // 2) if low else None)


def conv_flops_by_path(layer, inputs):
    analysis = FlopCountAnalysis(layer, (inputs,)).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_module = analysis.by_module_and_operator()
    return {p: by_module.get(f"paths.{p}", {}).get("conv", 0) for p in ("hh", "hl", "lh", "ll")}


CASES = [
    (c, a, k, h)
    for c, a, k, h in itertools.product((8, 16, 32), (0.0, 0.25, 0.5, 0.75, 1.0), (1, 3, 5), (8, 16))
    if whole(c, a)
]


@pytest.mark.parametrize(("c", "alpha", "k", "h"), CASES)
def test_octconv_matches_eq_3_to_8(c, alpha, k, h):
    layer = OctConv2d(c, c, k, alpha, alpha)
    by_path = conv_flops_by_path(layer, oct_input(c, alpha, h))
    assert by_path == pytest.approx(oct_path_flops(h, h, k, c, alpha))
    assert sum(by_path.values()) == pytest.approx(oct_flops(h, h, k, c, alpha))
    assert sum(p.numel() for p in layer.parameters()) == pytest.approx(oct_params(k, c, alpha)) == k * k * c * c


PW_CASES = [
    (c, a, b, k, h)
    for c, a, b, k, h in itertools.product((16, 32), (0.25, 0.5, 0.75), (1, 2, 4), (1, 3), (8, 16))
    if whole(c, a, b)
]


@pytest.mark.parametrize(("c", "alpha", "beta", "k", "h"), PW_CASES)
def test_pointwise_octconv_matches_eq_10_to_14(c, alpha, beta, k, h):
    layer = PointwiseOctConv2d(c, c, k, alpha, alpha, beta=beta)
    by_path = conv_flops_by_path(layer, oct_input(c, alpha, h))
    assert by_path == pytest.approx(pointwise_path_flops(h, h, k, c, alpha, beta))
    params = {p: sum(t.numel() for t in m.parameters()) for p, m in layer.paths.items()}
    assert params == pytest.approx(pointwise_path_params(k, c, alpha, beta))


@pytest.mark.parametrize(("c", "f", "k", "beta", "w"), [(16, 16, 3, 2, 32), (8, 32, 3, 4, 16), (32, 16, 5, 2, 8)])
def test_bottleneck_eq_9_and_14_against_fvcore(c, f, k, beta, w):
    from lightcnn.models.octconv import bottleneck

    module = bottleneck(c, f, k, beta)
    analysis = FlopCountAnalysis(module, torch.randn(1, c, w, w))
    assert analysis.total() == bottleneck_flops(w, w, k, c, f, beta)
    assert sum(p.numel() for p in module.parameters()) == bottleneck_params(k, c, f, beta)


def test_paper_example_bottleneck_saves_63_9_percent():
    # §5.3: w = 32, c = f = 16, k = 3, β = 2 cuts computation and parameters by about 63.9%
    assert 1 - bottleneck_flops(32, 32, 3, 16, 16, 2) / (32 * 32 * 9 * 16 * 16) == pytest.approx(0.639, abs=5e-4)
    assert 1 - bottleneck_params(3, 16, 16, 2) / (9 * 16 * 16) == pytest.approx(0.639, abs=5e-4)


def test_stride_two_pools_instead_of_striding():
    layer = OctConv2d(16, 32, 3, 0.25, 0.25, stride=2)
    high, low = layer(oct_input(16, 0.25, 16))
    assert high.shape == (1, 24, 8, 8) and low.shape == (1, 8, 4, 4)


def test_first_and_last_layers():
    first = OctConv2d(16, 16, 3, 0.0, 0.25)
    assert sorted(first.paths) == ["hh", "hl"]
    high, low = first(torch.randn(2, 16, 8, 8))
    assert high.shape == (2, 12, 8, 8) and low.shape == (2, 4, 4, 4)
    last = OctConv2d(16, 16, 3, 0.25, 0.0)
    assert sorted(last.paths) == ["hh", "lh"]
    high, low = last((high, low))
    assert high.shape == (2, 16, 8, 8) and low is None


def test_channel_rule_is_floor():
    assert split_channels(16, 0.25) == (12, 4)
    assert split_channels(10, 0.3) == (7, 3)  # 0.3·10 = 2.9999… in floating point: still 3
    assert split_channels(10, 0.25) == (8, 2)


# ---------------------------------------------------------------------------------------- models

# (config, published params, published FLOPs) — Tables 1 and 4 of Inoue and Goto, Pointwise OctConv
PUBLISHED = [
    (OctResNetConfig(depth=56, alpha=0.25), 0.86e6, 0.85e8),
    (OctResNetConfig(depth=56, alpha=0.75), 0.86e6, 0.38e8),
    (OctResNetConfig(depth=110, alpha=0.25), 1.74e6, 1.71e8),
    (OctResNetConfig(depth=110, alpha=0.75), 1.74e6, 0.76e8),
]


@pytest.mark.parametrize(("cfg", "params", "flops"), PUBLISHED)
def test_oct_resnet_within_3_percent_of_the_paper(cfg, params, flops):
    profile = profile_model(build_model(cfg, CIFAR), (3, 32, 32))
    assert profile.params == pytest.approx(params, rel=0.03)
    assert profile.flops_conv == pytest.approx(flops, rel=0.03)


def test_alpha_zero_is_the_plain_resnet():
    profile = profile_model(build_model(OctResNetConfig(depth=56, alpha=0.0), CIFAR), (3, 32, 32))
    assert (profile.params, profile.flops_conv) == (853_018, 125_485_696)


def test_pointwise_readings_of_table_1():
    per_path = profile_model(build_model(PwiseOctResNetConfig(depth=56, alpha=0.25), CIFAR), (3, 32, 32))
    shared = profile_model(
        build_model(PwiseOctResNetConfig(depth=56, alpha=0.25, bottleneck="shared"), CIFAR), (3, 32, 32)
    )
    assert per_path.params == pytest.approx(0.39e6, rel=0.02)  # eq. 14 summed per path
    assert shared.params == pytest.approx(0.31e6, rel=0.03)  # the paper's printed 0.31M


def test_models_run_forward_and_backward():
    for cfg in (
        OctResNetConfig(depth=20, alpha=0.5),
        PwiseOctResNetConfig(depth=20, alpha=0.25, paths=["hl"]),
        PwiseOctResNetConfig(depth=20, alpha=0.75, bottleneck="shared", paths=["hh", "lh"]),
    ):
        model = build_model(cfg, CIFAR)
        model(torch.randn(2, 3, 32, 32)).sum().backward()
        assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.alpha=1.5", "model.alpha=1.5 is not allowed: a number in [0, 1]"),
        ("model.beta=0", "model.beta=0 is not allowed: a positive integer"),
        (
            "model.paths=[hh,xx]",
            "model.paths=['hh', 'xx'] is not allowed: a non-empty subset of ['hh', 'hl', 'lh', 'll']",
        ),
        ("model.paths=[]", "model.paths=[] is not allowed: a non-empty subset"),
        ("model.bottleneck=both", "model.bottleneck='both' is not allowed: one of per_path, shared"),
    ],
)
def test_bad_pointwise_config(compose, override, message):
    with pytest.raises(ConfigValueError) as info:
        validate(compose("model=pwise_oct_resnet", override))
    assert message in str(info.value)


def test_beta_larger_than_a_path_is_rejected_when_building():
    with pytest.raises(
        ConfigValueError, match=r"model.beta=8 is not allowed: .*at most the 4 output channels of path hl"
    ):
        build_model(PwiseOctResNetConfig(depth=20, alpha=0.25, beta=8, paths=["hl"]), CIFAR)


@pytest.mark.parametrize(
    "model",
    [
        ["model=oct_resnet", "model.alpha=0.5"],
        ["model=pwise_oct_resnet", "model.bottleneck=per_path"],
        ["model=pwise_oct_resnet", "model.bottleneck=shared", "model.paths=[hl,lh]"],
    ],
)
def test_each_variant_trains_a_few_steps_and_writes_its_record(run_config, model):
    record = run_config(*model, "model.depth=20", "dataset=synthetic", "profile=smoke", "trainer.accelerator=cpu")
    assert record["status"] == "ok" and record["model"] == model[0].split("=")[1]
    assert record["test_acc"] is not None
