"""Render table specs from run records: published value, ours, difference.

Records are read into one pandas frame (nested fields flattened to ``a.b`` columns). A row's
runs are the records whose config is exactly what its overrides compose to
(:mod:`lightcnn.results.matching`). Runs that differ only in their
seed form one configuration and are aggregated to mean ± std with the seed count. Each column
comes from the newest configuration that measured it, so parameter counts can come from a
``task=profile`` record while accuracies need ``task=train``.
A row without an ``ok`` run is marked ``missing``, ``failed`` or ``diverged`` — never filled.
Output is deterministic: the same records render to the same bytes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lightcnn.errors import UserError
from lightcnn.record import iter_records, write_text_atomic
from lightcnn.results.claims import RULE, verdict
from lightcnn.results.matching import COUNT_KEYS, ConfigMatcher, count_hash, noseed_hash
from lightcnn.results.specs import CONF_DIR, Column, Row, TableSpec, derived_value, load_spec, with_synthetic_data

MISSING_MARK = "—"  # a difference or ratio that cannot be formed (a side is missing)
NOT_APPLICABLE = "n/a"  # the paper gives no value for this cell
NOT_RUN = "not run"  # no ok record holds this cell (the row's status says why, if it failed)
PUBLISHED_ONLY = "published only"  # a row with no tasks: another method's published figures, not run here
COUNTS_ONLY = "ok (counts only)"  # the row's counts are measured, its own tasks have not run
MAX_TABLE_COLUMNS = 10  # wider tables are split: accuracy first, then the costs


def records_frame(results_dir: Path) -> pd.DataFrame:
    """All records under ``results_dir``, one row each, without their configs (matched by hash)
    but for the schedule's ``config.trainer.max_epochs`` and ``config.dataset.train_subset``, and
    synthetic data's input shape (``config.dataset.channels``, ``config.dataset.image_size``)."""
    records = list(iter_records(Path(results_dir)))
    if not records:
        return pd.DataFrame(columns=["status", "config_hash", "finished_at"])
    for record in records:  # the config itself is matched by hash; the frame keeps the measurements
        config = record.pop("config", None) or {}
        record["config_hash_noseed"], record["count_hash"] = noseed_hash(config), count_hash(config)
        # the schedule a training's accuracy depends on beyond its model (the Pareto plot names it)
        record["config.trainer.max_epochs"] = (config.get("trainer") or {}).get("max_epochs")
        record["config.dataset.train_subset"] = (config.get("dataset") or {}).get("train_subset")
        for key in ("channels", "image_size"):  # synthetic data of one shape or another: never on one front
            record[f"config.dataset.{key}"] = (config.get("dataset") or {}).get(key)
    frame = pd.json_normalize(records, max_level=None)
    return frame.sort_values(["finished_at", "run_id"], na_position="first", kind="stable").reset_index(drop=True)


def final_counts(records: pd.DataFrame) -> pd.DataFrame:
    """Without records whose counts are of the network before a data-dependent method (RL
    profiled without data: ``counts_final`` false)."""
    return records[records["counts_final"].ne(False)] if "counts_final" in records else records


def match_rows(frame: pd.DataFrame, hashes: set[str]) -> pd.DataFrame:
    """The records whose seedless config hash is one of ``hashes``."""
    if frame.empty or "config_hash_noseed" not in frame:
        return frame.iloc[0:0]
    return frame[frame["config_hash_noseed"].isin(hashes)]


@dataclass
class Cell:
    mean: float | None = None
    std: float | None = None
    n: int = 0


@dataclass
class RowResult:
    row: Row
    status: str  # ok, missing, failed, diverged
    cells: dict[str, Cell]
    seeds: int = 0
    runs: tuple[str, ...] = ()  # every run behind a cell, those lending counts included
    own_runs: tuple[str, ...] = ()  # the runs of exactly the row's configuration behind its other cells
    other_runs: tuple[tuple[int, str], ...] = ()  # (seed, run id): ok runs of its configuration at seeds not asked for

    @property
    def measured(self) -> bool:
        return self.status.startswith("ok")


