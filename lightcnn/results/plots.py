"""Plots of rendered tables (matplotlib, Agg backend, deterministic output)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FormatStrFormatter, FuncFormatter, MaxNLocator  # noqa: E402

from lightcnn.results.specs import Curves, Plot  # noqa: E402

# no timestamps or software versions in the files, so the same data gives the same bytes
PNG_METADATA = {"Software": None}


def save_png(figure, path: Path) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, metadata=PNG_METADATA)
    plt.close(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def fitted(title: str, width: int = 72) -> str:
    """A title wrapped onto lines that fit a 6.4-inch figure at 10 pt (a smoke prefix makes them long)."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width)) or title


def scatter_plot(numeric: pd.DataFrame, plot: Plot, title: str, path: Path) -> bool:
    """One labelled point per row of the table (its ``ours`` values); rows without both
    values are left out and listed under the axes. No row with both: no file (returns False)."""
    x_col, y_col = f"{plot.x}_ours", f"{plot.y}_ours"
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    missing, points = [], []
    for _, row in numeric.iterrows():
        x, y = row.get(x_col), row.get(y_col)
        if pd.isna(x) or pd.isna(y):
            missing.append(str(row["row"]))
            continue
        axes.scatter([x], [y], s=30)
        points.append((float(x), float(y), str(row["row"])))
    if not points:
        plt.close(figure)
        return False
    for (x, y, label), below in zip(points, label_rows(points, plot.log_x), strict=True):
        axes.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4 - 11 * below), fontsize=8)
    if plot.log_x:
        axes.set_xscale("log")
        for axis_format in (axes.xaxis.set_major_formatter, axes.xaxis.set_minor_formatter):
            axis_format(FormatStrFormatter("%g"))  # 2, 3, 10 rather than 2×10⁰
    axes.set_xlabel(plot.xlabel or plot.x)
    axes.set_ylabel(plot.ylabel or plot.y)
    axes.set_title(fitted(title), fontsize=10)
    axes.grid(True, alpha=0.3)
    if missing:
        figure.text(0.01, 0.01, "not measured: " + ", ".join(missing), fontsize=7)
    figure.tight_layout()
    save_png(figure, path)
    return True


