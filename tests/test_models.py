import pytest
import torch

from lightcnn.config import ModelConfig
from lightcnn.engine.profiling import profile_model
from lightcnn.errors import ConfigValueError
from lightcnn.models import InputSpec, build_model, input_problem, is_slow, model_config, model_names
from lightcnn.models.resnet import ResNetConfig

CIFAR = InputSpec(3, 32, 32, 10)

# He et al. (2016) option-A architectures: exact parameter and conv + linear MAC counts
# (docs/references.md §5, measured there with fvcore, thop and ptflops).
RESNET_COUNTS = {
    20: (269_722, 40_551_040),
    32: (464_154, 68_862_592),
    44: (658_586, 97_174_144),
    56: (853_018, 125_485_696),
    110: (1_727_962, 252_887_680),
}


@pytest.mark.parametrize("depth", sorted(RESNET_COUNTS))
def test_resnet_counts_match_reference(depth):
    profile = profile_model(build_model(ResNetConfig(depth=depth), CIFAR), (3, 32, 32))
    assert (profile.params, profile.flops_conv) == RESNET_COUNTS[depth]
    assert profile.trainable_params == profile.params


def test_resnet56_fvcore_total_adds_bn_and_pool_and_lists_skipped_ops():
    profile = profile_model(build_model(ResNetConfig(depth=56), CIFAR), (3, 32, 32))
    # fvcore's default handles: conv/linear + BN (2 per element in eval) + adaptive pool
    assert profile.flops == 126_554_752
    assert profile.flops_by_operator["batch_norm"] == 1_064_960
    assert profile.skipped_ops == {"aten::add": 27, "aten::pad": 2}


def test_resnet_option_a_shortcut_has_no_parameters_and_pads_channels():
    model = build_model(ResNetConfig(depth=20), CIFAR)
    block = model.layer2[0]
    assert sum(p.numel() for p in block.shortcut.parameters()) == 0
    out = block.shortcut(torch.ones(2, 16, 32, 32))
    assert out.shape == (2, 32, 16, 16)
    assert out[:, :8].abs().sum() == 0 and out[:, 24:].abs().sum() == 0 and (out[:, 8:24] == 1).all()


def test_resnet_forward_on_mnist_shape():
    model = build_model(ResNetConfig(depth=20), InputSpec(1, 28, 28, 10)).eval()
    assert model(torch.zeros(4, 1, 28, 28)).shape == (4, 10)


def test_resnet_rejects_other_depths():
    with pytest.raises(ConfigValueError, match=r"depth=57 is not allowed: one of 20, 32, 44, 56, 110"):
        ResNetConfig(depth=57)


def test_unknown_model_name_is_a_config_error():
    with pytest.raises(ConfigValueError, match="model.name='nope'.*one of .*resnet"):
        build_model(ModelConfig(name="nope"), CIFAR)
    assert "resnet" in model_names()


def test_profile_restores_training_mode():
    model = build_model(ResNetConfig(depth=20), CIFAR).train()
    profile_model(model, (3, 32, 32))
    assert model.training


def test_the_model_list_sizes_every_registered_model_or_says_why_not():
    from lightcnn.tasks.listing import model_sizes

    rows = {row["model"]: row for row in model_sizes(["resnet", "vgg16", "oct_resnet"], ["cifar10", "mnist"])}
    assert rows["resnet"]["cifar10"] == "853,018 params, 125.5 M MACs"  # ResNet-56, docs/references.md §5
    assert rows["vgg16"]["cifar10"].startswith("14,991,946 params")
    assert rows["oct_resnet"]["mnist"] == (
        "n/a (model=oct_resnet needs image sides divisible by 8 (the low-frequency path halves them three times); "
        "the data set gives 28×28)"
    )


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28)], ids=["cifar", "mnist"])
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if is_slow(n) else n for n in model_names()]
)  # the ImageNet-style ResNets (11M and 21M parameters) take seconds each: slow
def test_every_registered_model_builds_runs_and_learns_or_is_refused_up_front(name, shape):
    """timm-style: every model either refuses the input in one line at build time, or builds,
    gives finite logits of the right shape, and back-propagates finite gradients to every weight."""
    from lightcnn.errors import UserError

    torch.manual_seed(0)
    small = {"depth": 20} if "depth" in model_config(name).__dataclass_fields__ else {}
    cfg, spec = model_config(name, **small), InputSpec(*shape, 10)
    refusal = input_problem(cfg, spec)  # what the model's entry declares it takes
    try:
        model = build_model(cfg, spec)
    except UserError as err:
        assert str(err) == refusal and "\n" not in str(err)
        return
    assert refusal is None
    logits = model(torch.randn(2, *shape))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    for param_name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and torch.isfinite(param.grad).all(), param_name


