"""Kernel templates (HLAC) and the computation-reuse census of Iuchi and Tsumura, kernel templates."""

import math
import time
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from lightcnn.engine.profiling import count_params, model_fields
from lightcnn.errors import ConfigValueError
from lightcnn.methods import apply_method
from lightcnn.methods.hlac import HLAC_MASKS, hlac_masks, mask_order, translation_class
from lightcnn.methods.reuse import census, histogram, mean_census, pair_counts, value_keys
from lightcnn.methods.templates import TemplateConv2d, TemplateKernelsConfig, first_conv, template_weights
from lightcnn.models import InputSpec, build_model, model_config

CIFAR, MNIST = InputSpec(3, 32, 32, 10), InputSpec(1, 28, 28, 10)


def test_hlac_masks_order_and_classes():
    masks = hlac_masks()
    assert masks.shape == (25, 3, 3) and HLAC_MASKS[0] == "000010000"
    assert [mask_order(m) for m in masks] == [0] + [1] * 4 + [2] * 20
    assert all(m[1, 1] == 1 for m in masks)  # every mask holds the centre
    assert len({translation_class(m) for m in masks}) == 25  # distinct under translation
    # and they cover every class: all ≤ 2 extra pixels around the centre, up to translation
    cells = [(r, c) for r in range(3) for c in range(3) if (r, c) != (1, 1)]
    classes = set()
    for extra in [(), *[(a,) for a in cells], *[(a, b) for i, a in enumerate(cells) for b in cells[i + 1 :]]]:
        mask = torch.zeros(3, 3)
        for r, c in ((1, 1), *extra):
            mask[r, c] = 1
        classes.add(translation_class(mask))
    assert classes == {translation_class(m) for m in masks}


def test_template_weights_are_plus_minus_three_over_sqrt_fan_in():
    weights = template_weights(25, 3)
    bound = 3 / math.sqrt(27)
    assert weights.shape == (25, 3, 3, 3)
    assert torch.equal(weights > 0, hlac_masks()[:, None].expand(25, 3, 3, 3) > 0)
    assert torch.allclose(weights.abs(), torch.full_like(weights, bound))


def test_templates_cut_trainable_first_layer_weights_864_to_189():
    plain = build_model(model_config("template_cnn"), CIFAR)
    fields_plain, _ = model_fields(plain, (3, 32, 32))
    templated = apply_method(build_model(model_config("template_cnn"), CIFAR), TemplateKernelsConfig())
    fields, _ = model_fields(templated, (3, 32, 32))
    assert (fields_plain["first_layer_trainable_params"], fields["first_layer_trainable_params"]) == (864, 189)
    assert fields_plain["trainable_params"] - fields["trainable_params"] == 675
    assert fields["params"] == fields_plain["params"]
    _, _, conv = first_conv(templated)
    assert isinstance(conv, TemplateConv2d) and conv.full_weight().shape == (32, 3, 3, 3)


def test_template_layer_computes_the_same_convolution():
    conv = torch.nn.Conv2d(1, 30, 3, bias=False)
    layer = TemplateConv2d(conv, 25)
    x = torch.randn(2, 1, 8, 8)
    expected = F.conv2d(x, torch.cat([template_weights(25, 1), conv.weight[25:]]))
    assert torch.allclose(layer(x), expected)
    assert count_params(layer) == (30 * 9, 5 * 9)


def test_unsuitable_first_layer_is_rejected():
    with pytest.raises(ConfigValueError, match=r"method.count=25 is not allowed: .*3×3 with 16 filters"):
        apply_method(build_model(model_config("resnet", depth=20), CIFAR), TemplateKernelsConfig())
    with pytest.raises(ConfigValueError, match=r"count=26 is not allowed: an integer in \[1, 25\]"):
        TemplateKernelsConfig(count=26)


def test_fixed_filters_stay_bit_identical_and_get_no_optimizer_state(run_config, tmp_path):
    record = run_config("dataset=synthetic", "model=template_cnn", "method=template_kernels", "profile=smoke",
                        "trainer.accelerator=cpu", "trainer.max_epochs=2", "trainer.weight_decay=0.1",
                        "trainer.checkpoint=true")  # fmt: skip
    assert record["status"] == "ok" and record["first_layer_trainable_params"] == 189
    checkpoint = torch.load(tmp_path / "results/run/checkpoints/last.ckpt", map_location="cpu", weights_only=False)
    fixed = checkpoint["state_dict"]["net.features.0.fixed_weight"]
    assert torch.equal(fixed, template_weights(25, 3))
    trained = checkpoint["state_dict"]["net.features.0.weight"]
    assert trained.shape == (7, 3, 3, 3)
    state = checkpoint["optimizer_states"][0]
    n_trainable = sum(
        1
        for k in checkpoint["state_dict"]
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked", "fixed_weight"))
    )
    assert len(state["param_groups"][0]["params"]) == n_trainable  # the fixed filters are not in the optimizer