def per_seed(runs: pd.DataFrame, key: str) -> pd.Series:
    """One value of ``key`` per seed of ``runs``, the mean of that seed's runs (runs of one seed,
    e.g. on two machines, are not independent samples); the table cells and the claims read it."""
    values = pd.to_numeric(runs[key], errors="coerce")
    if "seed" not in runs:
        return values.dropna()
    return values.groupby(runs["seed"]).mean().dropna()


def aggregate_row(frame: pd.DataFrame, row: Row, columns: tuple[Column, ...], matcher: ConfigMatcher) -> RowResult:
    """Each column from the newest configuration that measured it, over the seeds the row asks
    for (one value per seed: runs of one seed, e.g. on two machines, are averaged first): counts
    (``COUNT_KEYS``) from any ok record of the row's model, method and data set (a
    ``task=profile`` run of it, whatever its schedule or augmentation), everything else from
    records of exactly the row's configuration; its runs at other seeds (ad-hoc runs) are
    listed apart, not averaged in."""
    if not row.tasks:
        return RowResult(row, PUBLISHED_ONLY, {c.id: Cell() for c in columns})
    matched = final_counts(match_rows(frame, matcher.hashes(row, row.tasks)))
    ok = matched[matched["status"] == "ok"]
    others: tuple[tuple[int, str], ...] = ()
    if "seed" in ok:
        asked = ok["seed"].isin(matcher.seeds(row, row.tasks))
        others = tuple((int(seed), run) for seed, run in zip(ok[~asked]["seed"], ok[~asked]["run_id"], strict=True))
        ok = ok[asked]
    counted = frame.iloc[0:0]
    if "count_hash" in frame:
        counted = final_counts(frame[frame["count_hash"].isin(matcher.count_hashes(row, row.tasks))])
        counted = counted[counted["status"] == "ok"]
    if ok.empty and counted.empty:
        status = NOT_RUN if matched.empty else str(matched.iloc[-1]["status"])
        return RowResult(row, status, {c.id: Cell() for c in columns})
    cells, runs, own, seed_count = {}, set(), set(), {False: 0, True: 0}  # keyed by "is a count column"
    for column in columns:
        key = column.record_key(row)
        pool = counted if key in COUNT_KEYS else ok
        measured = pool[pd.to_numeric(pool[key], errors="coerce").notna()] if key in pool else pool.iloc[0:0]
        if measured.empty:
            cells[column.id] = Cell()
            continue
        group = measured[measured["config_hash_noseed"] == measured.iloc[-1]["config_hash_noseed"]]
        values = per_seed(group, key)
        std = float(values.std(ddof=1)) if len(values) > 1 else None
        cells[column.id] = Cell(float(values.mean()), std, int(len(values)))
        runs.update(group["run_id"])
        own.update(group["run_id"] if key not in COUNT_KEYS else ())
        # the seeds behind the measured (non-count) columns: counts may come from runs of other seeds
        seed_count[key in COUNT_KEYS] = max(seed_count[key in COUNT_KEYS], int(group["seed"].nunique()))
    failed = int(matched["status"].isin(["failed", "diverged"]).sum())
    status = f"ok (+{failed} failed)" if failed else "ok"
    ran = ok[ok["task"].isin(row.tasks)] if "task" in ok else ok
    if ran.empty:  # counted, not run: its own failures (if any) are what the row says
        not_ok = matched[matched["status"] != "ok"]
        status = str(not_ok.iloc[-1]["status"]) if not not_ok.empty else COUNTS_ONLY
    if all(cell.mean is None for cell in cells.values()):  # records, but none holds a column of this table
        return RowResult(row, NOT_RUN if ok.empty or matched.empty else status, {c.id: Cell() for c in columns})
    seeds = seed_count[False] or seed_count[True]
    return RowResult(row, status, cells, seeds=seeds, runs=tuple(sorted(runs)), own_runs=tuple(sorted(own)),
                     other_runs=others)  # fmt: skip


