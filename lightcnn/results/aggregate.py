"""A table row's numbers from run records: the records as one frame (nested fields flattened to
``a.b`` columns), a row's runs (the records whose config is exactly what its overrides compose to,
:mod:`lightcnn.results.matching`), one value per seed, mean ± std over the seeds the spec asks
for, columns relative to a reference row, and the points of its curves. Each column comes from
the newest configuration that measured it, so parameter counts can come from a ``task=profile``
record while accuracies need ``task=train``. A row without an ``ok`` run says so; nothing is filled."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from lightcnn.composition import CONF_DIR
from lightcnn.record_io import iter_records
from lightcnn.results.matching import COUNT_KEYS, ConfigMatcher, count_hash, noseed_hash
from lightcnn.results.specs import Column, Curves, Row

NOT_RUN = "not run"  # no ok record holds this cell (the row's status says why, if it failed)

PUBLISHED_ONLY = "published only"  # a row with no tasks: another method's published figures, not run here

COUNTS_ONLY = "ok (counts only)"  # the row's counts are measured, its own tasks have not run


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
    by_seed: tuple[tuple[int, float], ...] = ()  # (seed, value) behind the mean, where runs name their seed
    by_run: tuple[tuple[str, float], ...] = ()  # (run id, value) of each run behind by_seed
    made_from: tuple[tuple[int, str], ...] = ()  # (seed, run id) of the runs whose weights its runs started from


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


def last_entry(runs: pd.DataFrame, key: str, item: str, minus_first: bool = True) -> pd.Series:
    """Per run, the last entry's ``item`` in the list field ``key`` (a search's mean return in its
    last round: ``key=rl_rounds``, ``item=mean_return``), minus the first entry's with
    ``minus_first`` (its rise from the first round to the last); NaN for a run without two entries
    that hold ``item``."""

    def change(entries) -> float:
        if not isinstance(entries, list) or len(entries) < 2:
            return math.nan
        first, last = entries[0].get(item), entries[-1].get(item)
        if first is None or last is None:
            return math.nan
        return float(last) - float(first) if minus_first else float(last)

    return runs[key].map(change).astype(float) if key in runs else pd.Series(math.nan, index=runs.index)


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
        by_seed = tuple((int(seed), float(v)) for seed, v in values.items()) if "seed" in group else ()
        by_run = tuple((str(run), float(v)) for run, v in zip(group["run_id"], pd.to_numeric(group[key]), strict=True))
        cells[column.id] = Cell(float(values.mean()), std, int(len(values)), by_seed, by_run, made_from(group))
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


def made_from_run(run: pd.Series) -> str | None:
    """The run whose weights ``run`` (a record) started from (``depends_on``: a pruned run's
    baseline), or None."""
    parent = run.get("depends_on.run_id")
    return None if parent is None or pd.isna(parent) else str(parent)


def made_from(runs: pd.DataFrame) -> tuple[tuple[int, str], ...]:
    """(seed, run id) of the run each of ``runs`` took its weights from, for the runs that name one."""
    if "seed" not in runs:
        return ()
    parents = ((run["seed"], made_from_run(run)) for _, run in runs.iterrows())
    return tuple((int(seed), parent) for seed, parent in parents if parent is not None)


def reference_by_seed(cell: Cell, ref: Cell) -> dict[int, float]:
    """For each seed of ``cell``, the reference's value it is measured against: the mean of the
    reference runs its runs were made from (a pruned seed against the very baseline run it
    pruned, though its seed has another baseline run, e.g. trained again with other threads),
    else the reference's value at that seed; a seed the reference has neither for is left out."""
    runs, seeds = dict(ref.by_run), dict(ref.by_seed)
    values = {}
    for seed, _ in cell.by_seed:
        parents = [runs[run] for s, run in cell.made_from if s == seed and run in runs]
        if parents:
            values[seed] = sum(parents) / len(parents)
        elif seed in seeds:
            values[seed] = seeds[seed]
    return values


def reference_mean(cell: Cell, ref: Cell | None) -> float | None:
    """The reference's mean over ``cell``'s seeds (:func:`reference_by_seed`) where it has them
    all, else over its own; None without one."""
    if ref is None or ref.mean is None:
        return None
    values = reference_by_seed(cell, ref)
    if cell.by_seed and len(values) == len(cell.by_seed):
        return sum(values.values()) / len(values)
    return ref.mean


