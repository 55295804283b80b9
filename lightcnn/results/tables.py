"""The report: every table spec rendered from the run records (its page, CSV and plots), one
page per paper, an index, and accuracy against MACs with the Pareto front.

The numbers come from :mod:`lightcnn.results.aggregate` (a row's runs, mean ± std over its
seeds), the text from :mod:`lightcnn.results.render`. Output is deterministic: the same records
render to the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lightcnn.errors import UserError
from lightcnn.record_io import write_text_atomic
from lightcnn.results.aggregate import (
    COUNTS_ONLY,
    PUBLISHED_ONLY,
    RowPoints,
    RowResult,
    input_name,
    make_matcher,
    records_frame,
    row_marks,
    row_points,
)
from lightcnn.results.matching import ConfigMatcher
from lightcnn.results.render import SMOKE_BANNER, SMOKE_TITLE, is_smoke, provenance, render_table
from lightcnn.results.spec_loading import load_spec
from lightcnn.results.specs import Row, TableSpec, with_synthetic_data


@dataclass
class SpecPage:
    """What rendering one spec wrote: its Markdown (as written), the files and its rows' results."""

    markdown: str
    files: list[Path]
    results: list[RowResult] = field(default_factory=list)


def render_spec(spec: TableSpec, frame: pd.DataFrame, out_dir: Path, matcher: ConfigMatcher) -> SpecPage:
    """One spec to ``out_dir/<paper>/<table>.md`` and ``.csv`` and its plots (PNG)."""
    markdown, numeric, results = render_table(spec, frame, matcher)
    target = Path(out_dir) / spec.paper / spec.name
    images, lines = spec_plots(spec, frame, matcher, numeric, target)
    if lines:
        markdown += "\n" + "\n\n".join(lines) + "\n"
    write_text_atomic(target.with_suffix(".md"), markdown)
    write_text_atomic(target.with_suffix(".csv"), numeric.to_csv(index=False))
    return SpecPage(markdown, [target.with_suffix(".md"), target.with_suffix(".csv"), *images], results)


def spec_plots(
    spec: TableSpec, frame: pd.DataFrame, matcher: ConfigMatcher, numeric: pd.DataFrame, target: Path
) -> tuple[list[Path], list[str]]:
    """The spec's scatter plots and curves beside ``target``: (PNG files, the page's lines for them)."""
    import dataclasses

    from lightcnn.results.plots import curves_plot, scatter_plot

    prefix = SMOKE_TITLE if is_smoke(matcher) else ""
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
        points, marks, each_run = {}, {}, {}
        for label in curve.rows:
            drawn = row_points(frame, rows[label], matcher, curve)
            name = curve_label(label, drawn, curve.field)
            points[name], marks[name] = drawn.points, row_marks(frame, rows[label], matcher, curve)
            if drawn.each_run:
                each_run[name] = drawn.each_run
        titled = dataclasses.replace(curve, title=prefix + curve.title) if curve.title else curve
        if curves_plot(points, titled, prefix + spec.title, png, marks, each_run):
            images.append(png)
            lines.append(f"![{png.stem}]({png.name})")
        else:
            lines.append(f"*{curve.title or curve.name}*: no plot yet, not measured: {', '.join(curve.rows)}.")
    return images, lines


def curve_label(label: str, drawn: RowPoints, field: str) -> str:
    """A row's name in a curve's legend, saying what its line is: the mean of several runs (and
    their seeds, when each run is drawn too), or one run (of a list other than ``history``: which
    seed, and of how many runs)."""
    seeds = ", ".join(map(str, sorted(drawn.seeds)))
    if drawn.each_run:
        return f"{label} (mean of {len(drawn.each_run)} runs, seeds {seeds}; thin: each run)"
    if len(drawn.seeds) > 1:
        return f"{label} (mean of {len(drawn.seeds)} runs)"
    if drawn.runs > 1:
        return f"{label} (seed {seeds}: the newest of {drawn.runs} runs)"
    return f"{label} (seed {seeds})" if field != "history" and drawn.seeds else label


def load_specs(spec_paths: list[Path], synthetic: bool = False) -> list[TableSpec]:
    """Every spec, checked before anything runs or is written (``synthetic``: smoke stand-ins)."""
    specs = [load_spec(p) for p in spec_paths]
    return [with_synthetic_data(s) for s in specs] if synthetic else specs


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
    return [path for spec in specs for path in render_spec(spec, frame, out_dir, matcher).files]


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


