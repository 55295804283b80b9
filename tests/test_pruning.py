"""Structured pruning: models, surgery against fvcore, HRank ranks, rate strings, prune_hrank."""

import hashlib

import pytest
import torch
from torch import nn

from lightcnn.engine.profiling import profile_model
from lightcnn.errors import ConfigValueError, UserError
from lightcnn.formulas.pruning import ConvShape, hrank_counts
from lightcnn.methods import MethodContext, apply_method
from lightcnn.methods.pruning.hrank import PruneHRankConfig
from lightcnn.methods.pruning.importance import feature_map_ranks
from lightcnn.methods.pruning.rates import kept_filters, parse_rates
from lightcnn.methods.pruning.surgery import ScatterChannels, all_convs, params_after, prunable_convs, remove_filters
from lightcnn.models import InputSpec, build_model, is_slow, model_config, model_names

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
    unit = prunable_convs(model, (3, 32, 32))[2]  # conv 128 → 128 at 16×16, consumer conv 128 → 256 at 16×16
    remove_filters(model, unit, torch.arange(0, 128, 2))  # keep 64 of 128
    removed = 64
    params = removed * (64 * 9 + 1) + removed * 2 + removed * 128 * 9  # own weights + bias, BN, consumer inputs
    flops = removed * 64 * 9 * 16 * 16 + removed * 128 * 9 * 16 * 16
    assert counts(model) == (before[0] - params, before[1] - flops)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_last_vgg_conv_feeds_the_classifier():
    model = build_model(model_config("vgg16"), CIFAR)
    before = counts(model)
    remove_filters(model, prunable_convs(model, (3, 32, 32))[-1], torch.arange(500))
    params = 12 * (512 * 9 + 1) + 12 * 2 + 12 * 512  # own, BN, linear inputs
    flops = 12 * 512 * 9 * 2 * 2 + 12 * 512
    assert counts(model) == (before[0] - params, before[1] - flops)


@pytest.mark.parametrize(("name", "width", "side"), [("resnet", 16, 32), ("resnet18", 64, 32)])
def test_resnet_block_surgery(name, width, side):
    model = build_model(model_config(name, **({"depth": 20} if name == "resnet" else {})), CIFAR)
    before = counts(model)
    unit = prunable_convs(model, (3, 32, 32))[1]  # the first block's first conv
    assert unit.conv == "layer1.0.conv1" and unit.consumers == ("layer1.0.conv2",) and not unit.scatter
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
    assert kept_filters(16, 0.6) == 7 and kept_filters(64, 0.4) == 39  # HRank: int(rate · c) filters go
    assert kept_filters(100, 0.29) == 72  # 0.29 · 100 = 28.999…: HRank's int() truncates too


def prune(name, rate, **values):
    cfg = PruneHRankConfig(compress_rate=rate)
    return apply_method(build_model(model_config(name, **values), CIFAR), cfg, MethodContext(input_shape=(3, 32, 32)))


def test_hrank_rate_string_on_resnet56_counts():
    context = MethodContext(input_shape=(3, 32, 32))
    cfg = PruneHRankConfig(compress_rate=HRANK_RESNET56)
    model = apply_method(build_model(model_config("resnet", depth=56), CIFAR), cfg, context)
    # HRank's own count (inputs of every conv counted unpruned) lands on its published 0.49M / 62.72M
    assert (context.fields["params_hrank_count"], context.fields["flops_hrank_count"]) == (489_359, 62_715_530)
    assert context.fields["params_hrank_count"] == pytest.approx(0.49e6, rel=0.03)
    assert context.fields["flops_hrank_count"] == pytest.approx(62.72e6, rel=0.03)
    # the physically pruned net also loses the next conv's inputs: fvcore counts it smaller
    assert counts(model) == (414_917, 48_443_968)
    assert context.fields["kept_filters"]["conv1"] == 15 and context.fields["kept_filters"]["layer1.0.conv1"] == 7


