"""scripts/gpu_checks.sh, the one command a session lent a GPU runs: its plumbing tried on the CPU
(``DEVICE=cpu PROFILE=smoke``), so that a rare GPU session is not spent finding a broken script."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SPEC = """
title: Toy GPU check
source: nobody (2026), Table 0
overrides: ["dataset=cifar10"]
columns:
  - {key: params, label: Params, digits: 0, diff: relative}
  - {key: test_acc, label: Top-1 (%), digits: 2, diff: none}
rows:
  - {label: R20, overrides: ["model=resnet", "model.depth=20"], published: {params: 269722}}
"""


@pytest.mark.slow
def test_the_gpu_checks_run_on_the_cpu_and_bring_back_logs_records_and_a_report_without_weights(tmp_path):
    spec = tmp_path / "toy" / "table.yaml"
    spec.parent.mkdir()
    spec.write_text(SPEC)
    out = tmp_path / "out"
    env = {
        **os.environ,
        "OUT": str(out),
        "DATA": str(tmp_path / "data"),
        "PYTHON": sys.executable,
        "DEVICE": "cpu",
        "PROFILE": "smoke",
        "SPECS": str(spec),
        "JOBS": "1",
        "BATCHES": "8 16",
        "BENCH_ARGS": "--depth 20 --steps 2 --warmup 1",
        "RESULTS": str(tmp_path / "r"),
        "DEADLINE_S": "400",
    }
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_checks.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "batch 8 exit 0" in log and "batch 16 exit 0" in log, log[-3000:]
    assert "done in" in log and log.rstrip().endswith("1 records"), log[-3000:]
    assert "skipped" in (out / "test_cuda.log").read_text()  # no GPU here: every CUDA test skips
    tables = [line for line in (out / "bench.log").read_text().splitlines() if line.startswith("| resnet depth=20 |")]
    assert len(tables) == 2, (out / "bench.log").read_text()[-2000:]
    with tarfile.open(out / "smoke.tar.gz") as archive:
        names = archive.getnames()
    assert any(n.endswith("result.json") for n in names) and any(n.endswith("table.md") for n in names), names
    assert not any(n.endswith(".ckpt") for n in names)