def one_two_five(value: float, _position: object = None) -> str:
    """A log axis's tick label only at 1, 2 and 5 times a power of ten (``20``, ``50``, ``100``),
    so the labels of a decade's minor ticks do not run into each other."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
    return f"{value:g}" if mantissa in (1, 2, 5) else ""


def label_rows(points: list[tuple[float, float, str]], log_x: bool) -> list[int]:
    """Per point, how many lines below the usual place its label goes: one more for each earlier
    point that is close on both axes (within 8 % of the x range, in log space where the axis is
    logarithmic, and 4 % of the y range), so neighbouring labels do not print over each other."""
    import math

    def x_of(value: float) -> float:
        return math.log10(value) if log_x and value > 0 else value

    xs, ys = [x_of(p[0]) for p in points], [p[1] for p in points]
    x_span = (max(xs) - min(xs)) or 1.0 if xs else 1.0
    y_span = (max(ys) - min(ys)) or 1.0 if ys else 1.0
    rows = []
    for i in range(len(points)):
        near = [j for j in range(i) if abs(xs[i] - xs[j]) < 0.08 * x_span and abs(ys[i] - ys[j]) < 0.04 * y_span]
        rows.append(max((rows[j] for j in near), default=-1) + 1)
    return rows


HISTORY_MARKERS = ("o", "^", "s", "D", "v", "P")


def _history_lines(axes, label: str, history: list[dict], stage: str, colour: str, index: int = 0) -> bool:
    """Top-1 (solid) and top-5 (dashed) accuracy against epoch, each row its own marker (hollow, so
    two rows with nearly the same curve both show); False when there is none."""
    points = sorted((h["epoch"], h.get(f"{stage}/acc"), h.get(f"{stage}/acc5")) for h in history if h["stage"] == stage)
    if not points:
        return False
    epochs = [p[0] + 1 for p in points]
    marker = HISTORY_MARKERS[index % len(HISTORY_MARKERS)]
    style = {"color": colour, "marker": marker, "markersize": 5 + index, "markerfacecolor": "none", "alpha": 0.85}
    axes.plot(epochs, [p[1] for p in points], "-", label=f"{label} top-1", **style)
    axes.plot(epochs, [p[2] for p in points], "--", label=f"{label} top-5", **style)
    if len(epochs) == 1:  # one epoch (smoke): an axis around it, not 0.945–1.05
        axes.set_xlim(0.5, 1.5)
    return True


def _point_lines(
    axes, label: str, points: list[dict], curves: Curves, colour: str, alone: bool, weight: str = "plain"
) -> bool:
    """``y`` against ``x``, one line per value of ``by``: in the row's colour, or, when the row is
    ``alone`` in the plot, each line its own shade, labelled by its ``by`` value. ``weight``:
    ``thin``, faint and unlabelled (one run under the mean of several), ``bold`` (that mean), or
    ``plain``. False when empty."""
    lines: dict = {}
    for point in points:
        if point.get(curves.x) is not None and point.get(curves.y) is not None:
            lines.setdefault(point.get(curves.by) if curves.by else None, []).append((point[curves.x], point[curves.y]))
    shaded = alone and curves.by is not None and len(lines) > 1
    shades = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(lines))) if shaded else None
    for number, (value, line) in enumerate(lines.items()):  # in the order the record lists them
        xs, ys = zip(*line, strict=True)
        if shaded:
            tag = f"{label}: {curves.by} {value}" if number == 0 else f"{curves.by} {value}"
            axes.plot(xs, ys, "-o", color=shades[number], markersize=2, linewidth=0.9, alpha=0.85, label=tag)
        elif weight == "thin":
            axes.plot(xs, ys, "-", color=colour, linewidth=0.6, alpha=0.35)
        else:
            first = label if number == 0 else None
            width, size, alpha = (2.2, 4, 0.9) if weight == "bold" else (0.8, 2, 0.7)
            axes.plot(xs, ys, "-o", color=colour, markersize=size, linewidth=width, alpha=alpha, label=first)
    return bool(lines)


def curves_plot(
    series: dict[str, list[dict]],
    curves: Curves,
    title: str,
    path: Path,
    marks: dict[str, dict] | None = None,
    each_run: dict[str, tuple[list[dict], ...]] | None = None,
) -> bool:
    """One colour per row (a row alone in the plot: one shade per line): its per-epoch accuracy
    (``field=history``) or its points' ``y`` against ``x`` (any other list field); per row, its
    ``marks``: a dotted line at its ``baseline`` and a star at its ``final`` point, and where its
    line is a mean, ``each_run``'s own line, thin, in its colour. No row with points: no file
    (returns False)."""
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    history = curves.field == "history"
    missing = []
    for index, (label, points) in enumerate(series.items()):
        if history:
            drawn = _history_lines(axes, label, points, curves.stage, f"C{index}", index)
        else:
            runs = (each_run or {}).get(label, ())
            for run in runs:  # under the mean, so the spread over runs shows
                _point_lines(axes, "", run, curves, f"C{index}", alone=False, weight="thin")
            weight = "bold" if runs else "plain"
            drawn = _point_lines(axes, label, points, curves, f"C{index}", alone=len(series) == 1, weight=weight)
        if not drawn:
            missing.append(label)
        elif marks and marks.get(label):  # a row alone: its name is in its first line's label already
            alone = len(series) == 1
            _marks(axes, "" if alone else label, marks[label], "black" if alone else f"C{index}")
    if len(missing) == len(series):
        plt.close(figure)
        return False
    if history:
        axes.set_xlabel("epoch")
        whole_ticks(axes)
        axes.set_ylabel(f"{curves.stage.replace('_', ' ')} accuracy (%)")
    else:
        axes.set_xlabel(curves.xlabel or curves.x)
        axes.set_ylabel(curves.ylabel or curves.y)
        if all(isinstance(p.get(curves.x), int | None) for points in series.values() for p in points):
            whole_ticks(axes)  # counted x (a search round): no tick between two counts
    axes.grid(True, alpha=0.3)
    if len(axes.get_legend_handles_labels()[1]) > 4:  # beside the axes: never over a line
        figure.set_size_inches(8.4, 4.4)
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        figure.suptitle(fitted(curves.title or title, 96), fontsize=10)  # over the figure: the axes are narrow
    else:
        axes.set_title(fitted(curves.title or title), fontsize=10)
        axes.legend(fontsize=7)
    if missing:
        figure.text(0.01, 0.01, "not measured: " + ", ".join(missing), fontsize=7)
    figure.tight_layout()
    save_png(figure, path)
    return True


def whole_ticks(axes) -> None:
    """x ticks at whole numbers only, each one while there are few (even for a single point)."""
    low, high = axes.get_xlim()
    whole = range(int(np.ceil(low)), int(np.floor(high)) + 1)
    if len(whole) <= 12:
        axes.set_xticks(list(whole))
    else:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def _marks(axes, label: str, marks: dict, colour: str) -> None:
    """The row's ``baseline`` line and ``final`` star, named after ``label`` (none: the plot's only row)."""
    named = f"{label}: " if label else ""
    if marks.get("baseline") is not None:
        axes.axhline(marks["baseline"], color=colour, linestyle=":", linewidth=1.2, label=f"{named}unpruned")
    if marks.get("final") is not None:
        x, y = marks["final"]
        axes.plot([x], [y], marker="*", markersize=14, color=colour, linestyle="none", zorder=5,
                  label=f"{named}chosen masks after fine-tuning")  # fmt: skip


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats with fewer or equal FLOPs and higher or equal accuracy."""
    front, best = [], float("-inf")
    for flops, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((flops, acc))
            best = acc
    return front