def test_the_composability_matrix_marks_what_works_and_footnotes_why_not():
    from lightcnn.tasks.listing import matrix_markdown, method_matrix

    methods, sources = ["none", "template_kernels", "prune_rl"], ["cifar10", "mnist"]
    rows = method_matrix(["resnet", "template_cnn"], methods, sources)
    assert rows[1] == {"model": "template_cnn", "none/cifar10": "ok", "none/mnist": "ok",
                       "template_kernels/cifar10": "ok", "template_kernels/mnist": "ok",
                       "prune_rl/cifar10": "counts only", "prune_rl/mnist": "counts only"}  # fmt: skip
    assert rows[0]["template_kernels/mnist"].startswith("n/a: method.count=25 is not allowed: at most the filters")
    table = matrix_markdown(rows, methods, sources).splitlines()
    assert table[2] == "| resnet | ok | n/a (1) | counts only |"
    assert table[-1].startswith("(1) method.count=25 is not allowed") and "16 filters" in table[-1]


@pytest.mark.slow
def test_the_readme_shows_the_composability_matrix_as_task_list_prints_it():
    from lightcnn import generated_docs

    readme = (generated_docs.ROOT / "README.md").read_text()
    shown = readme.split("<!-- composability matrix: begin -->\n")[1].split("\n<!-- composability matrix: end -->")[0]
    assert shown == generated_docs.composability_matrix(), "README.md: run python -m lightcnn.generated_docs"


def _combinations() -> list[tuple[str, str, str]]:
    from lightcnn.methods import method_names

    return [(m, k, s) for m in model_names() for k in method_names() for s in ("cifar10", "mnist")]


@pytest.mark.slow
@pytest.mark.parametrize(("model", "method", "shape"), _combinations())
def test_every_combination_smoke_trains_or_is_refused_up_front(run_config, model, method, shape):
    """The composability matrix, trained: each model × method on synthetic data of each real data
    set's input shape either trains (2 batches) with the counts the matrix measured, or is refused
    before anything runs with the matrix's one-line reason."""
    from lightcnn.data.sources import SOURCES
    from lightcnn.errors import UserError
    from lightcnn.methods.registry import fitted_values, smoke_overrides
    from lightcnn.tasks.listing import SMALLEST, combination

    source = SOURCES.get(shape).target
    spec = InputSpec(source.channels, source.image_size, source.image_size, source.num_classes)
    expected = combination(model, method, spec)
    depth = [f"model.{k}={v}" for k, v in SMALLEST.items() if k in model_config(model).__dataclass_fields__]
    refused = expected.startswith("n/a: ")
    built = None if refused else build_model(model_config(model, **dict(SMALLEST if depth else {})), spec)
    values = {} if refused else fitted_values(method, built)
    overrides = [f"model={model}", *depth, f"method={method}", *(f"method.{k}={v}" for k, v in values.items()),
                 *smoke_overrides(method), "dataset=synthetic", f"dataset.channels={source.channels}",
                 f"dataset.image_size={source.image_size}", "dataset.num_train=64", "dataset.num_test=16",
                 "dataset.val_fraction=0.25", "profile=smoke", "trainer.accelerator=cpu"]  # fmt: skip
    if refused:
        with pytest.raises(UserError) as error:
            run_config(*overrides)
        assert str(error.value).split("; the data set gives")[0] in expected
        return
    torch.set_num_threads(1)
    record = run_config(*overrides)
    assert record["status"] == "ok" and record["test_acc"] is not None, record.get("error")
    if expected == "ok":  # the trained network is the one the matrix counted
        profiled = run_config(*overrides, "task=profile", name="profile")
        assert (record["params"], record["flops_conv"]) == (profiled["params"], profiled["flops_conv"])
