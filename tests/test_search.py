"""``lightcnn -m search=…``: a multi-objective Optuna study whose trials are lightcnn runs."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lightcnn.composition import compose_config
from lightcnn.errors import UserError
from lightcnn.search.space import numeric_record_fields, parse_objectives, parse_space

TOY = """# @package _global_
defaults:
  - override /hydra/sweeper: front
  - override /dataset: synthetic
  - override /profile: smoke
dataset:
  val_fraction: 0.25
hydra:
  sweeper:
    name: toy
    space:
      model.depth: {choices: [20, 32]}
      trainer.lr: {low: 0.01, high: 0.1, log: true}
    objectives: {best_val_acc: maximize, flops: minimize}
    trials: 4
    hand_picked:
      - {label: "paper's pick", settings: {model.depth: 32, trainer.lr: 0.1}}
"""


def search(tmp_path: Path, *overrides: str, text: str = TOY) -> subprocess.CompletedProcess:
    (tmp_path / "conf" / "search").mkdir(parents=True, exist_ok=True)
    (tmp_path / "conf" / "search" / "toy.yaml").write_text(text)
    command = [str(Path(sys.executable).with_name("lightcnn")), "-m", "search=toy",
               f"hydra.searchpath=[file://{tmp_path / 'conf'}]", f"results_dir={tmp_path / 'results'}",
               "trainer.progress_bar=false", *overrides]  # fmt: skip
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)


def config(*overrides):
    return compose_config(["model=pwise_oct_resnet", "dataset.val_fraction=0.1", *overrides])


def test_the_space_becomes_optunas_distributions_and_the_objectives_record_fields():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    space = {"model.alpha": {"low": 0.125, "high": 0.875, "step": 0.125}, "model.depth": {"choices": [20, 32]},
             "model.paths": {"choices": [["hh", "ll"], ["hl", "lh", "ll"]]},
             "trainer.max_epochs": {"low": 1, "high": 4},
             "trainer.lr": {"low": 0.001, "high": 0.1, "log": True}}  # fmt: skip
    alpha, depth, paths, epochs, lr = (d.distribution() for d in parse_space(space, config()))
    assert alpha == FloatDistribution(0.125, 0.875, step=0.125) and epochs == IntDistribution(1, 4)
    assert depth == CategoricalDistribution([20, 32]) and paths == CategoricalDistribution(
        ["['hh', 'll']", "['hl', 'lh', 'll']"]
    )
    assert lr == FloatDistribution(0.001, 0.1, log=True)
    assert parse_objectives({"best_val_acc": "maximize", "flops": "minimize"}, config()) == [
        ("best_val_acc", "maximize"), ("flops", "minimize")]  # fmt: skip
    assert {"flops", "params", "best_val_acc", "images_per_s"} <= numeric_record_fields()


@pytest.mark.parametrize(
    ("space", "objectives", "message"),
    [
        ({"model.gamma": {"low": 0, "high": 1}}, None,
         "hydra.sweeper.space.model.gamma: model.gamma is not a key of the composed config"),
        ({"model.alpha": {"low": 0.5, "high": 0.5}}, None,
         "hydra.sweeper.space.model.alpha: low=0.5, high=0.5; allowed: two numbers with low < high"),
        ({"model.depth": {"choices": [20, 21]}}, None,
         "hydra.sweeper.space.model.depth: 21 is refused: model.depth=21 is not allowed"),
        ({"model.alpha": {"choices": []}}, None, "hydra.sweeper.space.model.alpha.choices=[]: a non-empty list"),
        (None, {"run_id": "maximize"}, "hydra.sweeper.objectives.run_id: not a numeric record field"),
        (None, {"test_acc": "maximize"},
         "hydra.sweeper.objectives.test_acc: a test-set measure; a search selects on validation"),
        (None, {"flops": "smaller"}, "hydra.sweeper.objectives.flops='smaller'; allowed: maximize, minimize"),
    ],
)  # fmt: skip
def test_a_bad_space_or_objective_is_refused_naming_it(space, objectives, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        if space is not None:
            parse_space(space, config())
        else:
            parse_objectives(objectives, config())


def test_validation_accuracy_needs_a_validation_split():
    with pytest.raises(UserError, match=r"dataset.val_fraction=0: hydra.sweeper.objectives.best_val_acc needs"):
        parse_objectives({"best_val_acc": "maximize"}, compose_config(["model=resnet"]))


@pytest.mark.slow  # seconds of searching: the default suite keeps under 3 minutes
def test_a_search_runs_its_trials_as_runs_and_continues_where_it_stopped(tmp_path):
    """The hand-picked point and 2 trials, then the same search with a budget of 4 and a trial a
    killed search left running: 4 searched trials and the hand-picked one counted, the left
    one's settings run again, nothing twice; the page judges the hand-picked point."""
    import optuna

    first = search(tmp_path, "hydra.sweeper.trials=2")
    assert first.returncode == 0, first.stderr[-3000:]
    storage = f"sqlite:///{tmp_path / 'results' / 'searches' / 'toy' / 'study.db'}"
    study = optuna.load_study(study_name="toy", storage=storage)
    assert len(study.trials) == 3 and study.trials[0].user_attrs["hand_picked"] == "paper's pick"
    assert study.trials[0].params == {"model.depth": 32, "trainer.lr": 0.1}  # measured first, as given
    left = study.ask({"model.depth": optuna.distributions.CategoricalDistribution([20, 32]),
                      "trainer.lr": optuna.distributions.FloatDistribution(0.01, 0.1, log=True)})  # fmt: skip
    second = search(tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    study = optuna.load_study(study_name="toy", storage=storage)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE"] * 3 + ["FAIL", "COMPLETE", "COMPLETE"] and study.user_attrs["abandoned"] == [3]
    assert study.trials[4].params == left.params  # the left trial's settings, launched again
    assert sum(bool(t.user_attrs.get("hand_picked")) for t in study.trials) == 1  # not enqueued again
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("result.json")]
    assert len(records) == 5 and all(r["status"] == "ok" for r in records)
    assert {t.user_attrs["run_id"] for t in study.trials if t.state.name == "COMPLETE"} == {
        r["run_id"] for r in records
    }
    page = (tmp_path / "results" / "searches" / "toy" / "front.md").read_text()
    assert "5 complete trials (1 of them hand-picked), 0 failed" in page
    assert "| best_val_acc |" in page.replace("   ", " ").replace("  ", " ")
    assert re.search(r"- paper's pick \(trial 0; best_val_acc [\d.]+, flops [\d,]+\): \*\*(on|behind) the front", page)
    assert (tmp_path / "results" / "searches" / "toy" / "front.png").is_file()


