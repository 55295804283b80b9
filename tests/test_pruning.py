"""Structured pruning: models, surgery against fvcore, HRank ranks, rate strings, prune_hrank."""

import pytest
import torch
from torch import nn

from lightcnn.engine.profiling import profile_model
from lightcnn.errors import ConfigValueError
from lightcnn.methods import MethodContext, apply_method
from lightcnn.methods.pruning.hrank import PruneHRankConfig, feature_map_ranks
from lightcnn.methods.pruning.rates import kept_filters, parse_rates
from lightcnn.methods.pruning.surgery import all_convs, prunable_convs, remove_filters
from lightcnn.models import InputSpec, build_model, model_config

CIFAR = InputSpec(3, 32, 32, 10)
HRANK_RESNET56 = "[0.1]+[0.60]*35+[0.0]*2+[0.6]*6+[0.4]*3+[0.1]+[0.4]+[0.1]+[0.4]+[0.1]+[0.4]+[0.1]+[0.4]"


@pytest.mark.parametrize(
    ("name", "params"), [("vgg16", 14_991_946), ("resnet18", 11_173_962), ("resnet34", 21_282_122)]
)
def test_model_counts(name, params):
    model = build_model(model_config(name), CIFAR)
    assert profile_model(model, (3, 32, 32)).params == params
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def counts(model):
    profile = profile_model(model, (3, 32, 32))
    return profile.params, profile.flops_conv


def test_vgg_surgery_falls_exactly_as_the_arithmetic():
    model = build_model(model_config("vgg16"), CIFAR)
    before = counts(model)
    unit = prunable_convs(model)[2]  # conv 128 → 128 at 16×16, consumer conv 128 → 256 at 16×16
    remove_filters(model, unit, torch.arange(0, 128, 2))  # keep 64 of 128
    removed = 64
    params = removed * (64 * 9 + 1) + removed * 2 + removed * 128 * 9  # own weights + bias, BN, consumer inputs
    flops = removed * 64 * 9 * 16 * 16 + removed * 128 * 9 * 16 * 16
    assert counts(model) == (before[0] - params, before[1] - flops)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_last_vgg_conv_feeds_the_classifier():
    model = build_model(model_config("vgg16"), CIFAR)
    before = counts(model)
    remove_filters(model, prunable_convs(model)[-1], torch.arange(500))
    params = 12 * (512 * 9 + 1) + 12 * 2 + 12 * 512  # own, BN, linear inputs
    flops = 12 * 512 * 9 * 2 * 2 + 12 * 512
    assert counts(model) == (before[0] - params, before[1] - flops)


@pytest.mark.parametrize(("name", "width", "side"), [("resnet", 16, 32), ("resnet18", 64, 32)])
def test_resnet_block_surgery(name, width, side):
    model = build_model(model_config(name, **({"depth": 20} if name == "resnet" else {})), CIFAR)
    before = counts(model)
    unit = prunable_convs(model)[0]
    assert unit.conv.endswith("conv1") and unit.consumers[0].endswith("conv2")
    remove_filters(model, unit, torch.arange(width - 4))
    params = 4 * width * 9 + 4 * 2 + 4 * width * 9
    flops = 2 * 4 * width * 9 * side * side
    assert counts(model) == (before[0] - params, before[1] - flops)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_rate_strings():
    rates = parse_rates(HRANK_RESNET56)
    assert len(rates) == 55 and rates[:2] == [0.1, 0.6] and rates[-1] == 0.4
    assert parse_rates("0.3") == [0.3] and parse_rates("[0.1, 0.2]*2") == [0.1, 0.2, 0.1, 0.2]
    with pytest.raises(ConfigValueError, match=r"rates in \[0, 1\) \(found 1.0\)"):
        parse_rates("[0.5]+[1.0]")
    with pytest.raises(ConfigValueError, match="HRank's form"):
        parse_rates("[0.5]*x")
    assert kept_filters(16, 0.6) == 6 and kept_filters(64, 0.4) == 38