def apply_drops(results: list[RowResult], by_label: dict[str, RowResult], columns: tuple[Column, ...]) -> None:
    """Columns relative to the row's reference: ``drop`` = the reference's mean minus the row's
    (per-seed spread kept), ``reduction`` = 1 − the row's mean ÷ the reference's."""
    means = {r.row.label: {c.id: r.cells[c.id].mean for c in columns} for r in results}
    for result in results:
        reference = by_label.get(result.row.reference) if result.row.reference else None
        for column in columns:
            if not (column.drop or column.reduction):
                continue
            cell = result.cells[column.id]
            ref = means[reference.row.label][column.id] if reference is not None else None
            if cell.mean is None or ref is None or (column.reduction and not ref):
                result.cells[column.id] = Cell()
            elif column.drop:
                result.cells[column.id] = Cell(ref - cell.mean, cell.std, cell.n)
            else:
                result.cells[column.id] = Cell(1 - cell.mean / ref, cell.std and cell.std / abs(ref), cell.n)


def _fmt(value: float | None, column: Column, empty: str = MISSING_MARK) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return empty
    return f"{value * column.scale:,.{column.digits}f}"


def difference(ours: float | None, paper: float | None, column: Column) -> float | None:
    """ours − paper in display units (``absolute``) or in percent of the paper (``relative``)."""
    if ours is None or paper is None or column.diff == "none":
        return None
    if column.diff == "relative":
        return 100.0 * (ours - paper) / paper if paper else None
    return (ours - paper) * column.scale


def _fmt_diff(diff: float | None, column: Column) -> str:
    if diff is None:
        return MISSING_MARK
    return f"{diff:+.1f}%" if column.diff == "relative" else f"{diff:+.{column.digits}f}"


SMOKE_BANNER = (
    "> **Smoke report: the accuracies are meaningless.** Smoke runs train a few batches (on synthetic "
    "stand-ins unless `--real-data`): they show that every row runs, nothing about the methods. Counts "
    "are exact except where a row says its workload was shrunk."
)
SMOKE_TITLE = "SMOKE (accuracies meaningless): "


def is_smoke(matcher: ConfigMatcher) -> bool:
    """Whether this report is of the smoke profile alone."""
    return matcher.profiles == ["smoke"]


def render_table(
    spec: TableSpec, frame: pd.DataFrame, matcher: ConfigMatcher
) -> tuple[str, pd.DataFrame, list[RowResult]]:
    """The spec as (Markdown text, numeric DataFrame for CSV, its rows' results)."""
    results = [aggregate_row(frame, row, spec.columns, matcher) for row in spec.rows]
    by_label = {result.row.label: result for result in results}
    apply_drops(results, by_label, spec.columns)
    has_paper = {c.id: c.diff != "none" or any(c.id in r.published for r in spec.rows) for c in spec.columns}
    display, numeric, groups = [], [], {}
    for result in results:
        shown: dict[str, str] = {"": result.row.label}
        raw: dict[str, Any] = {"row": result.row.label}
        reference = by_label.get(result.row.reference) if result.row.reference else None
        for column in spec.columns:
            cell = result.cells[column.id]
            paper = result.row.published.get(column.id)
            paper, words = published_value(paper)
            ours = _fmt(cell.mean, column, NOT_RUN)
            if cell.std:  # a spread over seeds (a count that never varies shows none)
                ours += f" ± {cell.std * column.scale:.{column.digits}f}"
            diff = difference(cell.mean, paper, column)
            before = len(shown)
            if has_paper[column.id]:
                shown[f"{column.label} paper"] = words or _fmt(paper, column, NOT_APPLICABLE)
            shown[f"{column.label} ours"] = ours if result.measured else result.status
            if column.diff != "none":
                shown[f"{column.label} Δ"] = _fmt_diff(diff, column)
            raw.update(
                {
                    f"{column.id}_paper": paper,
                    f"{column.id}_ours": cell.mean,
                    f"{column.id}_std": cell.std,
                    f"{column.id}_diff": diff,
                }
            )
            if column.ratio:
                ref = reference.cells[column.id].mean if reference is not None else None
                ratio = cell.mean / ref if cell.mean is not None and ref else None
                shown[f"{column.label} ÷ ref"] = MISSING_MARK if ratio is None else f"{ratio:.3f}"
                raw[f"{column.id}_ratio"] = ratio
            groups.setdefault(column.id, (is_accuracy(column), list(shown)[before:]))
        shown["seeds"] = str(result.seeds)
        shown["status"] = result.status
        raw.update(seeds=result.seeds, status=result.status, runs=" ".join(result.runs))
        display.append(shown)
        numeric.append(raw)
    lines = [f"# {spec.title}", ""] + ([SMOKE_BANNER, ""] if is_smoke(matcher) else [])
    if spec.source:
        lines += [f"Published values: {spec.source}", ""]
    for heading, names in split_columns(groups, list(display[0]) if display else []):
        table = pd.DataFrame(display)[names].to_markdown(index=False, disable_numparse=True)
        lines += ([f"**{heading}**", ""] if heading else []) + [table, ""]
    lines += each_run(frame, results, spec.columns)
    lines += other_run_lines(results)
    lines += claim_lines(frame, results, spec.claims)
    lines += provenance(frame, results)
    if spec.notes:
        lines += ["", spec.notes.strip()]
    return "\n".join(lines) + "\n", pd.DataFrame(numeric), results