@pytest.mark.parametrize(
    ("name", "values", "rate", "published"),
    [
        ("resnet", {"depth": 110}, "[0.1]+[0.40]*36+[0.40]*36+[0.4]*36", (1.04e6, 156.90e6)),  # README's corrected
        ("vgg16", {}, "[0.95]+[0.5]*6+[0.9]*4+[0.8]*2", (2.64e6, 108.61e6)),
    ],
)
def test_hrank_counts_of_other_published_settings(name, values, rate, published):
    context = MethodContext(input_shape=(3, 32, 32))
    apply_method(build_model(model_config(name, **values), CIFAR), PruneHRankConfig(compress_rate=rate), context)
    fields = context.fields
    assert fields["flops_hrank_count"] == pytest.approx(published[1], rel=0.01)
    # ResNet-110 within 1.5%; VGG-16 10.7% above: HRank's 2.64M matches its convs alone (2.654M), without the
    # 0.27M of its two linear layers, which its counter otherwise counts
    assert fields["params_hrank_count"] == pytest.approx(published[0], rel=0.015 if name == "resnet" else 0.11)


VGG_HRANK_RATES = "[0.95]+[0.5]*6+[0.9]*4+[0.8]+[0.0]"  # experiments/pruning/rl.yaml


def test_vgg_hrank_row_prunes_hranks_12_convs_and_pins_hranks_count():
    """HRank ranks 12 of VGG-16's 13 convs (its relucfg) and its counter sets the 13th rate to 0, so the
    spec's row keeps the 13th whole. HRank's counting rule on that network, by hand: conv i keeps
    c_i − int(r_i·c_i) filters, counted with all c_(i−1) inputs (3×3, bias), at 32², 16², 8², 4², 2² pixels;
    plus the linear layers 512·512+512 and 512·10+10 (once as params, once as FLOPs)."""
    from conftest import ROOT

    from lightcnn.results.spec_loading import load_spec

    spec = load_spec(ROOT / "experiments" / "pruning" / "rl.yaml")
    row = next(r for r in spec.rows if r.label == "VGG-16, HRank (layer by layer)")
    assert f"method.compress_rate='{VGG_HRANK_RATES}'" in row.overrides
    widths = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    pixels = [32 * 32] * 2 + [16 * 16] * 2 + [8 * 8] * 3 + [4 * 4] * 3 + [2 * 2] * 3
    rates = [0.95] + [0.5] * 6 + [0.9] * 4 + [0.8] + [0.0]
    linear = 512 * 512 + 512 + 512 * 10 + 10
    kept = [c - int(r * c) for c, r in zip(widths, rates, strict=True)]
    weights = [k * c_in * 9 for k, c_in in zip(kept, [3, *widths[:-1]], strict=True)]
    params = sum(weights) + sum(kept) + linear
    flops = sum(w * p for w, p in zip(weights, pixels, strict=True)) + linear
    assert (params, flops) == (4_808_145, 116_629_002)
    context = MethodContext(input_shape=(3, 32, 32))
    model = apply_method(
        build_model(model_config("vgg16"), CIFAR), PruneHRankConfig(compress_rate=VGG_HRANK_RATES), context
    )
    assert (context.fields["params_hrank_count"], context.fields["flops_hrank_count"]) == (params, flops)
    assert model.get_submodule(all_convs(model)[-1]).out_channels == 512  # the 13th conv is kept whole
    assert counts(model)[0] == 1_353_859  # the physically pruned network


def test_hrank_count_by_hand():
    # conv 3 → 8 (bias) at 4×4, rate 0.5: 4 kept; conv 8 → 4 at 2×2, rate 0.25: 3 kept; a linear of 20 weights+bias
    convs = [ConvShape(3, 8, 9, 16, bias=True), ConvShape(8, 4, 9, 4)]
    params = 4 * 3 * 9 + 4 + 3 * 8 * 9 + 20
    flops = 4 * 3 * 9 * 16 + 3 * 8 * 9 * 4 + 20
    assert hrank_counts(convs, [0.5, 0.25], 20) == (params, flops)
    with pytest.raises(ValueError, match="1 rates for 2 convolutions"):
        hrank_counts(convs, [0.5], 20)


