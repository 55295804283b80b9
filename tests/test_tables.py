import json
from pathlib import Path

import pytest
from conftest import ROOT
from omegaconf import OmegaConf

from lightcnn.errors import UserError
from lightcnn.record_io import write_json_atomic
from lightcnn.results.matching import ConfigMatcher
from lightcnn.results.spec_loading import load_spec
from lightcnn.results.tables import render_specs

SPEC = """
title: Toy table
source: Somebody (2016), Table 1
overrides: [dataset=cifar10]
seeds: [0, 1, 2]
columns:
  - {key: params, label: Params (M), scale: 1.0e-6, digits: 3, diff: relative}
  - {key: test_acc, label: Top-1 (%), digits: 2}
rows:
  - {label: R20, overrides: [model=resnet, model.depth=20], published: {params: 0.27e6, test_acc: 91.25}}
  - {label: R56, overrides: [model=resnet, model.depth=56], published: {params: 0.85e6, test_acc: 93.03}}
  - {label: R110, overrides: [model=resnet, model.depth=110], published: {params: 1.7e6, test_acc: 93.57}}
"""


def record(
    run_id,
    depth,
    seed,
    acc,
    status="ok",
    params=269_722,
    profile="quick",
    finished="2026-01-01T00:00:00",
    task="train",
    extra=(),
):
    """A record whose config is what lightcnn composes for these overrides."""
    cfg = ConfigMatcher([profile]).config(
        (
            "dataset=cifar10",
            "model=resnet",
            f"model.depth={depth}",
            f"task={task}",
            f"profile={profile}",
            f"seed={seed}",
            *extra,
        )
    )
    config = OmegaConf.to_container(cfg, resolve=True)
    return {
        "run_id": run_id,
        "status": status,
        "task": task,
        "model": "resnet",
        "seed": seed,
        "profile": profile,
        "config": config,
        "config_hash": f"h{depth}{seed}",
        "params": params,
        "test_acc": acc,
        "finished_at": finished,
        "device": "cpu",
        "versions": {"torch": "2.x", "lightcnn": "0.1.0"},
        "git_commit": "abc",
    }


@pytest.fixture
def spec_path(tmp_path):
    path = tmp_path / "experiments" / "toy" / "table.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(SPEC)
    return path


def write_records(results: Path, records):
    for rec in records:
        write_json_atomic(results / rec["run_id"] / "result.json", rec)


def test_seeds_aggregate_missing_and_failed_are_marked(tmp_path, spec_path):
    results = tmp_path / "results"
    write_records(
        results,
        [
            record("a", 20, 0, 91.0),
            record("b", 20, 1, 92.0),
            record("c", 20, 2, 93.0),
            record("d", 56, 0, None, status="failed", params=None),
        ],
    )
    md, csv = render_specs([spec_path], results, tmp_path / "out")
    text = md.read_text()
    assert "| R20  | 0.270" in text and "92.00 ± 1.00" in text and "+0.75" in text
    assert "| R56  |" in text and "failed" in text
    assert "| R110 |" in text and "not run" in text
    assert "Not measured (marked, not filled): R56, R110." in text
    # the runs behind a ± (the table's one mean over several runs), in seed order
    assert "Each run, Top-1 (%): R20 91.00 (seed 0), 92.00 (seed 1), 93.00 (seed 2)." in text
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("row,params_paper,params_ours,params_std,params_diff,test_acc_paper")
    r20 = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert float(r20["test_acc_ours"]) == 92.0 and r20["seeds"] == "3"
    assert float(r20["params_diff"]) == pytest.approx(100 * (269_722 - 270_000) / 270_000)
    r56 = dict(zip(lines[0].split(","), lines[2].split(","), strict=True))
    assert r56["status"] == "failed" and r56["test_acc_ours"] == ""


def test_a_row_averages_the_seeds_its_spec_asks_for_and_lists_other_runs_apart(tmp_path, spec_path):
    """Runs made by hand beside the reproduction (seed 5, 7) do not move the row's mean; two runs
    of one seed count as one value (their mean)."""
    runs = [record("a", 20, 0, 91.0), record("b", 20, 1, 92.0), record("c", 20, 1, 94.0),
            record("x", 20, 5, 10.0), record("y", 20, 7, 12.0)]  # fmt: skip
    write_records(tmp_path / "results", runs)
    text = render_specs([spec_path], tmp_path / "results", tmp_path / "out")[0].read_text()
    assert "| 92.00 ± 1.41 " in text  # seeds 0 and 1: 91 and (92 + 94) / 2
    assert "R20 91.00 (seed 0), 92.00 (seed 1), 94.00 (seed 1)." in text
    assert ("Not averaged in (runs of a row's configuration at seeds the spec does not ask for): "
            "R20: seed 5 (x), seed 7 (y).") in text  # fmt: skip


def test_rows_with_several_seeds_are_compared_with_the_first_in_the_mean_and_seed_by_seed(tmp_path, spec_path):
    runs = [record("a", 20, 0, 91.0), record("b", 20, 1, 92.0), record("c", 20, 2, 93.0),
            record("e", 56, 1, 94.0), record("f", 56, 2, 96.0)]  # fmt: skip
    write_records(tmp_path / "results", runs)
    md, _ = render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    assert (
        "Against R20, Top-1 (%): R56 +3.00 in the mean (its standard deviation 1.41, R20's 1.00), "
        "run by run +2.00 (seed 1), +3.00 (seed 2)."
    ) in md.read_text()
    # a seed run twice (a rerun on another machine) pairs as its runs' mean, as the row's mean counts it
    write_records(tmp_path / "again", [*runs, record("g", 20, 1, 93.0)])
    md, _ = render_specs([spec_path], tmp_path / "again", tmp_path / "out2")
    assert "run by run +1.50 (seed 1), +3.00 (seed 2)." in md.read_text()
    write_records(tmp_path / "one", runs[:3])  # one row with a mean: nothing to compare
    md, _ = render_specs([spec_path], tmp_path / "one", tmp_path / "out1")
    assert "Against" not in md.read_text()


def test_repeated_runs_of_a_seed_name_the_precision_each_trained_in(tmp_path, spec_path):
    """``precision=auto`` is one configuration that trains in float32 on one CPU and bf16 on another."""
    results = tmp_path / "results"
    runs = [record("a", 20, 0, 91.0), record("b", 20, 0, 92.0)]
    runs[0]["precision"], runs[1]["precision"] = "32-true", "bf16-mixed"
    write_records(results, runs)
    md, _ = render_specs([spec_path], results, tmp_path / "out")
    assert "Each run, Top-1 (%): R20 91.00 (seed 0, float32), 92.00 (seed 0, bf16 autocast)." in md.read_text()


