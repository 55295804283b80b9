"""Committed records: no machine path, and the committed report re-renders from them byte for byte."""

import json
from pathlib import Path

import pytest
from conftest import ROOT

from lightcnn.results.export import export

COMMITTED = ROOT / "docs" / "results"


def test_export_leaves_no_absolute_path(tmp_path):
    results, data = tmp_path / "results", tmp_path / "data"
    run_dir = results / "runs" / "2026-11-24" / "17-00-00_abc123"
    record = {
        "run_id": "r1",
        "status": "ok",
        "profile": "cpu",
        "config": {"data_dir": str(data), "results_dir": str(results), "model": {"name": "resnet"}},
        "resumed_from": str(run_dir / "checkpoints" / "last.ckpt"),
        "resume_notes": [f"{run_dir}/checkpoints/last.ckpt: unreadable checkpoint (x); moved to last.ckpt.corrupt"],
        "depends_on": {"checkpoint": str(run_dir / "checkpoints" / "last.ckpt"), "run_id": "r0"},
    }
    (run_dir).mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps(record))
    other = results / "runs" / "x" / "result.json"
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps({**record, "run_id": "r2", "profile": "smoke"}))
    (written,) = export(results, tmp_path / "out", "cpu", None, "generated")
    out = json.loads(written.read_text())
    assert written == tmp_path / "out" / "r1" / "result.json"
    assert out["resumed_from"] == "results/runs/2026-11-24/17-00-00_abc123/checkpoints/last.ckpt"
    assert out["depends_on"]["checkpoint"].startswith("results/runs/") and out["depends_on"]["run_id"] == "r0"
    assert out["resume_notes"][0].startswith("results/runs/2026-11-24/")
    assert out["config"]["data_dir"] == "data" and out["config"]["results_dir"] == "results"
    assert out["data_source"] == "generated" and "run_dir" not in out
    assert str(tmp_path) not in written.read_text()
    # exported from a folder below the results directory the run wrote to: its paths still go
    (written,) = export(results / "runs", tmp_path / "out2", "cpu", None, None)
    assert json.loads(written.read_text())["resumed_from"].startswith("results/runs/2026-11-24/")
    assert str(tmp_path) not in written.read_text()
    # a committed record is never rewritten: an export beside it (of its copy, or with another
    # data source) leaves it as it is; a record keeps the data source it names
    assert export(results, tmp_path / "out", "cpu", None, "another source") == []
    assert json.loads((tmp_path / "out" / "r1" / "result.json").read_text())["data_source"] == "generated"
    run_dir.joinpath("result.json").write_text(json.dumps({**record, "run_id": "r3", "data_source": "its own"}))
    (written,) = export(results, tmp_path / "out", "cpu", None, "another source")
    assert json.loads(written.read_text())["data_source"] == "its own"


def test_no_committed_record_holds_a_machine_path():
    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    records = sorted(COMMITTED.glob("*/records/*/result.json"))
    assert records
    for path in records:
        values = strings(json.loads(path.read_text()))
        absolute = [s for s in values if s.startswith("/") or ":////" in s or "/work/" in s]  # sqlite:////abs
        assert not absolute, (path, absolute[:3])


@pytest.mark.parametrize("profile_dir", sorted(p for p in COMMITTED.glob("*") if (p / "records").is_dir()))
def test_committed_report_rerenders_byte_for_byte(profile_dir: Path, tmp_path):
    from lightcnn.results.tables import render_report

    records = profile_dir / "records"
    for path in records.rglob("result.json"):
        text = path.read_text()
        assert "/work/" not in text and "/home/" not in text and "/tmp/" not in text, path
    specs = sorted((ROOT / "experiments").rglob("*.yaml"))
    # the smoke set ran on synthetic stand-ins of the real data sets (make reproduce-tables PROFILE=smoke)
    render_report(specs, records, tmp_path, profile=profile_dir.name, synthetic=profile_dir.name == "smoke")

    def texts(root: Path) -> dict:
        return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.suffix in (".md", ".csv")}

    # search/: pages a search wrote itself (from its study), not lightcnn-tables
    committed = {k: v for k, v in texts(profile_dir).items()
                 if k.parts[0] not in ("records", "search") and k.name != "README.md"}  # fmt: skip
    assert committed and committed == texts(tmp_path)
