"""The search loop: ask the study for trials, launch them as lightcnn runs through Hydra's
launcher, tell it what their records measured.

The study lives in ``<results_dir>/searches/<name>/study.db`` (Optuna's RDB storage on SQLite:
``optuna-dashboard sqlite:///…/study.db`` opens it). Run the same command again and the search
continues: finished trials count, and a trial a killed search left running is closed as
abandoned (listed in the study's ``abandoned`` attribute, not counted) and its settings queued,
so the next trial launches them again (its lightcnn run resumes, or is skipped as done, by config
hash) before any new one. A trial whose run is not ``ok`` (failed, diverged, interrupted) or
lacks an objective is told FAIL: it never counts as a point of the front.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from lightcnn.errors import UserError
from lightcnn.search.space import SAMPLERS, Dimension, parse_hand_picked, parse_objectives, parse_space

log = logging.getLogger(__name__)


def study_dir(config, name: str) -> Path:
    return Path(str(config.results_dir)) / "searches" / name


def open_study(path: Path, name: str, directions: list[str], sampler: str, seed: int):
    """The study in ``path/study.db``, new or continued; its sampler seeded with ``seed`` plus the
    trials it holds, so a continued search does not draw its first settings again."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(storage=f"sqlite:///{path / 'study.db'}", study_name=name, directions=directions,
                                load_if_exists=True)  # fmt: skip
    seed += len(study.trials)
    study.sampler = (optuna.samplers.NSGAIISampler(seed=seed) if sampler == "nsga2"
                     else optuna.samplers.TPESampler(seed=seed, multivariate=True))  # fmt: skip
    return study


def check_settings(settings: dict, config) -> tuple[list[Dimension], list[tuple[str, str]], list[tuple[str, dict]]]:
    if settings.get("sampler") not in SAMPLERS:
        raise UserError(f"hydra.sweeper.sampler={settings.get('sampler')!r}; allowed: {', '.join(SAMPLERS)}")
    for key in ("trials", "parallel"):
        if not isinstance(settings.get(key), int) or settings[key] < 1:
            raise UserError(f"hydra.sweeper.{key}={settings.get(key)!r}; allowed: an integer >= 1")
    space = OmegaConf.to_container(settings["space"]) if OmegaConf.is_config(settings["space"]) else settings["space"]
    objectives = settings["objectives"]
    objectives = OmegaConf.to_container(objectives) if OmegaConf.is_config(objectives) else objectives
    dimensions = parse_space(space, config)
    picked = settings.get("hand_picked") or []
    picked = OmegaConf.to_container(picked) if OmegaConf.is_config(picked) else picked
    return dimensions, parse_objectives(objectives, config), parse_hand_picked(picked, dimensions)


def run_search(sweeper, arguments: list[str]) -> list:
    """The whole search (the sweeper's ``sweep``); returns the launcher's job returns."""

    from lightcnn.search.page import write_page

    settings, config = sweeper.settings, sweeper.config
    dimensions, objectives, picked = check_settings(settings, config)
    name = str(settings["name"])
    study = open_study(study_dir(config, name), name, [d for _, d in objectives], settings["sampler"],
                       int(settings["seed"]))  # fmt: skip
    distributions = {d.key: d.distribution() for d in dimensions}
    abandoned = requeue_abandoned(study)
    labelled = {t.user_attrs.get("hand_picked") for t in study.get_trials(deepcopy=False)}
    for label, params in picked:  # measured first; once only, however often the search is continued
        if label not in labelled:
            study.enqueue_trial(params, user_attrs={"hand_picked": label})
    budget = settings["trials"] + len(picked)
    returns, job = [], 0
    while (done := len(finished_trials(study, abandoned))) < budget:
        count = min(settings["parallel"], budget - done)
        batch = [study.ask(distributions) for _ in range(count)]
        overrides = [[*arguments, *(d.override(trial.params[d.key]) for d in dimensions)] for trial in batch]
        sweeper.validate_batch_is_legal(overrides)
        results = sweeper.launcher.launch(overrides, initial_job_idx=job)
        job += len(batch)
        for trial, result, trial_overrides in zip(batch, results, overrides, strict=True):
            tell(study, trial, result, objectives, trial_overrides)
        returns.append(results)
    page = write_page(study, dimensions, objectives, study_dir(config, name))
    print(f"search {name}: {settings['trials']} trials and {len(picked)} hand-picked; the front: {page}",
          file=sys.stderr)  # fmt: skip
    return returns


def finished_trials(study, abandoned: set[int]) -> list:
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.FAIL)
    return [t for t in study.get_trials(deepcopy=False, states=states) if t.number not in abandoned]


def requeue_abandoned(study) -> set[int]:
    """Close the trials a killed search left running and queue their settings again; the
    numbers of every trial closed so (they do not count)."""
    from optuna.trial import TrialState

    abandoned = set(study.user_attrs.get("abandoned", []))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={k: v for k, v in trial.user_attrs.items() if k == "hand_picked"})
        abandoned.add(trial.number)
    study.set_user_attr("abandoned", sorted(abandoned))
    return abandoned


def tell(study, trial, result, objectives: list[tuple[str, str]], overrides: list[str]) -> None:
    """Tell the study what the trial's run measured (FAIL for a run that is not ok)."""
    from hydra.core.utils import JobStatus
    from optuna.trial import TrialState

    record: dict[str, Any] = {}
    try:
        value = result.return_value  # re-raises what the job raised
        record = value if result.status == JobStatus.COMPLETED and isinstance(value, dict) else {}
    except Exception as err:  # the trial's error, kept with it
        record = {"status": "failed", "error": (str(err).splitlines() or [type(err).__name__])[0][:300]}
    attrs = {
        "status": str(record.get("status", "failed")),
        "run_id": record.get("run_id"),
        "error": record.get("error"),
        "test_acc": record.get("test_acc"),
        "overrides": " ".join(overrides),
    }
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    values = [record.get(field) for field, _ in objectives]
    if record.get("status") == "ok" and all(isinstance(v, int | float) for v in values):
        study.tell(trial, [float(v) for v in values])
    else:
        study.tell(trial, state=TrialState.FAIL)
        log.warning("trial %d: %s (%s), not a point of the front", trial.number, attrs["status"], attrs["error"])