@pytest.mark.parametrize(
    ("name", "values"), [("vgg16", {}), ("resnet", {"depth": 20}), ("resnet18", {}), ("resnet34", {})]
)
def test_params_after_matches_the_surgery(name, values):
    model = build_model(model_config(name, **values), CIFAR)
    units = prunable_convs(model, (3, 32, 32))
    generator = torch.Generator().manual_seed(0)
    kept = [int(torch.randint(1, model.get_submodule(u.conv).out_channels + 1, (), generator=generator)) for u in units]
    predicted = params_after(model, units, kept)
    for unit, count in zip(units, kept, strict=True):
        remove_filters(model, unit, torch.randperm(model.get_submodule(unit.conv).out_channels)[:count])
    assert counts(model)[0] == predicted
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize(
    ("name", "conv"), [("resnet", "conv1"), ("resnet", "layer2.0.conv2"), ("resnet18", "layer2.0.shortcut.0")]
)
def test_residual_stream_convs_compute_only_their_kept_filters(name, conv):
    """Pruning a conv that writes into the residual stream equals masking its filters (HRank's
    masks): same outputs, fewer weights and multiply-accumulates."""
    model = build_model(model_config(name, **({"depth": 20} if name == "resnet" else {})), CIFAR).eval()
    unit = next(u for u in prunable_convs(model, (3, 32, 32)) if u.conv == conv)
    assert unit.scatter and unit.consumers == ()
    layer = model.get_submodule(conv)
    keep = torch.arange(0, layer.out_channels, 2)
    dropped = torch.ones(layer.out_channels, dtype=torch.bool)
    dropped[keep] = False
    images = torch.randn(4, 3, 32, 32)
    handle = model.get_submodule(unit.bn).register_forward_hook(lambda m, i, out: out * ~dropped.view(1, -1, 1, 1))
    masked = model(images)
    handle.remove()
    before = counts(model)
    remove_filters(model, unit, keep)
    removed = int(dropped.sum())
    area = layer.weight[0, 0].numel() * layer.in_channels
    assert isinstance(model.get_submodule(unit.bn), ScatterChannels)
    assert counts(model)[0] == before[0] - removed * area - 2 * removed
    torch.testing.assert_close(model(images), masked, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "rate", "message"),
    [
        ("resnet", "[0.5]*3", r"one rate, or one per prunable convolution of this model \(19, not 3\)"),
        ("resnet", "[0.5]*18+[1.0]", r"rates in \[0, 1\) \(found 1.0\)"),
        ("mobilenet", "[0.5]*27", r"one per prunable convolution of this model \(14, not 27\)"),
    ],
)
def test_bad_pruning(name, rate, message):
    with pytest.raises(ConfigValueError, match=message):
        prune(name, rate, **({"depth": 20} if name == "resnet" else {}))


def test_a_rate_below_one_keeps_a_filter_and_no_pruning_removes_all():
    model = prune("resnet", "0.99", depth=20)
    assert model.conv1.out_channels == 1 and model.layer3[2].conv1.out_channels == 1  # 16 − int(15.84), 64 − int(63.36)
    unit = prunable_convs(model, (3, 32, 32))[1]
    with pytest.raises(UserError, match="pruning would remove every one of the 1 filters of layer1.0.conv1"):
        remove_filters(model, unit, torch.tensor([], dtype=torch.long))


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
    from lightcnn.methods.pruning.replacement import replace_filters

    model = build_model(model_config("vgg16"), CIFAR)
    unit = prunable_convs(model, (3, 32, 32))[0]
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


def test_pruning_steps():
    from lightcnn.methods.pruning.hrank import pruning_steps

    assert pruning_steps(PruneHRankConfig(retrain_epochs=2), 3) == {2: [0, 1, 2]}
    layerwise = PruneHRankConfig(mode="layerwise", layer_epochs=4, retrain_epochs=1)
    assert pruning_steps(layerwise, 3) == {1: [0], 5: [1], 9: [2]}


SMOKE_RESNET20 = ("model=resnet", "model.depth=20", "method=prune_hrank", "method.compress_rate=0.5",
                  "method.batches=1", "method.batch_size=16", "dataset=synthetic", "profile=smoke",
                  "trainer.accelerator=cpu")  # fmt: skip


