import pytest

from lightcnn.config import (
    AugmentConfig,
    SyntheticDatasetConfig,
    TrainerConfig,
    config_hash,
    validate,
)
from lightcnn.errors import ConfigValueError, UserError


def test_defaults_compose_and_validate(compose):
    cfg = validate(compose())
    assert (cfg.dataset.name, cfg.model.name, cfg.model.depth, cfg.method.name, cfg.task.name) == (
        "cifar10",
        "resnet",
        56,
        "none",
        "train",
    )
    assert cfg.profile == "quick" and cfg.trainer.max_epochs == 30 and cfg.trainer.schedule == "cosine"


def test_profile_paper_sets_he2016_schedule(compose):
    cfg = validate(compose("profile=paper"))
    assert (cfg.trainer.max_epochs, list(cfg.trainer.milestones), cfg.trainer.weight_decay) == (164, [82, 123], 1e-4)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.depth=57", "model.depth=57 is not allowed: one of 20, 32, 44, 56, 110"),
        ("trainer.lr=0", "trainer.lr=0.0 is not allowed: a number > 0"),
        ("trainer.precision=8", "trainer.precision='8' is not allowed: one of auto, 32, 32-true, bf16-mixed, 16-mixed"),
        ("trainer.milestones=[5,3]", "trainer.milestones=[5, 3] is not allowed: strictly increasing"),
        ("dataset.val_fraction=1.5", "dataset.val_fraction=1.5 is not allowed: a fraction in [0, 1)"),
        ("dataset.augment.shift_fraction=0.7", "dataset.augment.shift_fraction=0.7 is not allowed"),
        ("seed=-1", "seed=-1 is not allowed: an integer >= 0"),
        ("trainer.devices=0", "trainer.devices=0 is not allowed: an integer >= 1 or 'auto'"),
    ],
)
def test_out_of_range_values_name_the_full_key(compose, override, message):
    with pytest.raises(ConfigValueError) as info:
        validate(compose(override))
    assert message in str(info.value)


def test_added_unknown_key_is_rejected(compose):
    with pytest.raises(UserError, match=r"model.width: unknown key; allowed keys here: name, depth"):
        validate(compose("+model.width=3"))


def test_config_hash_ignores_runtime_keys_but_not_settings(compose):
    base = config_hash(compose())
    assert config_hash(compose("data_dir=/elsewhere", "trainer.progress_bar=false", "results_dir=/x")) == base
    assert config_hash(compose("model.depth=20")) != base
    assert config_hash(compose("seed=1")) != base
    assert len(base) == 16


def test_augment_shift_in_pixels():
    assert AugmentConfig(crop_padding=4).max_shift_px(32) == 4
    assert AugmentConfig(shift_fraction=0.1).max_shift_px(32) == 3
    assert AugmentConfig(crop_padding=2, shift_fraction=0.1).max_shift_px(32) == 3


def test_synthetic_and_trainer_ranges():
    with pytest.raises(ConfigValueError, match="image_size"):
        SyntheticDatasetConfig(image_size=4)
    with pytest.raises(ConfigValueError, match="schedule='linear'"):
        TrainerConfig(schedule="linear")


def test_an_empty_option_mapping_does_not_change_the_config_hash():
    from lightcnn.config import config_hash

    base = {"model": {"name": "resnet", "depth": 20}, "trainer": {"lr": 0.1}}
    with_empty = {"model": {"name": "resnet", "depth": 20}, "trainer": {"lr": 0.1, "extra": {}}}
    with_value = {"model": {"name": "resnet", "depth": 20}, "trainer": {"lr": 0.1, "extra": {"gradient_clip_val": 1}}}
    assert config_hash(base) == config_hash(with_empty) != config_hash(with_value)


@pytest.mark.parametrize("profile", [None, "smoke", "quick", "cpu", "paper"])
@pytest.mark.parametrize(
    "overrides",
    [
        ("model=resnet", "model.depth=20", "task=train"),
        ("model=oct_resnet", "model.alpha=0.75", "dataset=mnist", "task=profile", "trainer.max_epochs=3"),
        ("model=vgg16", "method=prune_hrank", "trainer.milestones=[1,2]"),
        ("model=aca_cnn", "task=im2col", "task.images=8"),
        ("model=mobilenet", "dataset=mnist", "task=latency", "task.batch_sizes=[1,8]"),
        ("experiment=octconv", "model=pwise_oct_resnet"),
    ],
)
def test_the_fast_composer_equals_hydra(overrides, profile):
    """The tables match records by the Composer's configs: they must be Hydra's, to the value."""
    from omegaconf import OmegaConf

    from lightcnn.composition import Composer, compose_config

    overrides = (*overrides, f"profile={profile}") if profile else overrides
    composer = Composer()
    ours = OmegaConf.to_container(composer(overrides), resolve=True)
    hydra = OmegaConf.to_container(compose_config(overrides), resolve=True)
    assert ours == hydra
    assert OmegaConf.to_container(composer(overrides), resolve=True) == hydra  # from the cache, unchanged


def test_option_files_hold_only_what_differs_from_the_dataclass_defaults():
    """One source of truth per default: the dataclass. A YAML option repeats none of its values."""
    import yaml
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from lightcnn.composition import CONF_DIR
    from lightcnn.registration import register_configs

    register_configs()
    repeated = []
    for path in sorted(CONF_DIR.glob("*/*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        schema = [d for d in data.pop("defaults", []) if isinstance(d, str) and d.startswith("/schema/")]
        if not schema:
            continue
        defaults = OmegaConf.to_container(ConfigStore.instance().load(schema[0].split("@")[0][1:] + ".yaml").node)
        repeated += [
            f"{path.parent.name}/{path.name}: {k}" for k, v in data.items() if k != "name" and defaults.get(k) == v
        ]
    assert repeated == []


def test_help_for_an_option_lists_every_key_with_its_default_and_description(capsys, monkeypatch):
    import sys

    from lightcnn import cli

    monkeypatch.setattr(sys, "argv", ["lightcnn", "--help", "method=prune_rl", "trainer=default"])
    cli.main()
    out = capsys.readouterr().out
    assert out.startswith("method=prune_rl: RL compression")
    assert "  method.actors              = 4                vectorised environments, one recogniser copy each" in out
    assert "  trainer.milestones          = [82, 123]        epochs, for schedule=step" in out
    assert "  trainer.nesterov            = false" in out
    monkeypatch.setattr(sys, "argv", ["lightcnn", "--help", "model=resnext"])
    with pytest.raises(SystemExit) as exit:
        cli.main()
    assert exit.value.code == 2 and "model=resnext: no such option; available: aca_cnn" in capsys.readouterr().err


def test_every_key_of_every_option_has_a_description_in_help():
    """``--help GROUP=OPTION`` (and docs/options.md) describe every key from the comment beside
    its field: no config dataclass of a group has a field without one."""
    import dataclasses

    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from lightcnn.config import field_help

    missing = []
    for group, options in ConfigStore.instance().repo["schema"].items():
        for option, node in options.items():
            kind = OmegaConf.get_type(node.node)
            if not dataclasses.is_dataclass(kind):
                continue
            described = field_help(kind)
            missing += [f"{group}={option}: {f.name}" for f in dataclasses.fields(kind)
                        if f.name != "name" and f.name not in described]  # fmt: skip
    assert missing == []