def test_a_table_whose_rows_trained_in_different_precisions_or_devices_says_so_row_by_row(tmp_path, spec_path):
    runs = [record("a", 20, 0, 91.0), record("b", 56, 0, 92.0), record("c", 110, 0, 93.0)]
    conditions = [("bf16-mixed", "cpu (A)"), ("32-true", "cpu (A)"), ("32-true", "cpu (B)")]
    for run, (precision, device) in zip(runs, conditions, strict=True):
        run.update(precision=precision, device=device)
    write_records(tmp_path / "results", runs)
    md, _ = render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    assert (
        "Trained in different precisions or on different devices, row by row: R20: bf16 autocast on cpu (A) | "
        "R56: float32 on cpu (A) | R110: float32 on cpu (B)."
    ) in md.read_text()
    for run in runs:
        run.update(precision="32-true", device="cpu (A)")
    write_records(tmp_path / "same", runs)
    md, _ = render_specs([spec_path], tmp_path / "same", tmp_path / "out1")
    assert "Trained in different" not in md.read_text()


def test_counts_a_method_could_not_compute_without_data_stay_out_of_the_table(tmp_path, spec_path):
    """An RL profile record counts the network before the search: it must not fill the row."""
    before_search = {**record("p", 20, 0, None, params=999_999, task="profile"), "counts_final": False}
    write_records(tmp_path / "results", [before_search])
    md, csv = render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    assert "999" not in md.read_text() and "| R20  |" in md.read_text()
    r20 = dict(zip(*(line.split(",") for line in csv.read_text().splitlines()[:2]), strict=True))
    assert r20["status"] == "not run" and r20["params_ours"] == ""
    write_records(tmp_path / "results", [record("q", 20, 0, None, params=269_722, task="profile")])
    md, _ = render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    assert "| R20  | 0.270" in md.read_text()


def test_counts_come_from_any_record_of_the_same_model_method_and_data_set(tmp_path, spec_path):
    """Counts need no training: a profile run with another schedule and augmentation fills the
    row's count columns, never its accuracy; a training run of another configuration fills nothing."""
    other = ("dataset.augment.crop_padding=0", "trainer.max_epochs=3")
    write_records(
        tmp_path / "results",
        [
            record("p", 20, 0, None, params=269_722, task="profile", extra=other),
            record("t", 56, 0, 77.0, params=853_018, extra=other),
        ],
    )
    md, csv = render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    rows = [dict(zip(csv.read_text().splitlines()[0].split(","), line.split(","), strict=True))
            for line in csv.read_text().splitlines()[1:]]  # fmt: skip
    r20, r56, r110 = rows
    assert (r20["params_ours"], r20["test_acc_ours"], r20["status"]) == ("269722.0", "", "ok (counts only)")
    assert (r56["params_ours"], r56["test_acc_ours"]) == ("853018.0", "")  # its accuracy is another config's
    assert (r110["params_ours"], r110["status"]) == ("", "not run")
    assert "77.00" not in md.read_text()


def test_the_seed_count_is_that_of_the_accuracy_not_of_the_runs_lending_counts(tmp_path, spec_path):
    other = ("trainer.max_epochs=3",)
    write_records(
        tmp_path / "results",
        [record("a", 20, 0, 91.0), record("b", 20, 1, None, params=269_722, task="profile", extra=other),
         record("c", 20, 2, None, params=269_722, task="profile", extra=other)],
    )  # fmt: skip
    _, csv = render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    header, first = csv.read_text().splitlines()[:2]
    r20 = dict(zip(header.split(","), first.split(","), strict=True))
    assert (r20["test_acc_ours"], r20["seeds"]) == ("91.0", "1")  # one trained seed, though three runs hold counts


def test_rendering_is_deterministic(tmp_path, spec_path):
    results = tmp_path / "results"
    write_records(results, [record("b", 20, 1, 92.0), record("a", 20, 0, 91.0), record("e", 110, 0, 93.1)])
    first = [p.read_bytes() for p in render_specs([spec_path], results, tmp_path / "o1")]
    second = [p.read_bytes() for p in render_specs([spec_path], results, tmp_path / "o2")]
    assert first == second


def test_newest_configuration_wins_and_profile_filter(tmp_path, spec_path):
    results = tmp_path / "results"
    write_records(
        results,
        [
            record("old", 20, 0, 50.0, profile="smoke", finished="2026-01-01T00:00:00"),
            record("new", 20, 0, 90.0, profile="paper", finished="2026-02-01T00:00:00"),
        ],
    )
    md, _ = render_specs([spec_path], results, tmp_path / "out")
    assert "90.00" in md.read_text() and "50.00" not in md.read_text()
    assert "Smoke report" not in md.read_text()
    md, _ = render_specs([spec_path], results, tmp_path / "out2", profile="smoke")
    assert "50.00" in md.read_text()
    assert md.read_text().splitlines()[2].startswith("> **Smoke report: the accuracies are meaningless.**")


def test_spec_with_unknown_model_fails_before_anything_is_written(tmp_path, spec_path):
    spec_path.write_text(SPEC.replace("model=resnet, model.depth=56", "model=resnext, model.depth=56"))
    with pytest.raises(UserError, match=r"row 'R56': model=resnext: no such option; available: .*resnet"):
        render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_shipped_specs_load():
    root = Path(__file__).resolve().parents[1]
    specs = [load_spec(p) for p in sorted((root / "experiments").rglob("*.yaml"))]
    assert any(s.name == "he2016" and len(s.rows) == 5 for s in specs)


def test_records_with_nan_are_written_as_strict_json(tmp_path):
    path = tmp_path / "r" / "result.json"
    write_json_atomic(path, {"status": "diverged", "loss": float("nan")})
    assert json.loads(path.read_text()) == {"status": "diverged", "loss": None}
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]  # no temporary file left


RATIO_SPEC = """
title: Ratios
overrides: [dataset=cifar10]
tasks: [train, latency]
columns:
  - {key: test_acc, label: Top-1, diff: none}
  - {key: params, label: Params, digits: 0, diff: none, ratio: true}
  - {key: latency.cpu.b1.median_ms, label: CPU b1, diff: none}
rows:
  - {label: R56, overrides: [model=resnet, model.depth=56], reference: R56}
  - {label: R20, overrides: [model=resnet, model.depth=20], reference: R56}
plots:
  - {x: params, y: test_acc}
"""


