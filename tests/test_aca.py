"""ACA with partial pivoting, the im2col convolution, the aca_im2col method and task=im2col."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lightcnn.errors import ConfigValueError
from lightcnn.formulas.aca import aca_macs, compression_ratio, direct_conv_macs, factor_bytes, im2col_bytes, wuv_macs
from lightcnn.methods import apply_method
from lightcnn.methods.aca import ACAConv2d, aca
from lightcnn.methods.aca_im2col import ACAIm2colConfig, convolutions
from lightcnn.models import InputSpec, build_model, model_config

CIFAR = InputSpec(3, 32, 32, 10)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(2, 30),
    n=st.integers(2, 60),
    rank=st.integers(1, 6),
    noise=st.sampled_from([0.0, 1e-3, 0.05]),
    eps=st.sampled_from([0.3, 0.1, 0.01]),
    seed=st.integers(0, 10_000),
)
def test_error_is_within_eps_on_low_rank_plus_noise(m, n, rank, noise, eps, seed):
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(3, m, rank, generator=gen) @ torch.randn(3, rank, n, generator=gen)
    d = d + noise * torch.randn(3, m, n, generator=gen)
    result = aca(d, eps)
    assert bool((result.relative_error(d) <= eps * (1 + 1e-4)).all())  # exact stop: no slack
    assert bool((result.rank <= min(m, n)).all())


@settings(max_examples=60, deadline=None)
@given(m=st.integers(3, 25), n=st.integers(3, 40), rank=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_rank_r_matrix_is_recovered_with_rank_at_most_r(m, n, rank, seed):
    gen = torch.Generator().manual_seed(seed)
    factors = (
        torch.randn(2, m, rank, generator=gen, dtype=torch.float64),
        torch.randn(2, rank, n, generator=gen, dtype=torch.float64),
    )
    d = factors[0] @ factors[1]
    result = aca(d, 1e-6)
    assert bool((result.rank <= rank).all())
    assert bool((result.relative_error(d) <= 1e-6).all())


def test_zero_matrices_and_zero_rows():
    zero = aca(torch.zeros(2, 5, 7), 0.1)
    assert zero.rank.tolist() == [0, 0] and torch.equal(zero.reconstruct(), torch.zeros(2, 5, 7))
    torch.manual_seed(0)
    d = torch.randn(1, 8, 3) @ torch.randn(1, 3, 9)
    d[0, [0, 1, 4]] = 0  # the first pivot row is zero: ACA must move on to another row
    result = aca(d, 1e-5)
    assert result.rank.item() == 3 and result.relative_error(d).item() < 1e-5


@pytest.mark.parametrize("stop", ["exact", "estimate"])
def test_a_batch_gives_what_each_matrix_gives_alone(stop):
    """Ranks 1..20 in one batch: finished matrices leave the working batch and the cross slots
    grow while the others go on; neither may change any matrix's result."""
    gen = torch.Generator().manual_seed(0)
    d = torch.stack([torch.randn(40, r, generator=gen) @ torch.randn(r, 50, generator=gen) for r in range(1, 21)])
    d = d + 1e-5 * torch.randn(d.shape, generator=gen)
    batched = aca(d, 0.01, stop=stop)
    alone = [aca(d[i], 0.01, stop=stop) for i in range(len(d))]
    extra = int(stop == "estimate")  # the textbook criterion keeps the cross that showed it was done
    assert batched.rank.tolist() == [a.rank.item() for a in alone] == [r + extra for r in range(1, 21)]
    assert batched.u.shape == (20, 40, batched.rank.max().item())
    for i, a in enumerate(alone):
        torch.testing.assert_close(batched.reconstruct()[i], a.reconstruct()[0], atol=1e-4, rtol=1e-4)


def test_max_rank_caps_and_estimate_rule_can_overshoot():
    torch.manual_seed(0)
    d = torch.rand(4, 27, 200)
    capped = aca(d, 1e-6, max_rank=3)
    assert capped.rank.tolist() == [3, 3, 3, 3]
    estimate = aca(d, 0.1, stop="estimate")
    exact = aca(d, 0.1, stop="exact")
    assert bool((exact.relative_error(d) <= 0.1 + 1e-6).all())
    assert bool((estimate.rank <= exact.rank).all())


def test_conv_is_a_drop_in_and_approximates_within_tolerance():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
    exact = ACAConv2d.from_conv(conv)
    x = torch.rand(4, 3, 12, 12)
    assert torch.allclose(exact(x), conv(x), atol=1e-6)
    approx = ACAConv2d.from_conv(conv, approximate=True, eps=1e-4)
    assert torch.allclose(approx(x), conv(x), atol=1e-3)
    assert approx.last_ranks.shape == (4,)


def test_gradient_rule_is_straight_through():
    torch.manual_seed(0)
    conv = ACAConv2d(2, 4, 3, padding=1, bias=False, approximate=True, eps=0.5)
    x = torch.rand(2, 2, 6, 6, requires_grad=True)
    conv(x).sum().backward()
    reference = torch.nn.Conv2d(2, 4, 3, padding=1, bias=False)
    reference.weight.data.copy_(conv.weight.data)
    x2 = x.detach().clone().requires_grad_(True)
    reference(x2).sum().backward()
    assert torch.allclose(x.grad, x2.grad)  # input gradient: that of the exact im2col
    assert not torch.allclose(conv.weight.grad, reference.weight.grad)  # weight gradient: the approximated D
    approx = aca(conv.im2col(x.detach()), 0.5).reconstruct()  # D ≈ U V, (2, 18, 36)
    by_hand = torch.ones(2, 4, 36) @ approx.transpose(1, 2)  # Σ_b ∂L/∂Y_b · (U_b V_b)ᵀ, ∂L/∂Y = 1
    torch.testing.assert_close(conv.weight.grad, by_hand.sum(0).reshape(4, 2, 3, 3))


