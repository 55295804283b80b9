"""``python -m lightcnn.reproduce``: run every table spec's rows at one profile, then render the report."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

from lightcnn.composition import EXPERIMENTS_DIR
from lightcnn.environment import git_commit
from lightcnn.errors import UserError, fail
from lightcnn.reproduce.plan import plan_jobs, print_plan, profile_names
from lightcnn.reproduce.run import count_all, run_subprocess, summary
from lightcnn.reproduce.schedule import run_jobs
from lightcnn.results.tables import load_specs, render_report


def require_clean_tree() -> None:
    """Exit 2 unless this lightcnn checkout is a commit with no uncommitted change to a tracked file."""
    commit = git_commit()
    if commit is None:
        fail("--clean-tree: this lightcnn is not a git checkout, so its records could not name their code")
    if commit.endswith("+dirty"):
        fail(
            f"--clean-tree: the checkout has uncommitted changes (git_commit would be {commit}); commit them "
            "first, or leave out --clean-tree for a local experiment (scripts/reference_cpu.sh: DIRTY_OK=1)"
        )


def seed_list(text: str) -> list[int]:
    """``--seeds 1,2``: comma-separated non-negative integers."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: non-negative integers, comma-separated (1,2)")
    return seeds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("specs", nargs="*", type=Path)
    parser.add_argument("--profile", choices=profile_names(), default="smoke")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, help="where the report goes (default: reports/<profile>)")
    parser.add_argument("--override", action="append", default=[], help="extra override for every run (repeatable)")
    parser.add_argument("--task", help="run this task for every row instead of the spec's (profile: counts only)")
    parser.add_argument(
        "--rows",
        action="append",
        metavar="PATTERN",
        help="only the rows whose label matches (shell-style: '100000*'; repeatable); the runs they need come "
        "along, the report still shows every row",
    )
    parser.add_argument(
        "--seeds",
        action="append",
        type=seed_list,
        metavar="N[,N…]",
        help="only the runs of these seeds ('1,2'; repeatable); the runs they need come along, counts always run",
    )
    parser.add_argument("--jobs", type=int, default=1, help="jobs run at once")
    parser.add_argument("--launcher", help="Hydra launcher for every job (joblib, slurm, ...)")
    parser.add_argument("--real-data", action="store_true", help="smoke on the real data sets (subsets)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan (order, commands, state, cost); run nothing"
    )
    parser.add_argument(
        "--clean-tree",
        action="store_true",
        help="refuse to run from a checkout with uncommitted changes (every record then names recoverable code)",
    )
    args = parser.parse_args(argv)
    args.seeds = sorted({seed for seeds in args.seeds for seed in seeds}) if args.seeds else None
    args.results = args.results.resolve()
    args.out = args.out or Path("reports") / args.profile
    paths = args.specs or sorted(EXPERIMENTS_DIR.rglob("*.yaml"))
    synthetic = args.profile == "smoke" and not args.real_data
    try:
        specs = load_specs(paths, synthetic)
        jobs = plan_jobs(specs, args)
    except UserError as err:
        fail(str(err))
    if args.dry_run:
        print_plan(jobs, args)
        return
    if args.clean_tree:
        require_clean_tree()
    started = time.perf_counter()
    if args.task == "profile" and not args.launcher:
        count_all(jobs, max(args.jobs, os.cpu_count() or 1))
    else:
        # jobs share the cores: give each its part, so N jobs do not each start a thread per core
        threads = str(max(1, (os.cpu_count() or 1) // max(1, args.jobs)))
        env = {**os.environ, "OMP_NUM_THREADS": threads}
        launcher = ["-m", f"hydra/launcher={args.launcher}"] if args.launcher else []
        lock = threading.Lock()
        run_jobs(jobs, args.jobs, lambda job: run_subprocess(job, env, launcher, lock))
    try:
        report = render_report(paths, args.results, args.out, args.profile, synthetic, tuple(args.override))
    except UserError as err:
        fail(str(err))
    for path in report:
        print(path)
    bad = [job for job in jobs if job.status != "ok"]
    print(summary(jobs), file=sys.stderr)
    print(f"{len(jobs)} jobs in {time.perf_counter() - started:.0f} s; {len(bad)} not ok", file=sys.stderr)
    if bad:
        sys.exit(1)
