"""``lightcnn -m search=…``: a multi-objective Optuna study whose trials are lightcnn runs."""

import json
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


def test_a_search_runs_its_trials_as_runs_and_continues_where_it_stopped(tmp_path):
    """2 trials, then the same search with a budget of 4 and a trial a killed search left
    running: 4 trials counted, the left one's settings run again, nothing twice."""
    import optuna

    first = search(tmp_path, "hydra.sweeper.trials=2")
    assert first.returncode == 0, first.stderr[-3000:]
    storage = f"sqlite:///{tmp_path / 'results' / 'searches' / 'toy' / 'study.db'}"
    study = optuna.load_study(study_name="toy", storage=storage)
    assert len(study.trials) == 2
    left = study.ask({"model.depth": optuna.distributions.CategoricalDistribution([20, 32]),
                      "trainer.lr": optuna.distributions.FloatDistribution(0.01, 0.1, log=True)})  # fmt: skip
    second = search(tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    study = optuna.load_study(study_name="toy", storage=storage)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"] and study.user_attrs["abandoned"] == [2]
    assert study.trials[3].params == left.params  # the left trial's settings, launched again
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("result.json")]
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    assert {t.user_attrs["run_id"] for t in study.trials if t.state.name == "COMPLETE"} == {
        r["run_id"] for r in records
    }
    page = (tmp_path / "results" / "searches" / "toy" / "front.md").read_text()
    assert "4 complete trials, 0 failed" in page and "| best_val_acc |" in page.replace("   ", " ").replace("  ", " ")
    assert (tmp_path / "results" / "searches" / "toy" / "front.png").is_file()


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
    assert len(records) == 2 and all(r["status"] == "ok" for r in records)