def test_method_replaces_the_marked_convolutions():
    model = apply_method(build_model(model_config("aca_cnn"), CIFAR), ACAIm2colConfig(layers="101010"))
    flags = [isinstance(c, ACAConv2d) and c.approximate for _, _, c in convolutions(model)]
    assert flags == [True, False, True, False, True, False]
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ("1000", r"method.layers='1000' is not allowed: exactly 6 characters, one per convolution"),
        ("1000002", r"is not allowed: first, a list of conv indices \(e.g. \[0,2,4\]\), or one character 0 or 1"),
        ("10a000", r"is not allowed: first, a list of conv indices"),
        ("[0,9]", r"method.layers='\[0,9\]' is not allowed: indices below 6, the number of convolutions"),
        ("[]", r"is not allowed: a non-empty list of conv indices"),
    ],
)
def test_bad_masks(layers, message):
    from lightcnn.methods.registry import apply_method as apply

    with pytest.raises(ConfigValueError, match=message):
        apply(build_model(model_config("aca_cnn"), CIFAR), _cfg(layers))


@pytest.mark.parametrize(("name", "values"), [("resnet", {"depth": 20}), ("vgg16", {}), ("mobilenet", {})])
def test_the_default_approximates_the_first_conv_of_any_model(name, values):
    from lightcnn.methods.aca import ACAConv2d
    from lightcnn.methods.registry import apply_method as apply

    model = apply(build_model(model_config(name, **values), CIFAR), ACAIm2colConfig())
    approximated = [i for i, (_, _, conv) in enumerate(convolutions(model)) if isinstance(conv, ACAConv2d)]
    assert approximated == [0]


def test_layers_by_index_or_by_mask_mark_the_same_convs():
    from lightcnn.methods.aca import ACAConv2d
    from lightcnn.methods.registry import apply_method as apply

    def marked(layers):
        model = apply(build_model(model_config("aca_cnn"), CIFAR), ACAIm2colConfig(layers=layers))
        return [i for i, (_, _, conv) in enumerate(convolutions(model)) if isinstance(conv, ACAConv2d)]

    assert marked("[4,0,2]") == marked("101010") == [0, 2, 4] and marked("first") == marked("100000") == [0]


def _cfg(layers):
    try:
        return ACAIm2colConfig(layers=layers)
    except ConfigValueError as err:
        raise err.with_prefix("method") from None


def test_cost_formulas_by_hand():
    assert im2col_bytes(27, 1024, 100) == 11_059_200
    assert factor_bytes(6, 27, 1024) == 6 * 1051 * 4
    assert compression_ratio(2_592_556, 11_059_200) == pytest.approx(0.7656, abs=1e-4)
    assert direct_conv_macs(32, 27, 1024) == 884_736
    assert wuv_macs(32, 27, 1024, 6) == 32 * 6 * 27 + 32 * 6 * 1024
    # crosses 1..3 read 0, 1, 2 earlier crosses on a row and a column; one exact check forms UV
    assert aca_macs(27, 1024, 3, checks=1) == (0 + 1 + 2) * (27 + 1024) + 27 * 1024 * 3
    assert aca_macs(27, 1024, 3, checks=0) == 3 * 1051


def test_im2col_task_reports_the_first_layer(run_config):
    record = run_config("task=im2col", "dataset=synthetic", "dataset.num_test=100", "model=aca_cnn",
                        "method=aca_im2col", "method.layers=100000")  # fmt: skip
    first = record["im2col"]["layer1"]
    assert (first["rows"], first["cols"], first["original_bytes"]) == (27, 1024, 11_059_200)
    assert first["approximated"] and 0 < first["compressed_bytes"] == pytest.approx(
        first["mean_rank"] * 100 * (27 + 1024) * 4
    )
    assert first["ratio"] == pytest.approx(1 - first["compressed_bytes"] / 11_059_200)
    assert first["max_relative_error"] <= 0.1 + 1e-6 and first["direct_macs"] == 32 * 27 * 1024
    assert not record["im2col"]["layer2"]["approximated"] and "compressed_bytes" not in record["im2col"]["layer2"]
    # the record's FLOPs are those of the exact architecture (the approximation is costed above)
    assert record["flops_conv"] == 39_815_680


@pytest.mark.parametrize("stop", ["exact", "estimate"])
def test_ranks_and_errors_are_the_same_inside_a_bf16_autocast(stop):
    """precision=auto trains in bf16 autocast on AMX / AVX-512 BF16 CPUs: ACA's arithmetic stays float32."""
    generator = torch.Generator().manual_seed(0)
    low = torch.randn(32, 27, 6, generator=generator) @ torch.randn(32, 6, 1024, generator=generator)
    d = low + 0.05 * torch.randn(32, 27, 1024, generator=generator)
    plain = aca(d, 0.1, stop=stop)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = aca(d, 0.1, stop=stop)
    assert torch.equal(plain.rank, mixed.rank) and mixed.u.dtype == torch.float32
    assert torch.equal(plain.relative_error(d), mixed.relative_error(d))