def test_ratio_columns_nested_keys_and_plots(tmp_path):
    spec = tmp_path / "experiments" / "toy" / "ratios.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(RATIO_SPEC)
    results = tmp_path / "results"
    r20 = record("a", 20, 0, 91.0, params=269_722)
    r56 = record("b", 56, 0, 93.0, params=853_018)
    latency = {**record("c", 20, 0, None, task="latency"), "latency": {"cpu": {"b1": {"median_ms": 1.5}}}}
    failed = record("d", 56, 0, None, status="failed", params=None)
    write_records(results, [r20, r56, latency, failed])
    written = render_specs([spec], results, tmp_path / "out")
    text = written[0].read_text()
    assert "| R20 | 91.00" in text and f"{269_722 / 853_018:.3f}" in text and "1.50" in text
    assert "ok (+1 failed)" in text  # R56's train run is ok, a later run of it failed
    png = [p for p in written if p.suffix == ".png"]
    assert [p.name for p in png] == ["ratios_test_acc_vs_params.png"] and png[0].read_bytes()[:4] == b"\x89PNG"
    again = render_specs([spec], results, tmp_path / "out2")
    assert [p.read_bytes() for p in written] == [p.read_bytes() for p in again]
    assert load_spec(spec).rows[0].tasks == ("train", "latency")


def test_reference_must_name_a_row(tmp_path):
    spec = tmp_path / "x.yaml"
    spec.write_text(RATIO_SPEC.replace("reference: R56}\n  - {label: R20", "reference: R99}\n  - {label: R20"))
    with pytest.raises(UserError, match="reference 'R99' is not a row of this table"):
        load_spec(spec)


def rendered_against_r56(tmp_path, column: str, published: str) -> dict[str, list[str]]:
    """Render a two-row spec (R20 with R56 as reference) with one ``column``; cells per row label."""
    spec = tmp_path / "experiments" / "toy" / "relative.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        f"title: Relative\noverrides: [dataset=cifar10]\ncolumns: [{column}]\nrows:\n"
        "  - {label: R56, overrides: [model=resnet, model.depth=56], reference: R56}\n"
        f"  - {{label: R20, overrides: [model=resnet, model.depth=20], reference: R56, published: {published}}}\n"
    )
    write_records(
        tmp_path / "results", [record("a", 20, 0, 91.0, params=269_722), record("b", 56, 0, 93.5, params=853_018)]
    )
    md, _ = render_specs([spec], tmp_path / "results", tmp_path / "out")
    cells = [line.split("|") for line in md.read_text().splitlines() if line.startswith("| R")]
    return {c[1].strip(): [x.strip() for x in c[2:-1]] for c in cells}


def test_drop_column_is_reference_minus_row(tmp_path):
    rows = rendered_against_r56(
        tmp_path, "{key: test_acc, name: acc_drop, label: Drop, digits: 2, drop: true}", "{acc_drop: 1.0}"
    )
    assert rows["R56"][:3] == ["n/a", "0.00", "—"]  # the reference against itself (no paper value)
    assert rows["R20"][:3] == ["1.00", "2.50", "+1.50"]  # 93.5 − 91.0 = 2.5 points, 1.5 more than published


def test_a_pruned_run_is_measured_against_the_baseline_run_it_was_made_from(tmp_path):
    """Seed 0's baseline trained twice (the second with other threads: another float), its pruned
    run made from the first: its drop is against that run, not the mean of both."""
    spec = tmp_path / "experiments" / "toy" / "pruned.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        "title: Pruned\noverrides: [dataset=cifar10]\nseeds: [0, 1]\n"
        "columns: [{key: test_acc, label: Top-1},\n"
        "  {key: test_acc, name: acc_drop, label: Drop, digits: 2, drop: true}]\n"
        "rows:\n  - {label: R56, overrides: [model=resnet, model.depth=56], reference: R56}\n"
        "  - {label: R20, overrides: [model=resnet, model.depth=20], reference: R56}\n"
    )
    runs = [record("b0", 56, 0, 93.5), record("b0x", 56, 0, 94.5), record("b1", 56, 1, 93.0),
            {**record("a0", 20, 0, 91.0), "depends_on": {"key": "method.pretrained", "run_id": "b0"}},
            record("a1", 20, 1, 90.0)]  # fmt: skip
    write_records(tmp_path / "results", runs)
    md, _ = render_specs([spec], tmp_path / "results", tmp_path / "out")
    text = md.read_text()
    r20 = next(line for line in text.splitlines() if line.startswith("| R20"))
    assert "| 2.75 " in r20  # (93.5 − 91.0 + 93.0 − 90.0) / 2; the seed's mean baseline would give 3.00
    assert "R20 -2.75 in the mean" in text and "run by run -2.50 (seed 0), -3.00 (seed 1)" in text


def test_reduction_column_is_one_minus_row_over_reference(tmp_path):
    column = "{key: params, name: removed, label: Removed (%), scale: 100, digits: 1, reduction: true}"
    rows = rendered_against_r56(tmp_path, column, "{removed: 0.7}")
    assert rows["R56"][:2] == ["n/a", "0.0"]
    assert rows["R20"][:3] == ["70.0", "68.4", "-1.6"]  # 1 − 269,722 / 853,018 = 68.38%


def test_point_curves_draw_one_line_per_episode(tmp_path):
    import matplotlib.pyplot as plt

    from lightcnn.results.plots import _point_lines, curves_plot
    from lightcnn.results.specs import Curves

    curves = Curves("fig2", ("RL",), field="rl_steps", x="reduction", y="accuracy", by="episode")
    points = [
        {"episode": e, "reduction": r, "accuracy": a} for e in (0, 1) for r, a in ((0.1, 0.9), (0.5, 0.8 - e / 10))
    ]
    figure, axes = plt.subplots()
    assert _point_lines(axes, "RL", points, curves, "C0", alone=False)
    lines = [list(line.get_ydata()) for line in axes.get_lines()]
    assert len(lines) == 2 and lines[0] == pytest.approx([0.9, 0.8]) and lines[1] == pytest.approx([0.9, 0.7])
    assert len({line.get_color() for line in axes.get_lines()}) == 1  # beside other rows: the row's colour
    plt.close(figure)
    figure, axes = plt.subplots()
    assert _point_lines(axes, "RL", points, curves, "C0", alone=True)  # alone: each episode its shade and name
    assert [line.get_label() for line in axes.get_lines()] == ["RL: episode 0", "episode 1"]
    assert len({tuple(line.get_color()) for line in axes.get_lines()}) == 2
    plt.close(figure)
    assert curves_plot({"RL": points, "none": []}, curves, "t", tmp_path / "fig2.png")
    assert (tmp_path / "fig2.png").read_bytes()[:4] == b"\x89PNG"
    assert not curves_plot({"RL": [], "none": []}, curves, "t", tmp_path / "empty.png")
    assert not (tmp_path / "empty.png").exists()  # no empty frame: the page says it in words