def paper_page(paper: str, pages: list[SpecPage], out_dir: Path) -> tuple[Path, str]:
    """``out_dir/<paper>.md``, its tables as sections; (the page, its line in the index)."""
    lines = [f"# {paper}", ""]
    for page in pages:
        text = re.sub(r"^# ", "## ", page.markdown, flags=re.M)  # the paper's page has one H1: its tables are sections
        lines.append(text.replace("](", f"]({paper}/").replace(f"]({paper}/http", "](http"))
    results = [r for page in pages for r in page.results]
    counted = sum(r.status == COUNTS_ONLY for r in results)
    run = sum(r.measured and r.status != COUNTS_ONLY for r in results)
    missing = sum(not r.measured and r.status != PUBLISHED_ONLY for r in results)  # never ours to run
    path = out_dir / f"{paper}.md"
    write_text_atomic(path, "\n".join(lines))
    return path, f"| [{paper}]({paper}.md) | {len(pages)} | {run} | {counted} | {missing} |"


def rows_training_runs(frame: pd.DataFrame, pages: list[SpecPage]) -> pd.DataFrame:
    """The ok training runs behind the report's rows that have both MACs and an accuracy."""
    rows_runs = {run for page in pages for r in page.results for run in r.own_runs}
    runs = frame[frame["run_id"].isin(rows_runs)] if "run_id" in frame else frame.iloc[0:0]
    runs = runs[(runs["status"] == "ok") & (runs.get("task") == "train")] if "task" in runs else runs.iloc[0:0]
    if not {"flops_conv", "test_acc", "model", "dataset"} <= set(runs):
        return runs.iloc[0:0]
    return runs.dropna(subset=["flops_conv", "test_acc"])


def pareto_section(runs: pd.DataFrame, out_dir: Path, profile: str | None, smoke: bool) -> tuple[list[Path], list[str]]:
    """Accuracy against MACs, one plot per data set and input shape: (PNG files, the index's lines)."""
    from lightcnn.results.plots import pareto_plot

    lines = ["", "Accuracy against conv + linear MACs of the training runs behind the rows above, one plot per "
             "data set and input shape, with the Pareto front of the runs trained longest from scratch and the "
             "runs made from them (a pruned run from its baseline): accuracies of different schedules are not "
             "comparable.", ""]  # fmt: skip
    if runs.empty:
        return [], [*lines, "No training run of this profile yet: no plot.", ""]
    images = []
    for name, group in sorted(runs.groupby(runs.apply(input_name, axis=1)), key=lambda g: str(g[0])):
        png = out_dir / f"pareto_{name}.png"
        runs_text = f"{len(group)} training run{'s' if len(group) != 1 else ''}"
        prefix = SMOKE_TITLE if smoke else ""
        pareto_plot(group, f"{prefix}{name.replace('_', ' ')}, profile {profile or 'all'}: {runs_text}", png)
        images.append(png)
        lines += [f"![pareto {name}]({png.name})", ""]
    return images, lines


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
    specs, frame, matcher = _prepare(spec_paths, results_dir, profile, synthetic, extra)
    out_dir = Path(out_dir)
    papers: dict[str, list[SpecPage]] = {}
    for spec in specs:
        papers.setdefault(spec.paper, []).append(render_spec(spec, frame, out_dir, matcher))
    written = [path for pages in papers.values() for page in pages for path in page.files]
    index = ["# lightcnn report", ""] + ([SMOKE_BANNER, ""] if is_smoke(matcher) else [])
    index += [
        f"Profile: {profile or 'all'}; data: {'synthetic stand-ins (smoke)' if synthetic else 'as the specs say'}.",
        "",
        "| paper | tables | rows run | rows with counts only | rows not run |",
        "|---|---|---|---|---|",
    ]
    for paper, pages in sorted(papers.items()):
        page, line = paper_page(paper, pages, out_dir)
        written.append(page)
        index.append(line)
    runs = rows_training_runs(frame, [page for pages in papers.values() for page in pages])
    images, lines = pareto_section(runs, out_dir, profile, is_smoke(matcher))
    index += lines + provenance(
        frame, [RowResult(Row("all", ()), "ok", {}, runs=tuple(sorted(runs.get("run_id", []))))]
    )
    write_text_atomic(out_dir / "index.md", "\n".join(index) + "\n")
    return [*written, *images, out_dir / "index.md"]