def prune(name, rate, **values):
    cfg = PruneHRankConfig(compress_rate=rate)
    return apply_method(build_model(model_config(name, **values), CIFAR), cfg, MethodContext())


def test_hrank_rate_string_on_resnet56_counts():
    # only each block's first conv can go (the others are tied by the residual additions):
    # 541,560 params and 62,337,664 MACs; HRank prints 0.49M and 62.72M
    params, flops = counts(prune("resnet", HRANK_RESNET56, depth=56))
    assert (params, flops) == (541_560, 62_337_664)
    assert flops == pytest.approx(62.72e6, rel=0.01)


@pytest.mark.parametrize(
    ("name", "rate", "message"),
    [
        ("resnet", "[0.5]*3", r"one rate, or one per convolution of this model \(19, not 3\)"),
        ("resnet", "0.99", r"rates that leave at least one of the 16 filters of layer1.0.conv1"),
        ("mobilenet", "0.5", r"a model the pruning surgery supports"),
    ],
)
def test_bad_pruning(name, rate, message):
    with pytest.raises(ConfigValueError, match=message):
        prune(name, rate, **({"depth": 20} if name == "resnet" else {}))


def test_feature_map_ranks_order_filters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 1, bias=False)
            self.bn = nn.BatchNorm2d(2)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.bn(self.conv(x)))

    net = Net().eval()
    with torch.no_grad():
        net.conv.weight.copy_(torch.tensor([[[[1.0]]], [[[0.0]]]]))  # filter 1 outputs zeros: rank 0
    from lightcnn.methods.pruning.surgery import PrunableConv

    ranks = feature_map_ranks(net, [PrunableConv("conv", "bn", "relu", ())], [torch.rand(3, 1, 4, 4)])
    assert ranks[0][0] > ranks[0][1] == 0


def test_prune_hrank_trains_end_to_end(run_config):
    record = run_config("model=resnet", "model.depth=20", "method=prune_hrank", "method.compress_rate=0.5",
                        "method.batches=2", "method.batch_size=16", "dataset=synthetic", "profile=smoke",
                        "trainer.accelerator=cpu")  # fmt: skip
    assert record["status"] == "ok" and record["params"] < 269_722 and record["test_acc"] is not None
    assert len(all_convs(build_model(model_config("resnet", depth=20), CIFAR))) == 19


def test_filter_replacement_copies_important_filters():
    from lightcnn.methods.pruning.hrank import replace_filters

    model = build_model(model_config("vgg16"), CIFAR)
    unit = prunable_convs(model)[0]
    conv = model.get_submodule(unit.conv)
    scores = torch.arange(64, dtype=torch.float)  # filter 63 most important, 0 least
    replaced = replace_filters(model, unit, scores, 0.1, "duplicate_top")  # 6 filters
    assert sorted(replaced) == [0, 1, 2, 3, 4, 5]
    assert all(torch.equal(conv.weight[w], conv.weight[63 - i]) for i, w in enumerate([5, 4, 3, 2, 1, 0]))
    replace_filters(model, unit, scores, 0.1, "replace_with_best")
    assert all(torch.equal(conv.weight[w], conv.weight[63]) for w in range(6))


def test_replacement_retrains_then_prunes_during_training(run_config):
    record = run_config("model=resnet", "model.depth=20", "method=prune_hrank", "method.compress_rate=0.5",
                        "method.replacement=duplicate_top", "method.retrain_epochs=1", "method.batches=1",
                        "method.batch_size=16", "dataset=synthetic", "profile=smoke", "trainer.max_epochs=2",
                        "trainer.accelerator=cpu")  # fmt: skip
    pruned = counts(prune("resnet", "0.5", depth=20))
    assert record["status"] == "ok" and (record["params"], record["flops_conv"]) == pruned
    assert record["epochs"] == 2 and record["test_acc"] is not None