def with_drops(results: list[RowResult], columns: tuple[Column, ...]) -> list[RowResult]:
    """The rows with their columns relative to the row's reference: ``drop`` = the reference's
    mean minus the row's (per-seed spread kept), ``reduction`` = 1 − the row's mean ÷ the reference's.
    The reference's mean is taken over the row's seeds where it has them all (a pruned row at seed 0
    against its seed-0 baseline while seed 1's baseline has already run; each seed against the
    baseline runs it was made from, :func:`reference_by_seed`), else over its own."""
    refs = {r.row.label: r.cells for r in results}

    def relative(cell: Cell, column: Column, ref_cell: Cell | None) -> Cell:
        ref = reference_mean(cell, ref_cell)
        if cell.mean is None or ref is None or (column.reduction and not ref):
            return Cell()
        if column.drop:
            return Cell(ref - cell.mean, cell.std, cell.n)
        return Cell(1 - cell.mean / ref, cell.std and cell.std / abs(ref), cell.n)

    relatives = [c for c in columns if c.drop or c.reduction]
    return [
        replace(
            result,
            cells={
                **result.cells,
                **{
                    c.id: relative(result.cells[c.id], c, refs.get(result.row.reference, {}).get(c.id))
                    for c in relatives
                },
            },
        )  # fmt: skip
        for result in results
    ]


def runs_with(frame: pd.DataFrame, row: Row, matcher: ConfigMatcher, field: str) -> pd.DataFrame:
    """The ok runs of ``row`` at the seeds it asks for whose record holds a non-empty list
    ``field``, oldest first."""
    matched = match_rows(frame, matcher.hashes(row, row.tasks))
    if field not in matched.columns:
        return matched.iloc[0:0]
    if "seed" in matched:
        matched = matched[matched["seed"].isin(matcher.seeds(row, row.tasks))]
    return matched[(matched["status"] == "ok") & matched[field].map(lambda h: isinstance(h, list) and bool(h))]


@dataclass(frozen=True)
class RowPoints:
    """What a curve draws for one row: ``points`` (its line), the ``seeds`` of the ok runs
    behind them, and, where ``points`` is a mean over several runs, ``each_run``'s own points;
    ``runs``: the row's ok runs with the field (more than ``seeds`` when the line is the newest's)."""

    points: list[dict]
    seeds: tuple[int, ...] = ()
    each_run: tuple[list[dict], ...] = ()
    runs: int = 0


def row_points(frame: pd.DataFrame, row: Row, matcher: ConfigMatcher, curve: Curves) -> RowPoints:
    """The points of ``row`` for ``curve``, from every ok run of the row at the seeds it asks for:
    for ``history``, the per-epoch metrics averaged over the runs (what its table cell averages
    too); for a list of points split into lines ``by`` a key (one search's episodes), the newest
    run's; for any other list (a search's rounds), the mean ``y`` at each ``x`` over the runs, with
    each run's own points. Empty when there is no such run."""
    runs = runs_with(frame, row, matcher, curve.field)
    if runs.empty:
        return RowPoints([])
    seeds = tuple(int(s) for s in runs["seed"]) if "seed" in runs else (0,) * len(runs)
    lists = [list(points) for points in runs[curve.field]]
    if curve.field == "history":
        return RowPoints(lists[0] if len(lists) == 1 else mean_history(lists), seeds, runs=len(lists))
    if curve.by or len(lists) == 1:
        return RowPoints(lists[-1], seeds[-1:], runs=len(lists))
    return RowPoints(mean_points(lists, curve.x, curve.y), seeds, tuple(lists), len(lists))


def mean_points(lists: list[list[dict]], x: str, y: str) -> list[dict]:
    """At each ``x`` (in increasing order), the mean ``y`` over the lists that have a point there."""
    values: dict = {}
    for points in lists:
        for point in points:
            if point.get(x) is not None and point.get(y) is not None:
                values.setdefault(point[x], []).append(float(point[y]))
    return [{x: at, y: sum(ys) / len(ys)} for at, ys in sorted(values.items())]


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


def make_matcher(frame: pd.DataFrame, profile: str | None, extra: tuple[str, ...]) -> ConfigMatcher:
    """Rows match records of ``profile``, or of every profile the records were run at."""
    if profile is not None:
        return ConfigMatcher([profile], extra)
    known = sorted(p.stem for p in (CONF_DIR / "profile").glob("*.yaml"))
    seen = sorted(set(frame["profile"].dropna()) & set(known)) if "profile" in frame else []
    return ConfigMatcher(seen or known, extra)


def input_name(run: pd.Series) -> str:
    """A run's data set, and for synthetic data its input shape (``synthetic_1x28x28``): runs of
    different inputs never share a front."""
    if run["dataset"] != "synthetic":
        return str(run["dataset"])
    channels, side = run.get("config.dataset.channels"), run.get("config.dataset.image_size")
    return (
        f"synthetic_{int(channels)}x{int(side)}x{int(side)}" if pd.notna(channels) and pd.notna(side) else "synthetic"
    )
