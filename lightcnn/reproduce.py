"""``make reproduce-tables``: run every table spec's rows at one profile, then render the report.

    python -m lightcnn.reproduce --profile smoke|quick|paper [--jobs N] [--launcher slurm]
                                 [--task profile] [--override KEY=VALUE] [SPEC.yaml ...]

Each row of each spec runs as one ``lightcnn`` job per task of the row (``tasks``, default
train) with ``profile=<profile>``; ``--jobs N`` runs N jobs at once; ``--launcher NAME`` sends
each job through that Hydra launcher (``-m hydra/launcher=NAME``, e.g. ``slurm`` for
hydra-submitit). Rows that already have an ``ok`` record are skipped by the runner
(``skip_existing``), so an interrupted reproduction resumes. All specs are checked before
anything runs.

``smoke`` replaces the real data sets by synthetic images of the same shape (``--real-data``
keeps them) and keeps the analyses small (few latency repeats, few census images), so every
table is exercised end to end on a CPU in minutes; its numbers check the plumbing only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lightcnn.cli import CONF_DIR, fail
from lightcnn.errors import UserError
from lightcnn.results.matching import RUNTIME_OVERRIDES, task_overrides
from lightcnn.results.tables import load_specs, render_report

PROFILES = ("smoke", "quick", "paper")


def lightcnn_command() -> list[str]:
    script = Path(sys.executable).with_name("lightcnn")
    return [str(script)] if script.exists() else [shutil.which("lightcnn") or "lightcnn"]


def job_commands(specs, args) -> list[tuple[str, list[str]]]:
    """(label, command) of every job, in spec and row order, without duplicates."""
    jobs, seen = [], set()
    for spec in specs:
        for row in spec.rows:
            for task in [args.task] if args.task else row.tasks:
                launcher = ["-m", f"hydra/launcher={args.launcher}"] if args.launcher else []
                smoke = task_overrides(task, args.profile, row.overrides)
                command = [
                    *lightcnn_command(), *launcher, *row.overrides, f"task={task}", f"profile={args.profile}",
                    f"results_dir={args.results}", *RUNTIME_OVERRIDES, *smoke, *args.override,
                ]  # fmt: skip
                key = tuple(command)
                if key not in seen:
                    seen.add(key)
                    jobs.append((f"[{spec.paper}/{spec.name}] {row.label} ({task})", command))
    return jobs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", type=Path)
    parser.add_argument("--profile", choices=PROFILES, default="smoke")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--override", action="append", default=[], help="extra override for every run (repeatable)")
    parser.add_argument("--task", help="run this task for every row instead of the spec's (profile: counts only)")
    parser.add_argument("--jobs", type=int, default=1, help="jobs run at once")
    parser.add_argument("--launcher", help="Hydra launcher for every job (joblib, slurm, ...)")
    parser.add_argument("--real-data", action="store_true", help="smoke on the real data sets (subsets)")
    args = parser.parse_args(argv)
    paths = args.specs or sorted((CONF_DIR.parent / "experiments").rglob("*.yaml"))
    synthetic = args.profile == "smoke" and not args.real_data
    try:
        specs = load_specs(paths, synthetic)
    except UserError as err:
        fail(str(err))
    jobs = job_commands(specs, args)
    started = time.perf_counter()

    # jobs share the cores: give each its part, so N jobs do not each start a thread per core
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // max(1, args.jobs)))}

    def run(job: tuple[str, list[str]]) -> bool:
        label, command = job
        print(f"{label}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        return subprocess.run(command, stdout=subprocess.DEVNULL, env=env).returncode == 0

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        failures = sum(not ok for ok in pool.map(run, jobs))
    try:
        report = render_report(paths, args.results, args.out, args.profile, synthetic, tuple(args.override))
    except UserError as err:
        fail(str(err))
    for path in report:
        print(path)
    print(f"{len(jobs)} jobs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if failures:
        print(f"{failures} job(s) failed: their rows are marked in the tables", file=sys.stderr)


if __name__ == "__main__":
    main()
