"""``make reproduce-tables``: run every table spec's rows at one profile, then render the report.

    python -m lightcnn.reproduce --profile smoke|quick|paper [--jobs N] [--launcher NAME]
                                 [--task profile] [--override KEY=VALUE] [--dry-run] [SPEC.yaml ...]

Each row of each spec runs as one ``lightcnn`` job per task of the row (``tasks``, default
train) with ``profile=<profile>``. Before anything runs, every spec is checked (unknown keys,
duplicate labels, rows that do not compose: exit 2 naming the spec, row and key) and the jobs
are put in dependency order: a row whose weights come from another run (``method.pretrained=auto``,
``task.checkpoint=auto``) starts only once that run has finished ``ok`` — whatever ``--jobs``
is — and is marked ``blocked`` (never trained on random weights) when it did not. Jobs whose
config already has an ``ok`` record are skipped by the runner, so an interrupted reproduction
resumes. ``--dry-run`` prints the plan with each job's state and estimated cost.

``--task profile`` counts every row in this process (no data, no subprocess): seconds.
The exit code is 1 when any job failed, diverged, was interrupted or blocked; a summary table
of every job ends the output.

``smoke`` replaces the real data sets by synthetic images of the same shape (``--real-data``
keeps them) and keeps the analyses small, so every table is exercised end to end on a CPU in
minutes; its numbers check the plumbing only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from lightcnn.composition import EXPERIMENTS_DIR
from lightcnn.errors import UserError, fail
from lightcnn.record import Status, git_commit
from lightcnn.results.matching import RUNTIME_OVERRIDES, task_overrides
from lightcnn.results.tables import load_specs, render_report


def profile_names() -> list[str]:
    """The options of the ``profile`` config group (``conf/profile/*.yaml``)."""
    from lightcnn.composition import CONF_DIR

    return sorted(p.stem for p in (CONF_DIR / "profile").glob("*.yaml"))


NOT_OK = (Status.FAILED, Status.DIVERGED, Status.INTERRUPTED, Status.BLOCKED)


@dataclass
class Job:
    label: str  # "[paper/table] row (task)"
    overrides: tuple[str, ...]  # what `lightcnn` is given (no launcher)
    config_hash: str = ""  # of the composed config, before any dependency is pinned
    needs: str | None = None  # config hash of the run whose weights it takes
    need_command: str = ""
    after: list[int] = field(default_factory=list)  # jobs of this plan that must finish ok first
    estimated_minutes: float | None = None  # of its training on this machine (--dry-run)
    config: object = None  # the composed config (DictConfig), kept: composing costs 0.15 s
    need_overrides: tuple[str, ...] = ()  # what makes the run it needs
    status: str = "pending"
    reason: str = ""
    seconds: float = 0.0

    @property
    def alone(self) -> bool:
        """A timing job (latency): it runs with nothing else on the machine, whatever --jobs."""
        return "task=latency" in self.overrides


def lightcnn_command() -> list[str]:
    script = Path(sys.executable).with_name("lightcnn")
    return [str(script)] if script.exists() else [shutil.which("lightcnn") or "lightcnn"]


def job_overrides(row, task: str, args, replaced: bool) -> tuple[str, ...]:
    """A row's overrides for one task; a task given on the command line drops the row's own
    ``task.`` keys (they belong to the row's tasks, e.g. ``task.checkpoint`` of a census)."""
    own = tuple(o for o in row.overrides if not (replaced and o.split("=", 1)[0].lstrip("+").startswith("task.")))
    smoke = task_overrides(task, args.profile, row.overrides)
    return (*own, *row.at_profile(args.profile), f"task={task}", f"profile={args.profile}",
            f"results_dir={args.results}", *RUNTIME_OVERRIDES, *smoke, *args.override)  # fmt: skip


def seeds_to_run(row, task: str, profile: str) -> list[tuple[str, ...]]:
    """``seed=N`` per seed of the row at ``profile``; counts and latency do not depend on the seed (one job)."""
    seeds = row.seeds_at(profile)
    if not seeds or task in ("profile", "latency"):
        return [()]
    return [(f"seed={seed}",) for seed in seeds]


def plan_jobs(specs, args) -> list[Job]:
    """Every job in spec and row order, without duplicates, each composed and checked."""
    from lightcnn.composition import Composer

    compose = Composer()
    jobs, seen = [], set()
    for spec in specs:  # every row at its first seed, then every row at its second…: a comparison early
        for round_index in range(max([len(row.seeds_at(args.profile)) for row in spec.rows] + [1])):
            for row in spec.rows:
                for task in [args.task] if args.task else row.tasks:
                    seeds = seeds_to_run(row, task, args.profile)
                    if round_index >= len(seeds):
                        continue
                    seed = seeds[round_index]
                    overrides = job_overrides(row, task, args, replaced=bool(args.task)) + seed
                    if overrides not in seen:
                        seen.add(overrides)
                        name = f"{row.label} ({task}{', ' + seed[0] if seed else ''})"
                        jobs.append(Job(f"[{spec.paper}/{spec.name}] {name}", overrides))
    for job in jobs:
        link_dependency(job, compose)
    first: dict[str, Job] = {}
    for job in jobs:  # rows of several tables may be one configuration: run it once
        first.setdefault(job.config_hash, job)
    from lightcnn.record import find_ok_record

    for job in list(first.values()):  # a run some row needs but no row is (a census of a trained net): a job too
        if job.needs and job.needs not in first and find_ok_record(args.results, job.needs) is None:
            needed = Job(job.label.rsplit(" (", 1)[0] + " (train, needed)", job.need_overrides)
            link_dependency(needed, compose)
            first.setdefault(needed.config_hash, needed)
    jobs = list(first.values())
    by_hash = {job.config_hash: index for index, job in enumerate(jobs)}
    for job in jobs:
        if job.needs in by_hash:
            job.after.append(by_hash[job.needs])
            keep_checkpoint(jobs[by_hash[job.needs]], args.results)
    return dependency_order(jobs)


def keep_checkpoint(job: Job, results: Path) -> None:
    """A run whose weights another job loads keeps its checkpoint whatever the profile says
    (``profile=smoke`` keeps none); one that finished without it runs again."""
    from lightcnn.dependencies import finished_runs

    if "trainer.checkpoint=true" in job.overrides:
        return
    job.overrides = (*job.overrides, "trainer.checkpoint=true")
    runs, with_checkpoint = finished_runs(results, job.config_hash)
    if runs and with_checkpoint is None:
        job.overrides = (*job.overrides, "skip_existing=false")


def link_dependency(job: Job, compose) -> None:
    """Compose the job (a row that does not compose stops everything, exit 2) and find what it needs."""
    from lightcnn.config import config_hash, validate
    from lightcnn.dependencies import need_of, shown
    from lightcnn.results.matching import describe

    try:
        cfg = job.config = compose(job.overrides)
        validate(cfg)
    except Exception as err:
        raise UserError(f"{job.label}: {describe(err)}") from None
    job.config_hash = config_hash(cfg)
    need = need_of(cfg, job.overrides)
    if need is not None:
        job.needs = config_hash(compose(need.overrides))
        job.need_command = "lightcnn " + shown(need.overrides)
        job.need_overrides = need.overrides


def dependency_order(jobs: list[Job]) -> list[Job]:
    """Jobs with each one after those it needs (otherwise in spec order: a job right after what
    it needs); indices remapped. Jobs that need each other in a circle are refused, named."""
    import graphlib

    try:
        graphlib.TopologicalSorter({index: job.after for index, job in enumerate(jobs)}).prepare()
    except graphlib.CycleError as err:
        circle = " -> ".join(jobs[index].label for index in err.args[1])
        raise UserError(f"jobs that need each other's weights in a circle: {circle}") from None
    order, placed = [], set()

    def place(index: int) -> None:
        if index in placed:
            return
        placed.add(index)
        for before in jobs[index].after:
            place(before)
        order.append(index)

    for index in range(len(jobs)):
        place(index)
    new_index = {old: new for new, old in enumerate(order)}
    ordered = [jobs[old] for old in order]
    for job in ordered:
        job.after = [new_index[old] for old in job.after]
    return ordered


# ------------------------------------------------------------------------------------- cost


# ------------------------------------------------------------------------------------- state


def job_done(job: Job, results: Path) -> bool:
    """Whether the job's config (with its dependency pinned as it would be now) has an ok record."""
    from omegaconf import OmegaConf

    from lightcnn.composition import compose_config
    from lightcnn.config import config_hash
    from lightcnn.dependencies import need_of, resolve
    from lightcnn.record import find_ok_record

    if "skip_existing=false" in job.overrides:
        return False
    if job.needs is None:
        return find_ok_record(results, job.config_hash) is not None
    cfg = job.config if job.config is not None else compose_config(job.overrides)
    container = OmegaConf.to_container(cfg, resolve=True)
    try:
        dependency = resolve(need_of(cfg, job.overrides), results)
    except UserError:
        return False
    return find_ok_record(results, config_hash({**container, "depends_on": dependency})) is not None


def print_plan(jobs: list[Job], args) -> None:
    """The plan, each job's state and its estimated minutes (:mod:`lightcnn.job_cost`: the speed
    this machine's records measured for the same configuration, else a yardstick of the job's own
    model timed now)."""
    from omegaconf import OmegaConf

    from lightcnn.composition import compose_config
    from lightcnn.config import validate
    from lightcnn.job_cost import Estimator

    estimator = Estimator(args.results)
    out = [
        f"plan: {len(jobs)} jobs at profile={args.profile}; speeds from the trainings of the same configuration "
        f"on this machine under {args.results} ({sum(map(len, estimator.recorded.values()))} records), "
        "else a yardstick: a few steps of the job's own model, timed now"
    ]
    total = 0.0
    for index, job in enumerate(jobs):
        done = job_done(job, args.results)
        cfg = compose_config(job.overrides)
        estimate = estimator.minutes(validate(cfg), OmegaConf.to_container(cfg, resolve=True))
        cost = "no training"
        if estimate is not None:
            work, minutes, source = estimate
            job.estimated_minutes = minutes
            total += 0 if done else minutes
            cost = f"{work.train_images:,} training images ≈ {minutes:.1f} min at {source}"
        after = f" after #{', #'.join(str(a + 1) for a in job.after)}" if job.after else ""
        needs = f" needs {job.needs}" if job.needs and not job.after else ""
        out.append(f"#{index + 1:<3} {'done' if done else 'todo'}  {job.label}{after}{needs}  [{cost}]")
        out.append(f"      {' '.join(['lightcnn', *job.overrides])}")
    out.append(
        f"estimated time of what is left: {total:.0f} min on this machine (one job at a time; "
        "training only: searches, rankings and compilation come on top)"
    )
    print("\n".join(out))


# ------------------------------------------------------------------------------------- running


def run_subprocess(job: Job, env: dict, launcher: list[str], lock: threading.Lock) -> None:
    """Run one job as a ``lightcnn`` process; its status comes from the record it prints."""
    command = [*lightcnn_command(), *launcher, *job.overrides]
    with lock:
        print(f"{job.label}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    errors: list[str] = []

    def relay() -> None:
        for line in proc.stderr:
            sys.stderr.write(line)
            if line.startswith("error:") or "Error" in line:
                errors.append(line.strip())

    relay_thread = threading.Thread(target=relay, daemon=True)
    relay_thread.start()
    stdout = proc.stdout.read()
    proc.wait()
    relay_thread.join()
    record = last_json_line(stdout)
    if record is not None:
        job.status = str(record.get("status", "failed"))
        job.reason = str(record.get("error") or "")
    else:
        job.status = "failed"
        job.reason = errors[-1] if errors else f"exit code {proc.returncode}"
        write_status_record(job)
    if proc.returncode and job.status == "ok":
        job.status, job.reason = "failed", f"exit code {proc.returncode}"


def last_json_line(text: str) -> dict | None:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def run_in_process(job: Job) -> tuple[str, str]:
    """Run one job through the runner in this process (counting tasks: no data, seconds);
    returns (status, reason)."""
    import torch

    from lightcnn.runner import execute

    cfg = job.config
    try:
        with torch.no_grad():  # counting only: tracing without autograd is faster
            outcome = execute(cfg, new_run_dir(cfg), job.overrides)
    except UserError as err:
        job.status, job.reason = "failed", str(err)
        write_status_record(job)
        return job.status, job.reason
    except Exception as err:  # a bug: its record says failed; the reproduction goes on
        return "failed", f"{type(err).__name__}: {err}"
    return (str(outcome.record.get("status")) if outcome.record else "failed"), ""


def count_all(jobs: list[Job], workers: int) -> None:
    """Run counting jobs in ``workers`` forked processes of this one (no start-up, no subprocess
    per row); they need no data and nothing depends on them."""
    import multiprocessing

    import torch

    import lightcnn.methods  # noqa: F401  (what every counting job imports: once, before the forks)
    import lightcnn.tasks.profile  # noqa: F401

    torch.set_num_threads(1)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for job in jobs:
            job.status, job.reason = run_in_process(job)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for job, (status, reason) in zip(jobs, pool.map(run_in_process, jobs, chunksize=1), strict=True):
            job.status, job.reason = status, reason


def new_run_dir(cfg) -> Path:
    """A fresh run directory, named as the ``lightcnn`` command names its own."""
    import datetime as dt
    import uuid

    now = dt.datetime.now()
    name = f"{now.strftime('%H-%M-%S')}_{cfg.model.name}_{cfg.dataset.name}_{uuid.uuid4().hex[:6]}"
    path = Path(cfg.results_dir) / "runs" / now.strftime("%Y-%m-%d") / name
    path.mkdir(parents=True)
    return path


def write_status_record(job: Job) -> None:
    """A record for a job that left none: refused before it ran (``failed``, e.g. missing data)
    or never started because what it needs did not finish ok (``blocked``), so its row shows
    that instead of ``missing``."""
    from omegaconf import OmegaConf

    from lightcnn.composition import compose_config
    from lightcnn.config import validate
    from lightcnn.record import RECORD_FILE, new_run_id, now_iso, write_json_atomic
    from lightcnn.runner import base_record

    raw = job.config if job.config is not None else compose_config(job.overrides)  # composed when planned
    container = OmegaConf.to_container(raw, resolve=True)
    record = base_record(container, validate(raw), job.config_hash, new_run_id())
    record.update(status=job.status, error=job.reason, finished_at=now_iso())
    write_json_atomic(new_run_dir(raw) / RECORD_FILE, record)


def run_jobs(jobs: list[Job], workers: int, run_one) -> None:
    """Run ``jobs`` with at most ``workers`` at once, each only after the jobs it needs finished
    ok; a job whose dependency did not is ``blocked`` (a record says so). A timing job
    (:attr:`Job.alone`) starts only when nothing runs, and nothing starts beside it."""
    pending = list(range(len(jobs)))
    running: dict = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while pending or running:
            for index in list(pending):
                job = jobs[index]
                before = [jobs[i] for i in job.after]
                if any(b.status in NOT_OK for b in before):
                    failed = next(b for b in before if b.status in NOT_OK)
                    job.status, job.reason = "blocked", f"needs {failed.label}, which {failed.status}"
                    write_status_record(job)
                    pending.remove(index)
                elif (
                    all(b.status == "ok" for b in before)
                    and len(running) < max(1, workers)
                    and not any(j.alone for j, _ in running.values())
                    and not (job.alone and running)
                ):
                    pending.remove(index)
                    started = time.perf_counter()
                    running[pool.submit(run_one, job)] = (job, started)
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job, started = running.pop(future)
                job.seconds = time.perf_counter() - started
                if future.exception() is not None:
                    job.status, job.reason = "failed", repr(future.exception())


def summary(jobs: list[Job]) -> str:
    import pandas as pd

    rows = [{"job": j.label, "status": j.status, "s": f"{j.seconds:,.0f}", "reason": j.reason[:100]} for j in jobs]
    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", type=Path)
    parser.add_argument("--profile", choices=profile_names(), default="smoke")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, help="where the report goes (default: reports/<profile>)")
    parser.add_argument("--override", action="append", default=[], help="extra override for every run (repeatable)")
    parser.add_argument("--task", help="run this task for every row instead of the spec's (profile: counts only)")
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


if __name__ == "__main__":
    main()
