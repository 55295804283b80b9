"""A search's page: the non-dominated trials as a table (settings, objectives, the test accuracy
of the same runs, run ids), the papers' hand-picked settings judged on or behind that front, and
a plot of every finished trial with the front drawn and the hand-picked points named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lightcnn.record_io import write_text_atomic
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
                   hand_picked=trial.user_attrs.get("hand_picked") or "", front=trial.number in front)  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def readable(frame: pd.DataFrame, objectives: list[tuple[str, str]]) -> pd.DataFrame:
    """Objectives that are counts (MACs, params) in full with thousands separators."""
    shown = frame.copy()
    for name, _ in objectives:
        values = pd.to_numeric(shown[name])
        if (values == values.round()).all() and values.abs().max() >= 1000:
            shown[name] = [f"{int(v):,}" for v in values]
    return shown


def repeated_lines(frame: pd.DataFrame) -> list[str]:
    """Trials the sampler gave settings measured before: their run was reused (same config hash)."""
    if frame["run_id"].isna().any():
        return []
    first = frame.drop_duplicates("run_id").set_index("run_id")["trial"]
    again = frame[frame.duplicated("run_id")]
    if again.empty:
        return []
    pairs = ", ".join(
        f"trial {int(t)} = trial {int(first[r])}" for t, r in zip(again["trial"], again["run_id"], strict=True)
    )
    return [f"Settings asked for again (the run was reused, not repeated; listed once above): {pairs}.", ""]


def dominated_by(frame: pd.DataFrame, number: int, objectives: list[tuple[str, str]]) -> int | None:
    """A complete trial at least as good as trial ``number`` in every objective and better in
    one (the best in the first objective among them), or None: the trial is on the front."""
    me = frame[frame["trial"] == number].iloc[0]
    better = pd.Series(True, index=frame.index)
    strictly = pd.Series(False, index=frame.index)
    for name, direction in objectives:
        sign = 1 if direction == "maximize" else -1
        better &= sign * frame[name] >= sign * me[name]
        strictly |= sign * frame[name] > sign * me[name]
    found = frame[better & strictly & (frame["trial"] != number)]
    if found.empty:
        return None
    first, direction = objectives[0]
    return int(found.sort_values(first, ascending=direction == "minimize").iloc[0]["trial"])


def shown(value: float) -> str:
    """An objective's value as a reader takes it in: counts in full (``40,551,040``), others to
    four significant digits."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def hand_picked_lines(frame: pd.DataFrame, objectives: list[tuple[str, str]]) -> list[str]:
    """Each hand-picked point: its objectives and whether the front holds it (computed)."""
    picked = frame[frame["hand_picked"] != ""]
    if picked.empty:
        return []
    lines = ["**The papers' hand-picked settings**, measured at the search's schedule as trials:", ""]
    for _, row in picked.iterrows():
        values = ", ".join(f"{name} {shown(row[name])}" for name, _ in objectives)
        other = dominated_by(frame, int(row["trial"]), objectives)
        if other is None:
            verdict = "**on the front** (no trial beats it in every objective)"
        else:
            beats = frame[frame["trial"] == other].iloc[0]
            verdict = (f"**behind the front**: trial {other} is at least as good in every objective "
                       f"({', '.join(f'{name} {shown(beats[name])}' for name, _ in objectives)})")  # fmt: skip
        lines.append(f"- {row['hand_picked']} (trial {int(row['trial'])}; {values}): {verdict}")
    return [*lines, ""]


def write_page(study, dimensions: list[Dimension], objectives: list[tuple[str, str]], out: Path) -> Path:
    from optuna.trial import TrialState

    frame = trials_frame(study, dimensions, objectives)
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,))) - len(
        study.user_attrs.get("abandoned", [])
    )
    goals = ", ".join(f"{name} ({direction})" for name, direction in objectives)
    picked = int((frame["hand_picked"] != "").sum()) if not frame.empty else 0
    lines = [f"# Search {study.study_name}", "",
             f"Objectives: {goals}; {len(frame)} complete trials ({picked} of them hand-picked), {failed} failed "
             "(not points of the front). Test accuracy is shown, never searched on.", ""]  # fmt: skip
    if frame.empty:
        lines.append("No complete trial yet.")
    else:
        front = frame[frame["front"]].drop(columns="front").sort_values(objectives[0][0])
        front = front.drop_duplicates("run_id") if front["run_id"].notna().all() else front
        lines += ["**The front** (no other trial is at least as good in every objective and better in one):", "",
                  readable(front, objectives).to_markdown(index=False), ""]  # fmt: skip
        lines += repeated_lines(frame)
        lines += hand_picked_lines(frame, objectives)
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
    scale = 1e6 if pd.to_numeric(frame[x]).abs().max() >= 1e5 else 1.0  # counts in millions: 2.6, not 0.26×10⁷
    frame = frame.assign(**{x: pd.to_numeric(frame[x]) / scale})
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    axes.scatter(frame[x], frame[y], s=24, color="0.55", label="trial", zorder=2)
    front = frame[frame["front"]].sort_values(x, ascending=x_direction == "minimize")
    axes.plot(front[x], front[y], "-o", color="black", markerfacecolor="none", markersize=9, label="front", zorder=3)
    picked = frame[frame["hand_picked"] != ""] if "hand_picked" in frame else frame.iloc[0:0]
    if not picked.empty:
        axes.scatter(picked[x], picked[y], s=70, marker="*", color="tab:red", label="hand-picked (papers)", zorder=4)
        for _, row in picked.iterrows():
            axes.annotate(row["hand_picked"], (row[x], row[y]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    axes.set_xlabel(f"{x} ({'millions, ' if scale != 1.0 else ''}{x_direction})")
    axes.set_ylabel(f"{y} ({objectives[0][1]})")
    axes.set_title(fitted(f"Search {title}: {len(frame)} complete trials"), fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    save_png(figure, path)
