"""``make reproduce-tables`` in small: specs → runs → report (pages, index, plots)."""

import subprocess
import sys

from conftest import ROOT

SPEC = """
title: Toy reproduction
source: nobody (2026), Table 0
overrides: ["dataset=cifar10"]
columns:
  - {key: params, label: Params, digits: 0, diff: relative}
  - {key: test_acc, label: Top-1 (%), digits: 2, diff: none}
rows:
  - {label: R20, overrides: ["model=resnet", "model.depth=20"], published: {params: 269722}}
  - label: R20 diverging
    overrides: ["model=resnet", "model.depth=20", "trainer.lr=1e30", "trainer.log_every_n_steps=1"]
curves:
  - {name: curves, rows: [R20], stage: train}
"""


def reproduce(tmp_path, *args):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "lightcnn.reproduce",
            *map(str, args),
            "--results",
            str(tmp_path / "results"),
            "--out",
            str(tmp_path / "reports"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_smoke_reproduction_renders_a_report_and_resumes(tmp_path):
    spec = tmp_path / "experiments" / "toy" / "table.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(SPEC)
    out = reproduce(tmp_path, spec, "--profile", "smoke", "--jobs", "2")
    assert out.returncode == 0, out.stderr[-3000:]
    reports = tmp_path / "reports"
    table = (reports / "toy" / "table.md").read_text()
    assert "synthetic data" in table and "| R20 " in table and "269,722" in table and "+0.0%" in table
    assert "diverged" in table  # the diverging run is marked, not filled
    page, index = (reports / "toy.md").read_text(), (reports / "index.md").read_text()
    assert "![table_curves](toy/table_curves.png)" in page
    assert "| [toy](toy.md) | 1 | 1 | 1 |" in index and "![pareto](pareto.png)" in index
    assert (reports / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    first = {p: p.read_bytes() for p in reports.rglob("*") if p.is_file()}
    # a second reproduction skips the ok runs and renders the same bytes
    again = reproduce(tmp_path, spec, "--profile", "smoke")
    assert again.returncode == 0
    records = list((tmp_path / "results").rglob("result.json"))
    assert len(records) == 3  # R20 ok, and the diverging run twice (only ok runs are skipped)
    assert {p: p.read_bytes() for p in reports.rglob("*") if p.is_file()} == first


def test_spec_with_unknown_model_fails_before_anything_runs(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("model=resnet", "model=resnet99"))
    out = reproduce(tmp_path, spec)
    assert out.returncode == 2 and "model=resnet99: no such option" in out.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "reports").exists()


def test_every_shipped_spec_loads_with_synthetic_stand_ins():
    from lightcnn.results.tables import load_specs

    paths = sorted((ROOT / "experiments").rglob("*.yaml"))
    specs = load_specs(paths, synthetic=True)
    assert {s.paper for s in specs} == {"resnet", "octconv", "mobilenet", "templates", "aca", "pruning"}
    for spec in specs:
        for row in spec.rows:
            assert not any(o in row.overrides for o in ("dataset=cifar10", "dataset=mnist")), row


def test_every_shipped_spec_renders_with_no_records(tmp_path):
    """Every row of every shipped spec composes (for its tasks, at every profile) and is marked missing."""
    from lightcnn.results.tables import render_report

    paths = sorted((ROOT / "experiments").rglob("*.yaml"))
    written = render_report(paths, tmp_path / "results", tmp_path / "reports", profile=None, synthetic=False)
    index = (tmp_path / "reports" / "index.md").read_text()
    assert "| [octconv](octconv.md) | 4 | 0 | 42 |" in index
    assert all(p.exists() for p in written)
