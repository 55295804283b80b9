"""A search's page: the non-dominated trials as a table (settings, objectives, the test accuracy
of the same runs, run ids) and a plot of every finished trial with the front drawn."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lightcnn.record import write_text_atomic
from lightcnn.search.space import Dimension


def trials_frame(study, dimensions: list[Dimension], objectives: list[tuple[str, str]]) -> pd.DataFrame:
    """One row per complete trial: its number, settings, objectives, test accuracy, run id, front flag."""
    from optuna.trial import TrialState

    front = {t.number for t in study.best_trials}
    rows = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        row = {"trial": trial.number, **{d.key: trial.params.get(d.key) for d in dimensions}}
        row.update({name: value for (name, _), value in zip(objectives, trial.values, strict=True)})
        row.update(test_acc=trial.user_attrs.get("test_acc"), run_id=trial.user_attrs.get("run_id"),
                   front=trial.number in front)  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def write_page(study, dimensions: list[Dimension], objectives: list[tuple[str, str]], out: Path) -> Path:
    from optuna.trial import TrialState

    frame = trials_frame(study, dimensions, objectives)
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,))) - len(
        study.user_attrs.get("abandoned", [])
    )
    goals = ", ".join(f"{name} ({direction})" for name, direction in objectives)
    lines = [f"# Search {study.study_name}", "",
             f"Objectives: {goals}; {len(frame)} complete trials, {failed} failed (not points of the front). "
             "Test accuracy is shown, never searched on.", ""]  # fmt: skip
    if frame.empty:
        lines.append("No complete trial yet.")
    else:
        front = frame[frame["front"]].drop(columns="front").sort_values(objectives[0][0])
        lines += ["**The front** (no other trial is at least as good in every objective and better in one):", "",
                  front.to_markdown(index=False), ""]  # fmt: skip
        if len(objectives) >= 2:
            png = out / "front.png"
            front_plot(frame, objectives, str(study.study_name), png)
            lines += [f"![front]({png.name})", ""]
    page = out / "front.md"
    write_text_atomic(page, "\n".join(lines) + "\n")
    return page


def front_plot(frame: pd.DataFrame, objectives: list[tuple[str, str]], title: str, path: Path) -> None:
    """The second objective against the first: every complete trial, the front's ringed and joined."""
    import matplotlib.pyplot as plt

    from lightcnn.results.plots import fitted, save_png

    (y, _), (x, x_direction) = objectives[0], objectives[1]
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    axes.scatter(frame[x], frame[y], s=24, color="0.55", label="trial", zorder=2)
    front = frame[frame["front"]].sort_values(x, ascending=x_direction == "minimize")
    axes.plot(front[x], front[y], "-o", color="black", markerfacecolor="none", markersize=9, label="front", zorder=3)
    axes.set_xlabel(f"{x} ({x_direction})")
    axes.set_ylabel(f"{y} ({objectives[0][1]})")
    axes.set_title(fitted(f"Search {title}: {len(frame)} complete trials"), fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    save_png(figure, path)