# ------------------------------------------------------------------------------------------ census


def brute_force_counts(weight, image, precision):
    """The census the slow way: one Python step per multiplication."""
    f, c, k, _ = weight.shape
    _, h, w = image.shape
    wk = value_keys(weight, precision).view(f, c, k, k)
    xk = value_keys(image, precision).view(c, h, w)
    pairs = Counter()
    for o in range(f):
        for i in range(c):
            for y in range(h - k + 1):
                for x in range(w - k + 1):
                    for dy in range(k):
                        for dx in range(k):
                            pairs[(int(wk[o, i, dy, dx]), int(xk[i, y + dy, x + dx]))] += 1
    return sorted(pairs.values())


def test_tiny_census_by_hand():
    # two 3×3 filters of one value each (1 and 2) over a constant 4×4 image: 2 × 9 × 4 = 72
    # multiplications, two distinct pairs (1·1 and 2·1), each 36 times
    weight = torch.stack([torch.ones(1, 3, 3), 2 * torch.ones(1, 3, 3)])
    image = torch.ones(1, 4, 4)
    counts = pair_counts(weight, image, "float32")
    assert sorted(counts.tolist()) == [36, 36]
    result = census(weight, image, "float32")
    assert (result["distinct"], result["multiplications"], result["ratio"]) == (2, 72, 2 / 72)
    assert result["buckets"]["11-50"] == 2 and sum(result["buckets"].values()) == 2


@pytest.mark.parametrize("precision", ["fixed8", "float16", "float32"])
def test_vectorised_census_equals_brute_force(precision):
    torch.manual_seed(0)
    weight = torch.randn(2, 2, 3, 3).round(decimals=1)
    image = torch.randint(0, 4, (2, 6, 6)).float() / 3
    assert sorted(pair_counts(weight, image, precision).tolist()) == brute_force_counts(weight, image, precision)


def test_bucket_edges_are_inclusive():
    edges = [1, 5, 6, 10, 11, 50, 51, 100, 101, 500, 501, 1000, 1001, 5000, 5001, 10000, 10001, 20000]
    assert histogram(torch.tensor(edges)) == {
        "1-5": 2,
        "6-10": 2,
        "11-50": 2,
        "51-100": 2,
        "101-500": 2,
        "501-1000": 2,
        "1001-5000": 2,
        "5001-10000": 2,
        ">10000": 2,
    }


def test_fixed8_keys():
    values = torch.tensor([-1.0, -0.5, 0.0, 0.004, 0.5, 1.0])
    q = value_keys(values, "fixed8")
    assert q.tolist() == [(-127) & 0xFF, (-64) & 0xFF, 0, 1, 64, 127]  # s = 1/127, half to even


def test_cifar_net_first_layer_does_777600_multiplications_fast():
    model = build_model(model_config("template_cnn"), CIFAR)
    _, _, conv = first_conv(model)
    image = torch.randint(0, 256, (3, 32, 32)).float() / 255
    started = time.perf_counter()
    results = [census(conv.weight.detach(), image, p) for p in ("fixed8", "float16", "float32")]
    assert time.perf_counter() - started < 10
    assert all(r["multiplications"] == 32 * 3 * 30 * 30 * 9 == 777_600 for r in results)
    mean = mean_census(results[:1] * 3)
    assert mean["images"] == 3 and mean["distinct"] == results[0]["distinct"]


def test_reuse_task_record(run_config):
    records = {
        method: run_config(
            "task=reuse", "dataset=synthetic", "model=template_cnn", f"method={method}", "task.images=2", name=method
        )  # fmt: skip
        for method in ("none", "template_kernels")
    }
    for record in records.values():
        assert set(record["reuse"]) == {"fixed8", "float16", "float32"}
        assert record["reuse"]["float32"]["multiplications"] == 777_600 and record["reuse"]["float32"]["images"] == 2
    assert records["template_kernels"]["reuse"]["float32"]["distinct"] < records["none"]["reuse"]["float32"]["distinct"]
    assert records["none"]["reuse_images"] == records["template_kernels"]["reuse_images"]  # same seeded images