# a colour per model (tab20: every registered model its own), a marker per method and schedule (the unpruned,
# uncompressed model is a circle, never shared), hollow markers for the shorter schedules
METHOD_MARKERS = ("s", "^", "D", "v", "P", "X", "<", ">")


def model_style(index: int) -> dict:
    return {"color": plt.get_cmap("tab20")(index % 20), "marker": "o"}


def method_markers(entries: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The marker of each (method, schedule) of ``entries``: ``none`` a circle, every other pair
    (sorted) its own, so that one method's runs of two schedules (an RL search fine-tuned 1 epoch
    and 10) never share a legend entry's look."""
    others = sorted(entry for entry in entries if entry[0] != "none")
    markers = {entry: METHOD_MARKERS[index % len(METHOD_MARKERS)] for index, entry in enumerate(others)}
    return {entry: markers.get(entry, "o") for entry in entries}


def schedule_length(run: pd.Series) -> tuple[float, float]:
    """(epochs, training images; infinite for the whole set) of a run: the larger, the longer."""
    epochs, subset = run.get("config.trainer.max_epochs"), run.get("config.dataset.train_subset")
    return (float(epochs) if known(epochs) else 0.0, float(subset) if known(subset) else math.inf)


def known(value) -> bool:
    return value is not None and not pd.isna(value)


def schedule_of(run: pd.Series) -> str:
    """``"30 epochs"``, ``"3 epochs on 10,000 images"``: what a training run's accuracy depends on
    beyond its model (read from the record's config)."""
    epochs = run.get("config.trainer.max_epochs")
    subset = run.get("config.dataset.train_subset")
    if not known(epochs):
        return ""
    text = f"{int(epochs)} epoch{'s' if int(epochs) != 1 else ''}"
    return text + (f" on {int(subset):,} images" if known(subset) else "")


def trained_from_scratch(run: pd.Series, runs_by_id: dict[str, pd.Series]) -> pd.Series | None:
    """The run of ``runs_by_id`` whose from-scratch training ``run`` continues (a pruned run's
    baseline, followed to the first run that started from nothing); None when ``run`` started from
    nothing or that run is not among ``runs_by_id``."""
    from lightcnn.results.aggregate import made_from_run

    first, seen = None, set()
    while (parent := made_from_run(run)) is not None and parent in runs_by_id and parent not in seen:
        seen.add(parent)
        first = run = runs_by_id[parent]
    return first