def test_a_row_alone_with_many_lines_names_its_marks_briefly_and_titles_the_whole_figure(tmp_path, monkeypatch):
    """The Fig. 2 analogue: eight episodes and two marks put the legend beside the axes, which are
    then too narrow for the title (it was cut at the figure's left edge): it goes over the figure."""
    import lightcnn.results.plots as plots
    from lightcnn.results.specs import Curves

    seen = {}

    def keep(figure, path):
        axes = figure.axes[0]
        seen.update(labels=axes.get_legend_handles_labels()[1], title=axes.get_title(),
                    suptitle=figure._suptitle.get_text() if figure._suptitle else "")  # fmt: skip

    monkeypatch.setattr(plots, "save_png", keep)
    curves = Curves("fig2", ("RL",), field="rl_steps", x="reduction", y="accuracy", by="episode", title="Fig. 2 " * 12)
    points = [{"episode": e, "reduction": r, "accuracy": 0.8 - r / 4} for e in range(8) for r in (0.1, 0.6)]
    marks = {"RL (seed 2)": {"baseline": 0.82, "final": (0.64, 0.81)}}
    assert plots.curves_plot({"RL (seed 2)": points}, curves, "t", tmp_path / "fig2.png", marks)
    assert seen["labels"][0] == "RL (seed 2): episode 0" and seen["labels"][-2:] == [
        "unpruned", "chosen masks after fine-tuning"]  # fmt: skip
    assert seen["title"] == "" and seen["suptitle"].startswith("Fig. 2 Fig. 2")


@pytest.mark.parametrize(("xs", "ticks"), [((0, 1), [0, 1]), ((0,), [0]), ((0.25, 0.75), None)])
def test_a_counted_x_has_ticks_at_whole_numbers_only(tmp_path, monkeypatch, xs, ticks):
    import lightcnn.results.plots as plots
    from lightcnn.results.specs import Curves

    seen = {}
    monkeypatch.setattr(plots, "save_png", lambda figure, path: seen.update(ticks=list(figure.axes[0].get_xticks())))
    curves = Curves("returns", ("RL", "random"), field="rl_rounds", x="round", y="mean_return")
    series = {row: [{"round": x, "mean_return": -0.5 - i / 10} for i, x in enumerate(xs)] for row in ("RL", "random")}
    assert plots.curves_plot(series, curves, "t", tmp_path / "returns.png")
    if ticks is None:  # a measured x keeps matplotlib's ticks, fractions included
        assert any(tick != int(tick) for tick in seen["ticks"])
    else:  # rounds 0 and 1: no tick at 0.2; a single round: not -0.04 … 0.04
        assert seen["ticks"] == ticks


def test_a_curve_of_several_seeds_draws_their_mean_over_each_run_and_an_episode_curve_names_its_seed(
    tmp_path, monkeypatch
):
    import lightcnn.results.plots as plots
    from lightcnn.results.aggregate import make_matcher, records_frame
    from lightcnn.results.tables import render_spec

    spec = tmp_path / "toy" / "rl.yaml"
    spec.parent.mkdir()
    curves = [
        "{name: returns, rows: [R20], field: rl_rounds, x: round, y: mean_return, title: Returns}",
        "{name: fig2, rows: [R20], field: rl_steps, x: reduction, y: accuracy, by: episode, title: Fig. 2}",
    ]
    spec.write_text(RATIO_SPEC.replace("overrides: [dataset=cifar10]", "overrides: [dataset=cifar10]\nseeds: [0, 1]")
                    + "curves:\n" + "".join(f"  - {c}\n" for c in curves))  # fmt: skip
    runs = []
    for seed, returns, accuracy in ((1, (-0.8, -0.1), 0.7), (0, (-1.0, -0.5), 0.6)):  # seed 1 finished first
        run = record(f"r{seed}", 20, seed, 90.0, finished=f"2026-01-0{2 - seed}T00:00:00")
        run["rl_rounds"] = [{"round": i, "mean_return": r} for i, r in enumerate(returns)]
        run["rl_steps"] = [{"episode": 0, "reduction": 0.3, "accuracy": accuracy}]
        runs.append(run)
    write_records(tmp_path / "results", runs)
    drawn, widths = {}, {}

    def lines(figure, path):
        drawn[path.stem] = [
            (line.get_label(), list(line.get_ydata()), line.get_alpha()) for line in figure.axes[0].get_lines()
        ]
        widths[path.stem] = [line.get_linewidth() for line in figure.axes[0].get_lines()]

    monkeypatch.setattr(plots, "save_png", lines)
    frame = records_frame(tmp_path / "results")
    render_spec(load_spec(spec), frame, tmp_path / "out", make_matcher(frame, "quick", ()))
    each, mean = drawn["rl_returns"][:2], drawn["rl_returns"][2]
    assert [ys for _, ys, _ in each] == [[-0.8, -0.1], [-1.0, -0.5]] and all(alpha < 0.5 for *_, alpha in each)
    assert mean[0] == "R20 (mean of 2 runs, seeds 0, 1; thin: each run)" and mean[1] == pytest.approx([-0.9, -0.3])
    assert widths["rl_returns"][2] > 2 * max(widths["rl_returns"][:2])  # the mean bold over its thin runs
    assert drawn["rl_fig2"] == [("R20 (seed 0: the newest of 2 runs)", [0.6], 0.7)]  # one search's episodes
    write_records(tmp_path / "one", runs[:1])
    frame = records_frame(tmp_path / "one")
    render_spec(load_spec(spec), frame, tmp_path / "out1", make_matcher(frame, "quick", ()))
    assert drawn["rl_returns"][0][0] == "R20 (seed 1)"  # one run: which seed it is