def test_layerwise_pruning_prunes_one_conv_per_segment(run_config):
    record = run_config(*SMOKE_RESNET20, "method.mode=layerwise", "method.layer_epochs=1", "trainer.max_epochs=20",
                        "dataset.val_fraction=0.1", "trainer.checkpoint=true")  # fmt: skip
    assert record["status"] == "ok" and record["epochs"] == 20
    # the best-validation checkpoint is one of the pruned net (those before the last pruning are dropped)
    assert record["test_acc_at_best_val"] is not None
    assert (record["params"], record["flops_conv"]) == counts(prune("resnet", "0.5", depth=20))
    assert record["params_hrank_count"] > record["params"] and record["test_acc"] is not None


@pytest.mark.slow
def test_layerwise_schedule_longer_than_training_is_refused(lightcnn, tmp_path):
    result = lightcnn(*SMOKE_RESNET20, "method.mode=layerwise", "method.layer_epochs=2", "trainer.max_epochs=5")
    assert result.returncode == 2
    assert "method.layer_epochs='36 (the epoch of the last pruning step)'" in result.stderr
    assert "before trainer.max_epochs=5" in result.stderr


def test_pretrained_auto_is_pinned_to_the_exact_baseline_run(run_config, tmp_path):
    base = ("model=resnet", "model.depth=20", "dataset=synthetic", "profile=smoke", "trainer.accelerator=cpu")
    prune = (*base, "method=prune_hrank", "method.pretrained=auto", "method.batches=1", "trainer.lr=0.01")
    with pytest.raises(
        UserError,
        match=r"method.pretrained=auto: no finished run of config \w+ .*make it with: "
        r"lightcnn model=resnet model.depth=20 dataset=synthetic profile=smoke .*method=none task=train "
        r"trainer.checkpoint=true  \(or",  # smoke keeps no checkpoint: the one command that works
    ):
        run_config(*prune, name="alone")
    assert not (tmp_path / "results" / "alone").exists()
    # a baseline of another profile (or seed) is not this run's baseline
    run_config(*[o for o in base if o != "profile=smoke"], "profile=smoke", "seed=1", "method=none", name="seed1")
    with pytest.raises(UserError, match="no finished run"):
        run_config(*prune, name="alone")
    run_config(*base, "method=none", name="no-checkpoint")  # profile=smoke keeps none unless asked
    with pytest.raises(UserError, match=r"kept no checkpoint \(trainer.checkpoint=false\); run it again with one: "
                       r"lightcnn .* trainer.checkpoint=true skip_existing=false$"):  # fmt: skip
        run_config(*prune, name="alone")
    trained = run_config(*base, "method=none", "trainer.checkpoint=true", name="unpruned")
    pruned = run_config(*prune, name="pruned")
    checkpoint = tmp_path / "results" / "unpruned" / "checkpoints" / "last.ckpt"
    assert pruned["pretrained_checkpoint"] == str(checkpoint)
    assert pruned["depends_on"] == {
        "key": "method.pretrained",
        "run_id": trained["run_id"],
        "config_hash": trained["config_hash"],
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
    }
    # a new baseline is a new config for the pruned run: it runs again instead of being skipped
    retrained = run_config(
        *base, "method=none", "trainer.max_epochs=1", "trainer.checkpoint=true", name="unpruned-again"
    )
    assert retrained["config_hash"] == trained["config_hash"]
    again = run_config(*prune, name="pruned-again")
    assert again["depends_on"]["run_id"] == retrained["run_id"] and again["config_hash"] != pruned["config_hash"]
    with pytest.raises(ConfigValueError, match="null, auto, or an existing lightcnn checkpoint"):
        run_config(*base, "method=prune_hrank", f"method.pretrained={tmp_path / 'missing.ckpt'}", name="bad")