def published_value(value: Any) -> tuple[float | None, str | None]:
    """(number, words) of a spec's published value: a number (YAML reads ``0.27e6`` as text, so
    text that parses as one is one), a value derived from the paper's numbers (``"= a / b"``), or
    the paper's words where it prints no number."""
    if value is None:
        return None, None
    if isinstance(value, str) and value.startswith("="):
        return derived_value(value), None
    try:
        return float(value), None
    except ValueError:
        return None, str(value)


def is_accuracy(column: Column) -> bool:
    """An accuracy-like column (it needs training): shown in the first table when one is split."""
    return "acc" in column.key or column.drop


def split_columns(groups: dict[str, tuple[bool, list[str]]], names: list[str]) -> list[tuple[str, list[str]]]:
    """The display columns as one table, or, when wider than ``MAX_TABLE_COLUMNS``, as several:
    the row label in each, the accuracy columns (with seeds and status) first, then the costs,
    never splitting one column's paper / ours / Δ."""
    if len(names) <= MAX_TABLE_COLUMNS:
        return [("", names)]
    label, tail = names[0], [n for n in names if n in ("seeds", "status")]
    accuracy = [n for is_acc, cells in groups.values() if is_acc for n in cells]
    costs = [cells for is_acc, cells in groups.values() if not is_acc]
    tables: list[tuple[str, list[str]]] = []
    if accuracy:
        tables.append(("Accuracy", [label, *accuracy, *tail]))
    chunks: list[list[str]] = [[]]
    for cells in costs:
        if chunks[-1] and len(chunks[-1]) + len(cells) > MAX_TABLE_COLUMNS - 1:
            chunks.append([])
        chunks[-1] += cells
    for index, chunk in enumerate(c for c in chunks if c):
        tables.append(("Counts and costs" + (" (continued)" if index else ""), [label, *chunk]))
    if not accuracy:  # seeds and status go with the first cost table
        tables[0] = (tables[0][0], [*tables[0][1], *tail])
    return tables


PRECISION_NAMES = {"32-true": "float32", "32": "float32", "bf16-mixed": "bf16 autocast", "16-mixed": "float16 autocast",
                   "tf32": "TF32"}  # fmt: skip


def each_run(frame: pd.DataFrame, results: list[RowResult], columns: tuple[Column, ...]) -> list[str]:
    """The values behind a mean over several runs, each with its seed, in the first accuracy
    column that has such a mean (a ± is only as good as the runs behind it): one line, or none;
    then, where two or more rows have such means, each against the first (``compared``)."""
    for column in (c for c in columns if is_accuracy(c) and not c.drop):
        parts, rows = [], []
        for result in results:
            cell = result.cells[column.id]
            key = column.record_key(result.row)
            if cell.mean is None or key not in frame:
                continue
            runs = frame[frame["run_id"].isin(result.own_runs) & pd.to_numeric(frame[key], errors="coerce").notna()]
            if len(runs) < 2:
                continue
            runs = runs.sort_values(["seed", "run_id"], kind="stable")
            # runs that trained in different precisions (``auto`` on different machines) name theirs
            mixed = "precision" in runs and runs["precision"].nunique() > 1
            named = [(run_name(run, mixed), float(run[key])) for _, run in runs.iterrows()]
            parts.append(f"{result.row.label} {', '.join(f'{_fmt(v, column)} ({name})' for name, v in named)}")
            rows.append((result, named))
        if parts:
            return [f"Each run, {column.label}: {'; '.join(parts)}.", "", *compared(rows, column)]
    return []