def test_hand_picked_points_are_judged_on_or_behind_the_front():
    import pandas as pd

    from lightcnn.search.page import dominated_by, hand_picked_lines

    objectives = [("best_val_acc", "maximize"), ("flops", "minimize")]
    frame = pd.DataFrame({"trial": [0, 1, 2, 3], "best_val_acc": [80.0, 85.0, 79.0, 90.0],
                          "flops": [100, 90, 50, 200], "hand_picked": ["a", "", "b", ""]})  # fmt: skip
    assert dominated_by(frame, 0, objectives) == 1 and dominated_by(frame, 2, objectives) is None
    lines = hand_picked_lines(frame, objectives)
    assert lines[2] == ("- a (trial 0; best_val_acc 80, flops 100): **behind the front**: trial 1 is at least as "
                        "good in every objective (best_val_acc 85, flops 90)")  # fmt: skip
    assert (
        lines[3] == "- b (trial 2; best_val_acc 79, flops 50): **on the front** (no trial beats it in every objective)"
    )


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"label": "x", "settings": {"model.depth": 20}}], r"hand_picked\[0\] \(x\): settings must give exactly the "
         r"searched keys; missing \['trainer.lr'\]"),
        ([{"label": "x", "settings": {"model.depth": 44, "trainer.lr": 0.1}}], r"model.depth=44 is not in the space"),
        ([{"label": "x", "settings": {"model.depth": 20, "trainer.lr": 0.5}}], r"trainer.lr=0.5 is not in the space"),
        (["x"], r"hand_picked\[0\]='x'; allowed: \{label: ..., settings"),
    ],
)  # fmt: skip
def test_a_bad_hand_picked_point_is_refused_naming_it(items, message):
    from lightcnn.search.space import parse_hand_picked

    dimensions = parse_space({"model.depth": {"choices": [20, 32]}, "trainer.lr": {"low": 0.01, "high": 0.1}},
                             config())  # fmt: skip
    with pytest.raises(UserError, match=message):
        parse_hand_picked(items, dimensions)


def test_a_bad_search_exits_2_before_any_trial(tmp_path):
    done = search(tmp_path, text=TOY.replace("objectives: {best_val_acc", "objectives: {test_acc"))
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith(
        "error: hydra.sweeper.objectives.test_acc: a test-set measure"
    )
    assert not (tmp_path / "results" / "searches").exists() and not list((tmp_path).rglob("result.json"))


@pytest.mark.slow
def test_a_search_launches_its_trials_through_submitit(tmp_path):
    done = search(tmp_path, "hydra/launcher=submitit_local", "hydra.sweeper.trials=2", "hydra.sweeper.parallel=2")
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("result.json")]
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)  # 2 searched, 1 hand-picked


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "search").glob("*.yaml")))
def test_every_shipped_search_has_a_valid_space_objectives_and_hand_picked_points(name):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from lightcnn.composition import CONF_DIR
    from lightcnn.registration import register_configs
    from lightcnn.search.study import check_settings

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", [f"search={name}", "profile=cpu"], return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    dimensions, objectives, picked = check_settings(OmegaConf.to_container(cfg.hydra.sweeper), cfg)
    assert dimensions and objectives and all(set(params) == {d.key for d in dimensions} for _, params in picked)


def test_the_front_table_lists_a_repeated_setting_once_and_counts_in_full():
    import pandas as pd

    from lightcnn.search.page import readable, repeated_lines

    frame = pd.DataFrame({"trial": [0, 1, 2], "best_val_acc": [44.3, 50.0, 44.3],
                          "flops": [4001984.0, 11480704.0, 4001984.0], "run_id": ["a", "b", "a"],
                          "hand_picked": ["", "", ""]})  # fmt: skip
    assert repeated_lines(frame) == ["Settings asked for again (the run was reused, not repeated; listed once above): "
                                     "trial 2 = trial 0.", ""]  # fmt: skip
    shown = readable(frame, [("best_val_acc", "maximize"), ("flops", "minimize")])
    assert list(shown["flops"]) == ["4,001,984", "11,480,704", "4,001,984"] and list(shown["best_val_acc"]) == [
        44.3,
        50.0,
        44.3,
    ]