def test_a_page_says_in_words_which_plot_is_not_there_yet(tmp_path):
    from lightcnn.results.aggregate import make_matcher, records_frame
    from lightcnn.results.tables import render_spec

    spec = tmp_path / "toy" / "rl.yaml"
    spec.parent.mkdir()
    curve = "{name: fig2, rows: [R20], field: rl_steps, x: reduction, y: accuracy, title: Fig. 2}"
    spec.write_text(RATIO_SPEC + f"curves:\n  - {curve}\n")
    loaded = load_spec(spec)
    frame = records_frame(tmp_path / "no-results")
    written = render_spec(loaded, frame, tmp_path / "out", make_matcher(frame, None, ())).files
    page = written[0].read_text()
    assert not [p for p in written if p.suffix == ".png"] and "*Fig. 2*: no plot yet, not measured: R20." in page


def test_point_curves_need_x_and_y(tmp_path):
    spec = tmp_path / "x.yaml"
    spec.write_text(RATIO_SPEC + "curves:\n  - {name: c, rows: [R20], field: rl_steps, x: reduction}\n")
    with pytest.raises(UserError, match="curves 'c': field='rl_steps' needs x and y"):
        load_spec(spec)


def test_a_report_holds_one_profile_and_never_writes_over_another(tmp_path, monkeypatch):
    from lightcnn.cli.report import report_profile, tables_main
    from lightcnn.record_io import write_json_atomic

    results = tmp_path / "results"
    common = {"seed": 0, "config": {}, "status": "ok"}
    write_json_atomic(
        results / "a/result.json",
        {**common, "run_id": "a", "profile": "quick", "dataset": "cifar10", "finished_at": "2026-11-01"},
    )
    write_json_atomic(
        results / "b/result.json",
        {**common, "run_id": "b", "profile": "smoke", "dataset": "synthetic", "finished_at": "2026-11-02"},
    )
    assert report_profile(results, None, False) == ("smoke", True)  # the newest run's, on its stand-ins
    assert report_profile(results, "quick", False) == ("quick", False)
    monkeypatch.chdir(tmp_path)
    spec = sorted((ROOT / "experiments" / "resnet").glob("*.yaml"))
    tables_main([str(spec[0]), "--results", str(results)])
    tables_main([str(spec[0]), "--results", str(results), "--profile", "quick"])
    assert (tmp_path / "reports" / "smoke" / "index.md").is_file()
    assert (tmp_path / "reports" / "quick" / "index.md").is_file()


def test_a_wide_table_splits_into_accuracy_and_costs_never_one_column_apart(tmp_path):
    """Over ten columns: accuracy (with seeds and status) first, then the costs, ≤ 10 columns each,
    a column's paper / ours / Δ always together; n/a (no paper value) and not run are distinct."""
    cost_columns = "".join(
        f"  - {{key: params, name: p{i}, label: P{i}, digits: 0, diff: relative}}\n" for i in range(4)
    )
    spec = tmp_path / "experiments" / "toy" / "wide.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        "title: Wide\nsource: nobody\noverrides: [dataset=cifar10, model=resnet]\ncolumns:\n"
        "  - {key: test_acc, label: Top-1, digits: 2, diff: absolute}\n" + cost_columns
        + "rows:\n  - {label: R20, overrides: [model.depth=20], published: {test_acc: 91.25, p0: 270000}}\n"
        "  - {label: R56, overrides: [model.depth=56]}\n"
    )  # fmt: skip
    write_records(tmp_path / "results", [record("a", 20, 0, None, task="profile")])
    md, _ = render_specs([spec], tmp_path / "results", tmp_path / "out")
    text = md.read_text()
    assert (
        text.index("**Accuracy**") < text.index("**Counts and costs**") < text.index("**Counts and costs (continued)**")
    )
    tables = [block for block in text.split("\n\n") if block.startswith("|")]
    widths = [len(block.splitlines()[0].strip("|").split("|")) for block in tables]
    assert widths == [6, 10, 4]  # label + Top-1 paper/ours/Δ + seeds + status; label + 3 × 3; label + 3
    r20 = next(line for line in tables[0].splitlines() if line.startswith("| R20"))
    assert [c.strip() for c in r20.strip("|").split("|")] == ["R20", "91.25", "not run", "—", "1", "ok (counts only)"]
    r56_costs = next(line for line in tables[1].splitlines() if line.startswith("| R56"))
    assert "n/a" in r56_costs and "not run" in r56_costs


def test_the_pareto_plot_has_a_marker_and_colour_per_model_and_draws_its_front():
    import pandas as pd

    from lightcnn.results.plots import model_style, pareto_figure

    runs = pd.DataFrame(
        {
            "model": ["resnet", "resnet", "oct_resnet", "mobilenet"],
            "flops_conv": [4.0e7, 1.25e8, 8.5e7, 1.0e7],
            "test_acc": [90.0, 92.5, 93.0, 85.0],
        }
    )
    figure = pareto_figure(runs, "cifar10, profile cpu: 4 training runs")
    axes = figure.axes[0]
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert labels == ["mobilenet", "oct_resnet", "resnet", "Pareto front"]
    front = axes.lines[0]
    assert list(front.get_xdata()) == [10.0, 40.0, 85.0] and list(front.get_ydata()) == [85.0, 90.0, 93.0]
    minor_labels = [axes.xaxis.get_minor_formatter()(x) for x in (20.0, 30.0, 50.0, 200.0)]
    assert "millions" in axes.get_xlabel() and minor_labels == ["20", "", "50", "200"]  # 1-2-5: no crowded decade
    assert len({model_style(i)["color"] for i in range(11)}) == 11  # every registered model its own colour
    assert axes.get_title() == "cifar10, profile cpu: 4 training runs" and axes.get_xscale() == "log"


def test_the_pareto_plot_names_each_schedule_and_never_gives_a_compressed_model_the_plain_marker():
    import pandas as pd

    from lightcnn.results.plots import pareto_figure

    runs = pd.DataFrame(
        {
            "model": ["resnet", "resnet", "mobilenet"],
            "method": ["none", "prune_hrank", "none"],
            "flops_conv": [4.0e7, 1.5e7, 1.0e7],
            "test_acc": [90.0, 88.0, 60.0],
            "config.trainer.max_epochs": [30, 30, 3],
            "config.dataset.train_subset": [None, None, 10_000],
        }
    )
    axes = pareto_figure(runs, "cifar10").axes[0]
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert labels == ["mobilenet, 3 epochs on 10,000 images", "resnet, 30 epochs", "resnet + prune_hrank, 30 epochs",
                      "Pareto front (30 epochs from scratch)"]  # fmt: skip
    plain, pruned = axes.collections[1], axes.collections[2]
    assert len(plain.get_paths()[0].vertices) != len(pruned.get_paths()[0].vertices)  # a circle, a square
    assert len(axes.collections[0].get_facecolors()) == 0 or axes.collections[0].get_facecolors()[0][3] == 0  # hollow
    assert plain.get_facecolors()[0][3] == 1  # the longest schedule filled
    front = axes.lines[0]  # the 3-epoch MobileNet's 60 % at 10 M is not on a front of 30-epoch runs
    assert list(front.get_xdata()) == [15.0, 40.0]