def other_run_lines(results: list[RowResult]) -> list[str]:
    """The ok runs of a row's configuration at seeds its spec does not ask for (runs made by hand
    beside the reproduction): named, never averaged into the row."""
    parts = [
        f"{r.row.label}: " + ", ".join(f"seed {seed} ({run})" for seed, run in sorted(r.other_runs))
        for r in results
        if r.other_runs
    ]
    if not parts:
        return []
    return [
        f"Not averaged in (runs of a row's configuration at seeds the spec does not ask for): {'; '.join(parts)}.",
        "",
    ]


def claim_lines(frame: pd.DataFrame, results: list[RowResult], claims: tuple) -> list[str]:
    """The spec's claims, each judged from the runs of its two rows (:mod:`lightcnn.results.claims`)."""
    if not claims:
        return []
    by_label = {result.row.label: result for result in results}

    def values(label: str, key: str) -> list[float]:
        if key not in frame:
            return []
        return [float(v) for v in per_seed(frame[frame["run_id"].isin(by_label[label].own_runs)], key)]

    lines = [RULE, ""]
    lines += [verdict(c, values(c.row, c.key), values(c.than, c.key)) for c in claims]
    return [*lines, ""]


def run_name(run: pd.Series, mixed_precision: bool) -> str:
    """How ``each_run`` names a run among its row's: its seed, and its precision where they differ."""
    precision = f", {PRECISION_NAMES.get(run['precision'], run['precision'])}" if mixed_precision else ""
    return f"seed {int(run['seed'])}{precision}"


def compared(rows: list[tuple[RowResult, list[tuple[str, float]]]], column: Column) -> list[str]:
    """Each row's mean against the first row's, with both standard deviations, and the
    differences run by run where both rows have a run of the same name (seed, precision): one
    line, or none with fewer than two rows."""
    if len(rows) < 2:
        return []
    (first, first_runs), parts = rows[0], []
    for result, runs in rows[1:]:
        ours, theirs = result.cells[column.id], first.cells[column.id]
        diff = (ours.mean - theirs.mean) * column.scale
        text = (f"{result.row.label} {diff:+.{column.digits}f} in the mean (its standard deviation "
                f"{_fmt(ours.std, column)}, {first.row.label}'s {_fmt(theirs.std, column)})")  # fmt: skip
        base = dict(first_runs)
        same = [(name, (value - base[name]) * column.scale) for name, value in runs if name in base]
        if len(dict(runs)) == len(runs) and len(base) == len(first_runs) and same:  # names identify the runs
            text += ", run by run " + ", ".join(f"{d:+.{column.digits}f} ({name})" for name, d in same)
        parts.append(text)
    return [f"Against {first.row.label}, {column.label}: {'; '.join(parts)}.", ""]


def provenance(frame: pd.DataFrame, results: list[RowResult]) -> list[str]:
    """Which profiles, devices, versions and commits the numbers came from (sorted, deterministic)."""
    run_ids = {run for result in results for run in result.runs}
    if not run_ids:
        return ["No run of this table has an ok record yet."]
    used = frame[frame["run_id"].isin(run_ids)]

    def values(column: str) -> str:
        return ", ".join(sorted({str(v) for v in used[column].dropna()})) if column in used else MISSING_MARK

    missing = [r.row.label for r in results if not r.measured]
    lines = [
        f"Runs: {len(run_ids)}; profile: {values('profile')}; device: {values('device')}; "
        f"torch {values('versions.torch')}; lightcnn {values('versions.lightcnn')}; commit {values('git_commit')}.",
    ]
    if missing:
        lines.append(f"Not measured (marked, not filled): {', '.join(missing)}.")
    return lines + training_conditions(used, results)