def schedules(run: pd.Series, runs_by_id: dict[str, pd.Series]) -> tuple[str, tuple[float, float], str]:
    """(the training from scratch's schedule, its length, ``run``'s whole schedule): ``"30 epochs"``
    twice for a run that started from nothing, ``"30 epochs"`` and ``"30 epochs + 15"`` for one
    that trained 15 epochs from a 30-epoch run."""
    first = trained_from_scratch(run, runs_by_id)
    if first is None:
        return schedule_of(run), schedule_length(run), schedule_of(run)
    epochs = run.get("config.trainer.max_epochs")
    base = schedule_of(first)
    return base, schedule_length(first), f"{base} + {int(epochs)}" if known(epochs) else base


def pareto_plot(runs: pd.DataFrame, title: str, path: Path) -> None:
    save_png(pareto_figure(runs, title), path)


def pareto_figure(runs: pd.DataFrame, title: str):
    """Test accuracy against conv + linear MACs of ``runs`` (one data set and profile): a colour
    per model, a marker per method and schedule (a circle: no method), one legend entry per model,
    method and (where the runs' schedules differ) schedule, which the entry names (a run made from
    another, a pruned run from its baseline: "30 epochs + 15"). Accuracies of different schedules
    are not comparable, so the Pareto front (a step line: the highest accuracy for the MACs) is
    drawn over the runs whose training from scratch is the longest (their markers filled, the
    others hollow) and the legend names that schedule where there are several."""
    from lightcnn.models import model_names

    figure, axes = plt.subplots(figsize=(7.0, 4.8))
    usable = runs.dropna(subset=["flops_conv", "test_acc"])
    by_id = {str(run["run_id"]): run for _, run in usable.iterrows()} if "run_id" in usable else {}
    each = [schedules(run, by_id) for _, run in usable.iterrows()]
    usable = usable.assign(
        macs_m=usable["flops_conv"].astype(float) / 1e6,  # millions: ticks 20, 200, not 2×10⁷
        method=usable["method"] if "method" in usable else "none",
        base=[base for base, _, _ in each],
        schedule=[schedule for _, _, schedule in each],
    )
    order = {name: index for index, name in enumerate(model_names())}
    markers = method_markers(set(zip(usable["method"], usable["schedule"], strict=True)))
    several = len(set(usable["schedule"])) > 1
    longest = max(((length, base) for base, length, _ in each), default=(0, ""))[1]
    for (model, method, schedule), group in sorted(usable.groupby(["model", "method", "schedule"])):
        label = model if method == "none" else f"{model} + {method}"
        label += f", {schedule}" if several else ""
        colour = model_style(order.get(model, len(order)))["color"]
        face = "none" if several and group["base"].iloc[0] != longest else colour
        marker = markers[(method, schedule)]
        axes.scatter(group["macs_m"], group["test_acc"], s=30, label=label, zorder=3, marker=marker,
                     facecolors=face, edgecolors=colour, linewidths=1.2)  # fmt: skip
    comparable = usable[usable["base"] == longest]
    front = pareto_front(list(zip(comparable["macs_m"], comparable["test_acc"].astype(float), strict=True)))
    xs, ys = [p[0] for p in front], [p[1] for p in front]
    front_label = f"Pareto front ({longest} from scratch)" if len(set(usable["base"])) > 1 else "Pareto front"
    axes.step(xs, ys, where="post", color="black", linewidth=1.2, label=front_label, zorder=2)
    axes.plot(xs, ys, linestyle="none", marker="o", markersize=9, markerfacecolor="none", color="black", zorder=4)
    axes.set_xscale("log")
    for axis_format in (axes.xaxis.set_major_formatter, axes.xaxis.set_minor_formatter):
        axis_format(FuncFormatter(one_two_five))
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: never over a point
    axes.set_xlabel("conv + linear multiply-accumulates per image (millions, log scale)")
    axes.set_ylabel("test top-1 (%)")
    axes.set_title(fitted(title, 52), fontsize=10)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    return figure