def test_the_pareto_front_holds_the_longest_trainings_from_scratch_and_what_was_made_from_them():
    import pandas as pd

    from lightcnn.results.plots import pareto_figure

    runs = pd.DataFrame(
        {
            "run_id": ["base", "pruned", "small", "orphan"],
            "model": ["resnet", "resnet", "mobilenet", "resnet"],
            "method": ["none", "prune_hrank", "none", "prune_rl"],
            "flops_conv": [4.0e7, 1.5e7, 1.0e7, 1.2e7],
            "test_acc": [90.0, 88.0, 60.0, 70.0],
            "config.trainer.max_epochs": [30, 15, 3, 10],
            "config.dataset.train_subset": [None, None, 10_000, None],
            "depends_on.run_id": [None, "base", None, "not-among-the-runs"],
        }
    )
    axes = pareto_figure(runs, "cifar10").axes[0]
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert labels == ["mobilenet, 3 epochs on 10,000 images", "resnet, 30 epochs",
                      "resnet + prune_hrank, 30 epochs + 15", "resnet + prune_rl, 10 epochs",
                      "Pareto front (30 epochs from scratch)"]  # fmt: skip
    front = axes.lines[0]
    assert list(front.get_xdata()) == [15.0, 40.0] and list(front.get_ydata()) == [88.0, 90.0]
    filled = [c.get_facecolors()[0][3] == 1 if len(c.get_facecolors()) else False for c in axes.collections]
    assert filled == [False, True, True, False]  # a run whose baseline is not here counts only its own epochs


def test_one_methods_runs_of_two_schedules_get_two_markers_in_the_pareto_plot():
    """The search study's RL runs (1 epoch of fine-tuning) and the RL rows' (10) were two legend
    entries drawn alike: red diamonds both."""
    import pandas as pd

    from lightcnn.results.plots import pareto_figure

    runs = pd.DataFrame(
        {
            "run_id": ["base", "short", "long"],
            "model": ["resnet"] * 3,
            "method": ["none", "prune_rl", "prune_rl"],
            "flops_conv": [4.0e7, 1.0e7, 1.4e7],
            "test_acc": [86.0, 68.0, 81.0],
            "config.trainer.max_epochs": [30, 1, 10],
            "depends_on.run_id": [None, "base", "base"],
        }
    )
    axes = pareto_figure(runs, "cifar10").axes[0]
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert labels == ["resnet, 30 epochs", "resnet + prune_rl, 30 epochs + 1", "resnet + prune_rl, 30 epochs + 10",
                      "Pareto front"]  # fmt: skip
    shapes = [tuple(map(tuple, c.get_paths()[0].vertices.round(3))) for c in axes.collections[:3]]
    assert len(set(shapes)) == 3  # a circle and two different markers


def test_labels_of_neighbouring_points_go_on_separate_lines():
    from lightcnn.results.plots import label_rows

    points = [(2.10, 98.1, "MobileNet"), (2.01, 98.4, "MobileNet-fused"), (9.4, 98.4, "Plain"), (2.1, 43.2, "other")]
    assert label_rows(points, log_x=True) == [0, 1, 0, 0]  # only the two close ones are split


def test_a_row_of_another_methods_words_is_shown_as_published_only_and_never_run(tmp_path):
    from lightcnn.results.aggregate import make_matcher, records_frame
    from lightcnn.results.render import render_table

    spec = tmp_path / "toy" / "words.yaml"
    spec.parent.mkdir()
    cacp = "  - {label: CACP, overrides: [model=resnet], tasks: [], published: {test_acc: larger than ours}}\n"
    spec.write_text(RATIO_SPEC.replace("tasks: [train, latency]\n", "").replace("plots:", cacp + "plots:"))
    loaded = load_spec(spec)
    frame = records_frame(tmp_path / "no-results")
    markdown, numeric, _ = render_table(loaded, frame, make_matcher(frame, None, ()))
    line = next(line for line in markdown.splitlines() if line.startswith("| CACP"))
    assert "larger than ours" in line and line.rstrip("| ").endswith("published only")
    assert numeric.loc[numeric["row"] == "CACP", "test_acc_paper"].isna().all()  # words are not a number
    bad = "  - {label: X, overrides: [model=resnet], published: {test_acc: [1, 2]}}\n"
    spec.write_text(RATIO_SPEC.replace("plots:", bad + "plots:"))
    with pytest.raises(UserError, match=r"row 'X': published.test_acc=\[1, 2\]; allowed: a number, text quoting"):
        load_spec(spec)


def test_a_published_value_derived_from_the_papers_numbers_is_computed_and_nothing_else_is_evaluated(tmp_path):
    from lightcnn.results.specs import derived_value

    assert derived_value("= 1 - 2592556 / 11059200") == pytest.approx(0.76557, abs=1e-5)
    assert derived_value("=(2 + 3) * -2") == -10.0
    for bad in ("= __import__('os')", "= 2 ** 8", "= 1 / 0", "= x"):
        with pytest.raises(ValueError, match=r"numbers, \+ - \* / and brackets"):
            derived_value(bad)
    spec = tmp_path / "experiments" / "toy" / "table.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(SPEC.replace("published: {params: 0.27e6, test_acc: 91.25}", "published: {params: '= 0.27e6 / 2'}"))
    md, _ = render_specs([spec], tmp_path / "results", tmp_path / "out")
    assert "| R20  | 0.135" in md.read_text()
    spec.write_text(SPEC.replace("published: {params: 0.27e6, test_acc: 91.25}", "published: {params: '= 2 ** 8'}"))
    with pytest.raises(UserError, match=r"row 'R20': published.params='= 2 \*\* 8': allowed after '='"):
        load_spec(spec)