def training_conditions(used: pd.DataFrame, results: list[RowResult]) -> list[str]:
    """One line naming, row by row, the precision and the device its trainings ran in, when the
    table's trainings did not all run in one precision on one device (a comparison across rows
    then compares those too); none when they did."""
    if not {"task", "precision", "device"} <= set(used.columns):
        return []
    own = {run for result in results for run in result.own_runs}
    trained = used[(used["task"] == "train") & used["precision"].notna() & used["run_id"].isin(own)]
    condition = trained["precision"].map(lambda p: PRECISION_NAMES.get(p, p)) + " on " + trained["device"]
    if condition.nunique() < 2:
        return []
    parts = []
    for result in results:
        mine = sorted(set(condition[trained["run_id"].isin(result.own_runs)]))
        if mine:
            parts.append(f"{result.row.label}: {'; '.join(mine)}")
    return ["", f"Trained in different precisions or on different devices, row by row: {' | '.join(parts)}."]


def runs_with(frame: pd.DataFrame, row: Row, matcher: ConfigMatcher, field: str) -> pd.DataFrame:
    """The ok runs of ``row`` at the seeds it asks for whose record holds a non-empty list
    ``field``, oldest first."""
    matched = match_rows(frame, matcher.hashes(row, row.tasks))
    if field not in matched.columns:
        return matched.iloc[0:0]
    if "seed" in matched:
        matched = matched[matched["seed"].isin(matcher.seeds(row, row.tasks))]
    return matched[(matched["status"] == "ok") & matched[field].map(lambda h: isinstance(h, list) and bool(h))]


def row_points(frame: pd.DataFrame, row: Row, matcher: ConfigMatcher, field: str = "history") -> tuple[list[dict], int]:
    """(points, runs behind them) of ``row``: for ``history``, the per-epoch metrics averaged over
    every ok run of the row (what its table cell averages too); for any other list field
    (``rl_steps``, …), the newest ok run's list. Empty and 0 when there is none."""
    runs = runs_with(frame, row, matcher, field)
    if runs.empty:
        return [], 0
    if field != "history" or len(runs) == 1:
        return list(runs.iloc[-1][field]), 1
    return mean_history(list(runs[field])), len(runs)


def row_marks(frame: pd.DataFrame, row: Row, matcher: ConfigMatcher, curve) -> dict:
    """The curve's ``baseline`` value and ``final`` point, read from the newest ok run of ``row``
    that has the curve's field (the run its line comes from)."""
    runs = runs_with(frame, row, matcher, curve.field) if curve.baseline or curve.final else frame.iloc[0:0]
    if runs.empty:
        return {}
    run = runs.iloc[-1]

    def number(key: str) -> float | None:
        value = run.get(key)
        return None if value is None or pd.isna(value) else float(value)

    marks = {"baseline": number(curve.baseline)} if curve.baseline else {}
    if curve.final:
        x, y = number(curve.final["x"]), number(curve.final["y"])
        if x is not None and y is not None:
            marks["final"] = (x, y * float(curve.final.get("y_scale", 1.0)))
    return marks


def mean_history(histories: list[list[dict]]) -> list[dict]:
    """Per stage and epoch, the mean of each metric over the histories that have that epoch."""
    entries = pd.DataFrame([entry for history in histories for entry in history])
    metrics = [c for c in entries.columns if c not in ("stage", "epoch")]
    means = entries.groupby(["stage", "epoch"], sort=True)[metrics].mean().reset_index()
    return [{k: v for k, v in entry.items() if not pd.isna(v)} for entry in means.to_dict("records")]


