"""A sweep's table of jobs: each job notes its outcome in the sweep directory, and a Hydra callback
prints the table when the sweep ends."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SWEEP_JOBS_FILE = "jobs.jsonl"


def note_sweep_job(sweep_dir: Path, job: int, overrides: list[str], record: dict, skipped: bool) -> None:
    """One line per finished job of a sweep in ``<sweep dir>/jobs.jsonl`` (appended whole, so
    jobs of a parallel launcher do not interleave), for :class:`SweepSummary`."""
    line = {"job": job, "overrides": " ".join(overrides), "status": str(record.get("status")),
            "test_acc": record.get("test_acc"), "seconds": record.get("train_time_s"), "skipped": skipped,
            "run_dir": str(record.get("run_dir") or "")}  # fmt: skip
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with open(sweep_dir / SWEEP_JOBS_FILE, "a") as handle:
        handle.write(json.dumps(line) + "\n")


try:
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover  (hydra-core < 1.1)
    _HydraCallback = object


def seconds_text(seconds: float | None) -> str:
    """A training time for the sweep table: one decimal under 10 s (a short job is not "0")."""
    if not isinstance(seconds, int | float):
        return "—"
    return f"{seconds:.1f}" if seconds < 10 else f"{seconds:,.0f}"


class SweepSummary(_HydraCallback):
    """Hydra callback: at the end of a sweep, one table of its jobs on stderr (config, status,
    test accuracy, training time), from the lines the jobs wrote."""

    def on_multirun_end(self, config, **kwargs) -> None:
        path = Path(str(config.hydra.sweep.dir)) / SWEEP_JOBS_FILE
        if not path.is_file():
            return
        jobs = sorted((json.loads(line) for line in path.read_text().splitlines() if line.strip()),
                      key=lambda j: j["job"])  # fmt: skip
        rows = ["| job | overrides | status | test top-1 (%) | train (s) |", "|---|---|---|---|---|"]
        for job in jobs:
            acc = f"{job['test_acc']:.2f}" if isinstance(job.get("test_acc"), (int, float)) else "—"
            seconds = seconds_text(job.get("seconds"))
            status = job["status"] + (" (done before)" if job.get("skipped") else "")
            rows.append(f"| {job['job']} | {job['overrides']} | {status} | {acc} | {seconds} |")
        bad = sum(j["status"] != "ok" for j in jobs)
        print("\n".join([f"sweep: {len(jobs)} jobs, {bad} not ok ({path.parent})", *rows]), file=sys.stderr)