def test_curves_of_a_row_with_several_runs_average_them_per_epoch_as_its_cell_does(tmp_path, spec_path, monkeypatch):
    from lightcnn.results.aggregate import mean_history

    first = [{"stage": "test", "epoch": 0, "test/acc": 10.0}, {"stage": "test", "epoch": 1, "test/acc": 20.0}]
    second = [{"stage": "test", "epoch": 0, "test/acc": 30.0}, {"stage": "train", "epoch": 0, "train/loss": 1.0}]
    assert mean_history([first, second]) == [
        {"stage": "test", "epoch": 0, "test/acc": 20.0},
        {"stage": "test", "epoch": 1, "test/acc": 20.0},
        {"stage": "train", "epoch": 0, "train/loss": 1.0},
    ]
    drawn = {}
    monkeypatch.setattr("lightcnn.results.plots.curves_plot", lambda series, *args: drawn.update(series) or False)
    spec_path.write_text(SPEC + "curves:\n  - {name: c, rows: [R20, R56]}\n")
    runs = [record("a", 20, 0, 91.0), record("b", 20, 1, 92.0), record("c", 56, 0, 93.0)]
    for run, history in zip(runs, [first, second, first], strict=True):
        run["history"] = history
    write_records(tmp_path / "results", runs)
    render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    assert set(drawn) == {"R20 (mean of 2 runs)", "R56"} and drawn["R20 (mean of 2 runs)"][0]["test/acc"] == 20.0


def test_a_tables_claims_are_judged_from_its_runs_and_a_bad_claim_is_refused(tmp_path, spec_path):
    claim = "claims:\n  - {text: R56 is more accurate than R20, row: R56, than: R20}\n"
    claim += "  - {text: R56 is more accurate at the same size, row: R56, than: R20, at_same: params}\n"
    spec_path.write_text(SPEC + claim)
    runs = [record(f"a{s}", 20, s, 91.0 + 0.1 * s) for s in range(3)] + [
        record(f"b{s}", 56, s, 93.0 + 0.1 * s, params=855_770) for s in range(3)
    ]
    write_records(tmp_path / "results", runs)
    md, _ = render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    text = md.read_text()
    assert "Claims, judged from the runs (one-sided Welch t-test, α = 0.05" in text
    assert (
        "- R56 is more accurate than R20: R56 93.10 ± 0.10 (n=3) against R20 91.10 ± 0.10 (n=3), seed by seed "
        "+2.00 (seed 0), +2.00 (seed 1), +2.00 (seed 2); difference +2.00" in text
    )
    assert text.split("R56 is more accurate than R20")[1].split("\n")[0].endswith("**holds**")
    sized = text.split("R56 is more accurate at the same size")[1].split("\n")[0]  # better, but 3.2 times the size
    assert "; at unequal params: 855,770 against 269,722 (+217.3%); difference +2.00" in sized
    assert sized.endswith("**not resolved at unequal cost**")
    for bad, message in (
        ("than: R30", r"claims\[0\]: than='R30' is not a row of this table"),
        ("than: R20, sense: up", r"claims\[0\]: unknown key 'sense'; allowed: text, row, than, key, direction"),
        ("than: R20, at_same: [params]", r"claims\[0\]: at_same=\['params'\]; allowed: a record field \(a cost"),
        ("than: R20, at_same: parameters", r"claims\[0\] at_same: key 'parameters' is not a field of the run record"),
    ):
        spec_path.write_text(SPEC + f"claims:\n  - {{text: x, row: R56, {bad}}}\n")
        with pytest.raises(UserError, match=message):
            load_spec(spec_path)


def test_a_search_curve_marks_the_unpruned_accuracy_and_the_fine_tuned_result(tmp_path, spec_path, monkeypatch):
    captured = {}
    monkeypatch.setattr(
        "lightcnn.results.plots.curves_plot",
        lambda series, curves, title, path, marks, each_run: captured.update(marks) or False,
    )
    spec_path.write_text(
        SPEC + "curves:\n  - {name: f2, rows: [R20], field: rl_steps, x: reduction, y: accuracy, by: episode, "
        "baseline: rl_base_accuracy, final: {x: rl_chosen.reduction, y: final_val_acc, y_scale: 0.01}}\n"
    )
    run = record("a", 20, 0, 91.0)
    run.update(rl_steps=[{"episode": 0, "reduction": 0.1, "accuracy": 0.8}], rl_base_accuracy=0.9,
               rl_chosen={"reduction": 0.6}, final_val_acc=88.0)  # fmt: skip
    write_records(tmp_path / "results", [run])
    render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    assert captured == {"R20 (seed 0)": {"baseline": 0.9, "final": (0.6, pytest.approx(0.88))}}


def test_a_column_key_no_record_can_hold_is_refused_naming_the_spec_and_column(tmp_path):
    spec = tmp_path / "experiments" / "templates" / "table1.yaml"
    spec.parent.mkdir(parents=True)
    shipped = (ROOT / "experiments" / "templates" / "table1.yaml").read_text()
    spec.write_text(shipped.replace("{key: test_acc5,", "{key: test_acc_5,"))
    with pytest.raises(
        UserError, match=r"table1.yaml: column test_acc_5: key 'test_acc_5' is not a field of the run record"
    ):
        load_spec(spec)
    spec.write_text(shipped.replace("{key: test_acc5,", "{key: test_acc5.top,"))
    with pytest.raises(UserError, match=r"column test_acc5.top: key 'test_acc5.top': test_acc5 holds a single value"):
        load_spec(spec)


def test_a_claim_on_a_change_compares_each_runs_last_entry_minus_its_first(tmp_path, spec_path):
    claim = "claims:\n  - {text: R56 learns more, row: R56, than: R20, key: rl_rounds, change_of: mean_return}\n"
    spec_path.write_text(SPEC + claim)
    rises = {20: (0.10, -0.05, 0.02), 56: (0.30, 0.31, 0.20)}
    runs = []
    for depth, changes in rises.items():
        for seed, rise in enumerate(changes):
            run = record(f"{depth}-{seed}", depth, seed, 90.0)
            run["rl_rounds"] = [{"round": 0, "mean_return": -1.0}, {"round": 1, "mean_return": -1.5},
                                {"round": 2, "mean_return": -1.0 + rise}]  # fmt: skip
            runs.append(run)
    write_records(tmp_path / "results", runs)
    md, _ = render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    line = next(line for line in md.read_text().splitlines() if line.startswith("- R56 learns more"))
    assert "R56 0.27 ± 0.06 (n=3) against R20 0.02 ± 0.08 (n=3), seed by seed +0.20 (seed 0), +0.36 (seed 1)" in line
    assert line.endswith("**holds**")  # the middle round does not count: last minus first
    for bad, message in (
        ("key: test_acc, change_of: mean_return", r"change_of needs key to be a list field of the run record, not "
                                                  r"'test_acc'; allowed: .*rl_rounds"),
        ("key: rl_rounds, change_of: [mean_return]", r"change_of=\['mean_return'\]; allowed: a field of each entry"),
    ):  # fmt: skip
        spec_path.write_text(SPEC + f"claims:\n  - {{text: x, row: R56, than: R20, {bad}}}\n")
        with pytest.raises(UserError, match=message):
            load_spec(spec_path)