def render_spec(
    spec: TableSpec, frame: pd.DataFrame, out_dir: Path, matcher: ConfigMatcher, results: list | None = None
) -> list[Path]:
    """One spec to ``out_dir/<paper>/<table>.md`` and ``.csv`` and its plots (PNG)."""
    import dataclasses

    from lightcnn.results.plots import curves_plot, scatter_plot

    markdown, numeric, rows = render_table(spec, frame, matcher)
    prefix = SMOKE_TITLE if is_smoke(matcher) else ""
    if results is not None:  # the report's index counts them: aggregated once
        results[:] = rows
    target = Path(out_dir) / spec.paper / spec.name
    images, lines = [], []
    for plot in spec.plots:
        png = target.with_name(f"{spec.name}_{plot.y}_vs_{plot.x}.png")
        if scatter_plot(numeric, plot, prefix + spec.title, png):
            images.append(png)
            lines.append(f"![{png.stem}]({png.name})")
        else:
            lines.append(
                f"*{plot.ylabel or plot.y} against {plot.xlabel or plot.x}*: no plot yet, no row has both values."
            )
    rows = {row.label: row for row in spec.rows}
    for curve in spec.curves:
        png = target.with_name(f"{spec.name}_{curve.name}.png")
        points, marks = {}, {}
        for label in curve.rows:
            series, runs = row_points(frame, rows[label], matcher, curve.field)
            name = label if runs < 2 else f"{label} (mean of {runs} runs)"
            points[name], marks[name] = series, row_marks(frame, rows[label], matcher, curve)
        titled = dataclasses.replace(curve, title=prefix + curve.title) if curve.title else curve
        if curves_plot(points, titled, prefix + spec.title, png, marks):
            images.append(png)
            lines.append(f"![{png.stem}]({png.name})")
        else:
            lines.append(f"*{curve.title or curve.name}*: no plot yet, not measured: {', '.join(curve.rows)}.")
    if lines:
        markdown += "\n" + "\n\n".join(lines) + "\n"
    write_text_atomic(target.with_suffix(".md"), markdown)
    write_text_atomic(target.with_suffix(".csv"), numeric.to_csv(index=False))
    return [target.with_suffix(".md"), target.with_suffix(".csv"), *images]


def load_specs(spec_paths: list[Path], synthetic: bool = False) -> list[TableSpec]:
    """Every spec, checked before anything runs or is written (``synthetic``: smoke stand-ins)."""
    specs = [load_spec(p) for p in spec_paths]
    return [with_synthetic_data(s) for s in specs] if synthetic else specs


def make_matcher(frame: pd.DataFrame, profile: str | None, extra: tuple[str, ...]) -> ConfigMatcher:
    """Rows match records of ``profile``, or of every profile the records were run at."""
    if profile is not None:
        return ConfigMatcher([profile], extra)
    known = sorted(p.stem for p in (CONF_DIR / "profile").glob("*.yaml"))
    seen = sorted(set(frame["profile"].dropna()) & set(known)) if "profile" in frame else []
    return ConfigMatcher(seen or known, extra)


def render_specs(
    spec_paths: list[Path],
    results_dir: Path,
    out_dir: Path,
    profile: str | None = None,
    synthetic: bool = False,
    extra: tuple[str, ...] = (),
) -> list[Path]:
    """Render each spec (see :func:`render_spec`); returns the files written."""
    specs, frame, matcher = _prepare(spec_paths, results_dir, profile, synthetic, extra)
    return [path for spec in specs for path in render_spec(spec, frame, out_dir, matcher)]


def _prepare(
    spec_paths: list[Path], results_dir: Path, profile: str | None, synthetic: bool, extra: tuple[str, ...]
) -> tuple[list[TableSpec], pd.DataFrame, ConfigMatcher]:
    """Specs, records and the row matcher; every row must compose before anything is written."""
    specs = load_specs(spec_paths, synthetic)
    frame = records_frame(results_dir)
    matcher = make_matcher(frame, profile, extra)
    for spec in specs:
        try:
            for row in spec.rows:
                matcher.hashes(row, row.tasks)
        except UserError as err:
            raise UserError(f"{spec.path}: {err}") from None
    return specs, frame, matcher