def test_a_stream_conv_pruned_twice_keeps_its_original_places():
    model = build_model(model_config("resnet", depth=20), CIFAR).eval()
    unit = prunable_convs(model, (3, 32, 32))[0]  # the stem
    remove_filters(model, unit, torch.arange(4, 16))  # original filters 4…15
    remove_filters(model, unit, torch.tensor([0, 2]))  # of those, the first and third: original 4 and 6
    scattered = model.get_submodule(unit.bn)
    assert scattered.index.tolist() == [4, 6] and scattered.channels == 16
    assert model.conv1.out_channels == 2 and model(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-0.5", r"rates in \[0, 1\) \(found -0.5\)"),
        ("nan", r"rates in \[0, 1\) \(found nan\)"),
        ("inf", r"found inf"),
        ("[abc]*19", "a number in \\[0, 1\\) or HRank's form"),
        ("[0.1]+[1.0]", r"found 1.0"),
        ("[]", "HRank's form"),
    ],
)
def test_bad_rate_strings_are_refused_naming_the_key(text, message):
    with pytest.raises(ConfigValueError, match=r"compress_rate='.*' is not allowed: .*" + message):
        parse_rates(text)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if is_slow(n) else n for n in model_names()])
def test_every_registered_model_prunes_from_its_graph(name):
    """Any model × pruning: the units come from the traced graph (no attribute names); after
    removing random filters from every unit fvcore counts what params_after predicted, and the
    pruned network equals the masked one (each unit's dropped channels zeroed where they leave it)."""
    small = {"depth": 20} if "depth" in model_config(name).__dataclass_fields__ else {}
    model = build_model(model_config(name, **small), CIFAR).eval()
    units = prunable_convs(model, (3, 32, 32))
    convs = all_convs(model)
    depthwise = [c for c in convs if model.get_submodule(c).groups > 1]
    assert [u.conv for u in units] == [c for c in convs if c not in depthwise]  # module order: HRank's rate order
    generator = torch.Generator().manual_seed(0)
    keeps = []
    for unit in units:
        channels = model.get_submodule(unit.conv).out_channels
        keeps.append(torch.randperm(channels, generator=generator)[: max(1, channels // 2)].sort().values)
    images = torch.randn(2, 3, 32, 32)
    hooks = []
    for unit, keep in zip(units, keeps, strict=True):
        mask = torch.zeros(model.get_submodule(unit.conv).out_channels)
        mask[keep] = 1.0
        hooks.append(model.get_submodule(unit.bn or unit.conv).register_forward_hook(
            lambda m, i, out, mask=mask: out * mask.view(1, -1, 1, 1)))  # fmt: skip
    with torch.no_grad():
        masked = model(images)
    for hook in hooks:
        hook.remove()
    predicted = params_after(model, units, [len(k) for k in keeps])
    before = counts(model)
    for unit, keep in zip(units, keeps, strict=True):
        remove_filters(model, unit, keep)
    after = counts(model)
    assert after[0] == predicted and after[0] < before[0] and after[1] < before[1]
    with torch.no_grad():
        torch.testing.assert_close(model(images), masked, rtol=1e-3, atol=1e-4)


def test_a_mobilenet_pointwise_conv_takes_its_depthwise_follower_and_the_next_input_with_it():
    model = build_model(model_config("mobilenet"), CIFAR).eval()
    unit = prunable_convs(model, (3, 32, 32))[0]  # the stem: 32 filters, then a depthwise 3×3 and a pointwise 32 → 64
    (depthwise,) = [f for f in unit.followers if isinstance(model.get_submodule(f), nn.Conv2d)]
    (pointwise,) = unit.consumers
    assert not unit.scatter and model.get_submodule(depthwise).groups == 32
    before = counts(model)
    remove_filters(model, unit, torch.arange(24))  # 8 of 32 go
    params = (
        8 * 3 * 9 + 8 * 2 + 8 * 9 + 8 * 2 + 8 * 64
    )  # stem weights, its BN, depthwise weights, its BN, pointwise inputs
    assert counts(model)[0] == before[0] - params
    assert model.get_submodule(depthwise).groups == 24 and model.get_submodule(pointwise).in_channels == 24


class _Images:
    """What HRank-style pruning reads of a data module: training images and their transform."""

    def __init__(self, images: torch.Tensor) -> None:
        self.data = type("Data", (), {"train_x": images})()

    def transform(self, chunk: torch.Tensor, train: bool) -> torch.Tensor:
        return chunk.float() / 255


def kept_first_filters(importance: str, seed: int = 0) -> torch.Tensor:
    """The weights of the filters the first conv of ResNet-20 keeps at rate 0.5 under ``importance``."""
    torch.manual_seed(0)
    model = build_model(model_config("resnet", depth=20), CIFAR)
    with torch.no_grad():  # filter i of the first conv has L1 norm proportional to i + 1
        model.conv1.weight.copy_(torch.arange(1.0, 17.0)[:, None, None, None].expand_as(model.conv1.weight) / 27)
    original = model.conv1.weight.detach().clone()
    cfg = PruneHRankConfig(compress_rate="0.5", importance=importance, batches=1, batch_size=4, pretrained=None)
    torch.manual_seed(seed)  # the run's seed: random importance draws from it
    context = MethodContext(datamodule=_Images(torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)),
                            input_shape=(3, 32, 32))  # fmt: skip
    pruned = apply_method(model, cfg, context)
    kept = [int(torch.where((original == w).flatten(1).all(1))[0][0]) for w in pruned.conv1.weight.detach()]
    return torch.tensor(kept)


def test_importance_is_a_choice_l1_keeps_the_largest_filters_random_follows_the_seed():
    assert kept_first_filters("l1").tolist() == list(range(8, 16))
    first, again, other = (
        kept_first_filters("random", 0),
        kept_first_filters("random", 0),
        kept_first_filters("random", 1),
    )
    assert len(first) == 8 and torch.equal(first, again) and not torch.equal(first, other)
    assert len(kept_first_filters("rank")) == 8
    with pytest.raises(ConfigValueError, match="importance='taylor' is not allowed: one of rank, l1, random"):
        PruneHRankConfig(importance="taylor")


def test_an_rl_search_under_ddp_is_refused_before_any_process_starts(run_config):
    message = r"method=prune_rl searches in one process, not 2 DDP processes: run it with trainer=default"
    with pytest.raises(UserError, match=message):
        run_config("model=resnet", "model.depth=20", "dataset=synthetic", "profile=smoke", "trainer=ddp",
                   "trainer.accelerator=cpu", "trainer.devices=2", "trainer.max_epochs=2", "method=prune_rl",
                   "dataset.val_fraction=0.25")  # fmt: skip


def test_a_pruned_run_records_its_counts_before_the_method(run_config):
    record = run_config("task=profile", "model=resnet", "model.depth=20", "method=prune_hrank")
    assert (record["params_before"], record["flops_before"]) == (269_722, 40_551_040)
    assert record["params"] < record["params_before"] and record["flops_conv"] < record["flops_before"]


def test_a_run_without_a_method_records_no_counts_before_it(run_config):
    assert "params_before" not in run_config("task=profile", "model=resnet", "model.depth=20")


def test_hrank_ranks_follow_one_rule_inside_and_outside_autocast():
    """Feature-map ranks are taken from a float32 forward pass with autocast off and computed on
    the CPU, so one-shot ranking (before training) and scheduled ranking (between epochs of a bf16
    run, or on a GPU) choose the same filters: under bf16 autocast 80 of ResNet-20's filters
    ranked differently before."""
    from lightcnn.methods.pruning.graph import prunable_convs
    from lightcnn.methods.pruning.importance import feature_map_ranks
    from lightcnn.models import build_model, model_config
    from lightcnn.models.registry import InputSpec

    torch.manual_seed(0)
    net = build_model(model_config("resnet", depth=20), InputSpec(3, 32, 32, 10))
    units = prunable_convs(net, (3, 32, 32))
    batches = [torch.randn(8, 3, 32, 32)]
    outside = feature_map_ranks(net, units, batches)
    with torch.autocast("cpu", torch.bfloat16):
        inside = feature_map_ranks(net, units, batches)
    assert all(torch.equal(a, b) for a, b in zip(outside, inside, strict=True))