def test_a_claim_on_a_final_value_compares_each_runs_last_entry(tmp_path, spec_path):
    claim = "claims:\n  - {text: R56 ends higher, row: R56, than: R20, key: rl_rounds, final_of: mean_return}\n"
    spec_path.write_text(SPEC + claim)
    runs = []
    for depth, (first, lasts) in {20: (-1.0, (-2.0, -2.1, -1.9)), 56: (-3.0, (-1.0, -1.1, -0.9))}.items():
        for seed, last in enumerate(lasts):
            run = record(f"{depth}-{seed}", depth, seed, 90.0)
            run["rl_rounds"] = [{"round": 0, "mean_return": first}, {"round": 1, "mean_return": last}]
            runs.append(run)
    write_records(tmp_path / "results", runs)
    md, _ = render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    line = next(line for line in md.read_text().splitlines() if line.startswith("- R56 ends higher"))
    assert "R56 -1.00 ± 0.10 (n=3) against R20 -2.00 ± 0.10 (n=3)" in line  # R56 rose by 2, R20 fell: levels only
    assert line.endswith("**holds**")
    spec_path.write_text(SPEC + "claims:\n  - {text: x, row: R56, than: R20, key: rl_rounds, change_of: mean_return, "
                                "final_of: mean_return}\n")  # fmt: skip
    with pytest.raises(UserError, match="change_of and final_of both given; allowed: one of them"):
        load_spec(spec_path)


def test_a_claim_counts_one_value_per_seed(tmp_path, spec_path):
    spec_path.write_text(SPEC + "claims:\n  - {text: R56 beats R20, row: R56, than: R20}\n")
    runs = [record("a", 20, 0, 91.0), record("b", 20, 0, 92.0), record("c", 20, 1, 91.0),
            record("d", 56, 0, 93.0), record("e", 56, 1, 93.2)]  # fmt: skip
    write_records(tmp_path / "results", runs)
    md, _ = render_specs([spec_path], tmp_path / "results", tmp_path / "out")
    # seed 0's two runs count once, as their mean 91.5, in the mean and seed by seed
    assert "R20 91.25 ± 0.35 (n=2), seed by seed +1.50 (seed 0), +2.20 (seed 1); difference" in md.read_text()


def test_the_report_plots_one_front_per_data_set_and_input_shape_from_its_rows_runs_only(tmp_path):
    """Synthetic CIFAR-shaped and MNIST-shaped runs never share a front; a run that no row of
    the report asks for (an ad-hoc seed) is not plotted."""
    from lightcnn.results.tables import render_report

    spec = tmp_path / "experiments" / "toy" / "shapes.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        "title: Shapes\ncolumns: [{key: test_acc, label: Top-1 (%), digits: 2}]\nrows:\n"
        "  - {label: cifar-shaped, overrides: [dataset=synthetic, model=resnet, model.depth=20]}\n"
        "  - {label: mnist-shaped, overrides: [dataset=synthetic, dataset.channels=1, dataset.image_size=28, "
        "model=plain_cnn]}\n"
    )

    def synthetic(run_id, seed, *overrides):
        cfg = ConfigMatcher(["smoke"]).config(
            ("dataset=synthetic", *overrides, "task=train", "profile=smoke", f"seed={seed}")
        )
        config = OmegaConf.to_container(cfg, resolve=True)
        return {"run_id": run_id, "status": "ok", "task": "train", "model": config["model"]["name"], "seed": seed,
                "profile": "smoke", "dataset": "synthetic", "config": config, "config_hash": run_id, "test_acc": 50.0,
                "flops_conv": 1e6, "params": 1000, "finished_at": "2026-01-01T00:00:00"}  # fmt: skip

    write_records(tmp_path / "results", [
        synthetic("a", 0, "model=resnet", "model.depth=20"),
        synthetic("b", 0, "dataset.channels=1", "dataset.image_size=28", "model=plain_cnn"),
        synthetic("adhoc", 7, "model=resnet", "model.depth=20"),
    ])  # fmt: skip
    render_report([spec], tmp_path / "results", tmp_path / "out", profile="smoke", synthetic=True)
    index = (tmp_path / "out" / "index.md").read_text()
    assert sorted(p.name for p in (tmp_path / "out").glob("pareto_*.png")) == [
        "pareto_synthetic_1x28x28.png", "pareto_synthetic_3x32x32.png"]  # fmt: skip
    assert "Runs: 2;" in index  # the ad-hoc seed-7 run is behind no row


def test_a_drop_is_taken_against_the_reference_at_the_rows_own_seeds():
    """A pruned row at seed 0 against a baseline that has run seeds 0 and 1: its drop is from the
    seed-0 baseline (each pruned run starts from its own seed's weights), not from the mean of both;
    a seed the baseline has not run falls back to the baseline's mean."""
    from types import SimpleNamespace

    from lightcnn.results.aggregate import Cell, RowResult, with_drops
    from lightcnn.results.specs import Column

    drop = Column(key="test_acc", label="Drop", name="drop", drop=True)
    base = RowResult(
        SimpleNamespace(label="base", reference="base"), "ok", {"drop": Cell(86.775, 0.32, 2, ((0, 86.55), (1, 87.0)))}
    )
    pruned = SimpleNamespace(label="pruned", reference="base")
    at_0 = RowResult(pruned, "ok", {"drop": Cell(80.98, None, 1, ((0, 80.98),))})
    at_2 = RowResult(pruned, "ok", {"drop": Cell(80.0, None, 1, ((2, 80.0),))})
    results = with_drops([base, at_0, at_2], (drop,))
    assert results[1].cells["drop"].mean == pytest.approx(86.55 - 80.98)
    assert results[2].cells["drop"].mean == pytest.approx(86.775 - 80.0)
    assert results[0].cells["drop"].mean == pytest.approx(0.0) and results[0].cells["drop"].std == 0.32