def input_name(run: pd.Series) -> str:
    """A run's data set, and for synthetic data its input shape (``synthetic_1x28x28``): runs of
    different inputs never share a front."""
    if run["dataset"] != "synthetic":
        return str(run["dataset"])
    channels, side = run.get("config.dataset.channels"), run.get("config.dataset.image_size")
    return (
        f"synthetic_{int(channels)}x{int(side)}x{int(side)}" if pd.notna(channels) and pd.notna(side) else "synthetic"
    )


def render_report(
    spec_paths: list[Path],
    results_dir: Path,
    out_dir: Path,
    profile: str | None = None,
    synthetic: bool = False,
    extra: tuple[str, ...] = (),
) -> list[Path]:
    """The whole report: every table, one page per paper, an index, and one scatter of accuracy
    against FLOPs over every training run with its Pareto front."""
    from lightcnn.results.plots import pareto_plot

    specs, frame, matcher = _prepare(spec_paths, results_dir, profile, synthetic, extra)
    out_dir = Path(out_dir)
    written: list[Path] = []
    papers: dict[str, list[tuple[TableSpec, list[Path], list[RowResult]]]] = {}
    for spec in specs:
        results: list[RowResult] = []
        files = render_spec(spec, frame, out_dir, matcher, results)
        written += files
        papers.setdefault(spec.paper, []).append((spec, files, results))
    index = ["# lightcnn report", ""] + ([SMOKE_BANNER, ""] if is_smoke(matcher) else [])
    index += [
        f"Profile: {profile or 'all'}; data: {'synthetic stand-ins (smoke)' if synthetic else 'as the specs say'}.",
        "",
    ]
    index += ["| paper | tables | rows run | rows with counts only | rows not run |", "|---|---|---|---|---|"]
    for paper, entries in sorted(papers.items()):
        page = out_dir / f"{paper}.md"
        lines = [f"# {paper}", ""]
        run = counted = missing = 0
        for _spec, files, results in entries:
            text = files[0].read_text()
            text = re.sub(r"^# ", "## ", text, flags=re.M)  # the paper's page has one H1: its tables are sections
            lines.append(text.replace("](", f"]({paper}/").replace(f"]({paper}/http", "](http"))
            counted += sum(r.status == COUNTS_ONLY for r in results)
            run += sum(r.measured and r.status != COUNTS_ONLY for r in results)
            missing += sum(not r.measured and r.status != PUBLISHED_ONLY for r in results)  # never ours to run
        write_text_atomic(page, "\n".join(lines))
        written.append(page)
        index.append(f"| [{paper}]({paper}.md) | {len(entries)} | {run} | {counted} | {missing} |")
    rows_runs = {run for entries in papers.values() for *_, results in entries for r in results for run in r.own_runs}
    runs = frame[frame["run_id"].isin(rows_runs)] if "run_id" in frame else frame.iloc[0:0]
    runs = runs[(runs["status"] == "ok") & (runs.get("task") == "train")] if "task" in runs else runs.iloc[0:0]
    if {"flops_conv", "test_acc", "model", "dataset"} <= set(runs):
        runs = runs.dropna(subset=["flops_conv", "test_acc"])
    else:
        runs = runs.iloc[0:0]
    index += ["", "Accuracy against conv + linear MACs of the training runs behind the rows above, one plot per "
              "data set and input shape, with the Pareto front:", ""]  # fmt: skip
    if runs.empty:
        index += ["No training run of this profile yet: no plot.", ""]
    for name, group in (
        sorted(runs.groupby(runs.apply(input_name, axis=1)), key=lambda g: str(g[0])) if len(runs) else []
    ):
        png = out_dir / f"pareto_{name}.png"
        runs_text = f"{len(group)} training run{'s' if len(group) != 1 else ''}"
        prefix = SMOKE_TITLE if is_smoke(matcher) else ""
        pareto_plot(group, f"{prefix}{name.replace('_', ' ')}, profile {profile or 'all'}: {runs_text}", png)
        written.append(png)
        index += [f"![pareto {name}]({png.name})", ""]
    index += provenance(frame, [RowResult(Row("all", ()), "ok", {}, runs=tuple(sorted(runs.get("run_id", []))))])
    write_text_atomic(out_dir / "index.md", "\n".join(index) + "\n")
    written.append(out_dir / "index.md")
    return written
