"""A table spec as Markdown and CSV: published value, ours (mean ± std, seeds), difference; the
runs behind each mean, the claims judged from them, and where the numbers came from."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import pandas as pd

from lightcnn.results.aggregate import (
    NOT_RUN,
    RowResult,
    aggregate_row,
    last_entry,
    made_from_run,
    per_seed,
    reference_mean,
    with_drops,
)
from lightcnn.results.claims import RULE, verdict
from lightcnn.results.matching import ConfigMatcher
from lightcnn.results.specs import Column, TableSpec, derived_value

MISSING_MARK = "—"  # a difference or ratio that cannot be formed (a side is missing)

NOT_APPLICABLE = "n/a"  # the paper gives no value for this cell

MAX_TABLE_COLUMNS = 10  # wider tables are split: accuracy first, then the costs


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
    results = with_drops([aggregate_row(frame, row, spec.columns, matcher) for row in spec.rows], spec.columns)
    by_label = {result.row.label: result for result in results}
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
            named = [
                RunValue(run_name(run, mixed), float(run[key]), str(run["run_id"]), made_from_run(run))
                for _, run in runs.iterrows()
            ]
            parts.append(f"{result.row.label} {', '.join(f'{_fmt(r.value, column)} ({r.name})' for r in named)}")
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

    def values(label: str, key: str, list_item: tuple[str, bool] | None = None) -> pd.Series:  # seed -> mean
        if key not in frame:
            return pd.Series(dtype=float)
        runs = frame[frame["run_id"].isin(by_label[label].own_runs)]
        if list_item:
            runs, key = runs.assign(item=last_entry(runs, key, *list_item)), "item"
        return per_seed(runs, key).astype(float)

    lines = [RULE, ""]
    for claim in claims:
        ours, theirs = values(claim.row, claim.key, claim.list_item), values(claim.than, claim.key, claim.list_item)
        both = ours.index.intersection(theirs.index) if "seed" in frame else []
        by_seed = {int(seed): float(ours[seed] - theirs[seed]) for seed in both}
        costs = None
        if claim.at_same:
            mine, other = values(claim.row, claim.at_same), values(claim.than, claim.at_same)
            costs = (float(mine.mean()), float(other.mean())) if len(mine) and len(other) else None
        lines.append(verdict(claim, ours.tolist(), theirs.tolist(), by_seed, costs))
    return [*lines, ""]


def run_name(run: pd.Series, mixed_precision: bool) -> str:
    """How ``each_run`` names a run among its row's: its seed, and its precision where they differ."""
    precision = f", {PRECISION_NAMES.get(run['precision'], run['precision'])}" if mixed_precision else ""
    return f"seed {int(run['seed'])}{precision}"


class RunValue(NamedTuple):
    name: str  # seed, and precision where a row's runs differ in it
    value: float
    run_id: str
    made_from: str | None  # the run whose weights it started from (a pruned run's baseline)


def compared(rows: list[tuple[RowResult, list[RunValue]]], column: Column) -> list[str]:
    """Each row's mean against the first row's (a row made from the first row's runs against
    those runs, as a drop column: :func:`lightcnn.results.aggregate.reference_mean`), with both
    standard deviations, and the differences run by run where both rows have a run of the same
    name (seed, precision; the runs of one name averaged first, ``mean_by_name``), a run made from
    one of the first row's runs against that run: one line, or none with fewer than two rows."""
    if len(rows) < 2:
        return []
    (first, first_runs), parts = rows[0], []
    base_by_run = {r.run_id: r.value for r in first_runs}
    base = mean_by_name([(r.name, r.value) for r in first_runs])
    for result, runs in rows[1:]:
        ours, theirs = result.cells[column.id], first.cells[column.id]
        made_from_first = any(run in base_by_run for _, run in ours.made_from)  # as a drop column measures it
        diff = (ours.mean - (reference_mean(ours, theirs) if made_from_first else theirs.mean)) * column.scale
        text = (f"{result.row.label} {diff:+.{column.digits}f} in the mean (its standard deviation "
                f"{_fmt(ours.std, column)}, {first.row.label}'s {_fmt(theirs.std, column)})")  # fmt: skip
        differences = [
            (r.name, r.value - base_by_run.get(r.made_from, base.get(r.name)))
            for r in runs
            if r.made_from in base_by_run or r.name in base
        ]
        same = [(name, d * column.scale) for name, d in mean_by_name(differences).items()]
        if same:
            text += ", run by run " + ", ".join(f"{d:+.{column.digits}f} ({name})" for name, d in same)
        parts.append(text)
    return [f"Against {first.row.label}, {column.label}: {'; '.join(parts)}.", ""]


def mean_by_name(runs: list[tuple[str, float]]) -> dict[str, float]:
    """One value per run name (seed, and precision where it differs), the mean of the runs of
    that name, in the order of the names' first runs: two runs of one seed (the same
    configuration rerun on another machine) pair as one, as the row's mean counts them
    (:func:`lightcnn.results.aggregate.per_seed`)."""
    values: dict[str, list[float]] = {}
    for name, value in runs:
        values.setdefault(name, []).append(value)
    return {name: sum(v) / len(v) for name, v in values.items()}


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
