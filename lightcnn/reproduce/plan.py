"""The reproduction's plan: one job per row, task and seed of every spec, composed and checked,
linked to the run whose weights it needs; which are done; what the rest costs."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from lightcnn.errors import UserError
from lightcnn.reproduce.schedule import dependency_order
from lightcnn.results.matching import RUNTIME_OVERRIDES, task_overrides


def profile_names() -> list[str]:
    """The options of the ``profile`` config group (``conf/profile/*.yaml``)."""
    from lightcnn.composition import CONF_DIR

    return sorted(p.stem for p in (CONF_DIR / "profile").glob("*.yaml"))


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
    chosen: bool = True  # its row is one --rows selects, at a seed --seeds selects
    status: str = "pending"
    reason: str = ""
    seconds: float = 0.0

    @property
    def alone(self) -> bool:
        """A timing job (latency): it runs with nothing else on the machine, whatever --jobs."""
        return "task=latency" in self.overrides


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


def row_selected(row, patterns: list[str] | None) -> bool:
    """Whether ``row``'s label matches one of the shell-style ``patterns`` (every row when None)."""
    return not patterns or any(fnmatch.fnmatchcase(row.label, pattern) for pattern in patterns)


def check_row_patterns(specs, patterns: list[str] | None) -> None:
    """Every ``--rows`` pattern matches a row of some spec: a pattern that matches none is a typo."""
    for pattern in patterns or []:
        if not any(row_selected(row, [pattern]) for spec in specs for row in spec.rows):
            labels = ", ".join(f"'{row.label}'" for spec in specs for row in spec.rows)
            raise UserError(f"--rows {pattern!r} matches no row; the rows: {labels}")


SEEDLESS_TASKS = ("profile", "latency")  # counts and timings: one job whatever the seed


def seed_selected(job: Job, seeds: list[int] | None) -> bool:
    """Whether ``job`` runs one of ``seeds`` (every job when None; counts and timings always)."""
    return not seeds or job.config.task.name in SEEDLESS_TASKS or int(job.config.seed) in seeds


def check_seeds(jobs: list[Job], seeds: list[int] | None, profile: str) -> None:
    """Every ``--seeds`` value is a seed some job of the plan runs: one that none does is a typo."""
    run = sorted({int(job.config.seed) for job in jobs if job.config.task.name not in SEEDLESS_TASKS})
    for seed in seeds or []:
        if seed not in run:
            raise UserError(f"--seeds {seed}: no row runs seed {seed} at profile={profile}; the seeds run: "
                            f"{', '.join(map(str, run)) or 'none (counts only)'}")  # fmt: skip


def plan_jobs(specs, args) -> list[Job]:
    """Every job in spec and row order (the rows ``args.rows`` selects, at the seeds ``args.seeds``
    selects; every one when None), without duplicates, each composed and checked."""
    from lightcnn.composition import Composer

    check_row_patterns(specs, args.rows)
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
                        label = f"[{spec.paper}/{spec.name}] {name}"
                        jobs.append(Job(label, overrides, chosen=row_selected(row, args.rows)))
    from lightcnn.record_io import iter_records

    records = list(iter_records(args.results))  # read once: every dependent job looks through them
    for job in jobs:
        link_dependency(job, compose)
        done_from_earlier_baseline(job, records)
    seeds = getattr(args, "seeds", None)
    check_seeds(jobs, seeds, args.profile)
    for job in jobs:
        job.chosen = job.chosen and seed_selected(job, seeds)
    first: dict[str, Job] = {}
    for job in jobs:  # rows of several tables may be one configuration: run it once
        first.setdefault(job.config_hash, job)
    from lightcnn.record_io import find_ok_record

    for job in list(first.values()):  # a run some row needs but no row is (a census of a trained net): a job too
        waits = job.needs and job.status != "ok"  # a job done already needs no run
        if waits and job.needs not in first and find_ok_record(args.results, job.needs) is None:
            needed = Job(job.label.rsplit(" (", 1)[0] + " (train, needed)", job.need_overrides)
            link_dependency(needed, compose)
            first.setdefault(needed.config_hash, needed)
    jobs = with_what_they_need([job for job in jobs if job.chosen], list(first.values()))
    by_hash = {job.config_hash: index for index, job in enumerate(jobs)}
    for job in jobs:
        if job.needs in by_hash and job.status != "ok":
            job.after.append(by_hash[job.needs])
            keep_checkpoint(jobs[by_hash[job.needs]], args.results)
    return dependency_order(jobs)


def done_from_earlier_baseline(job: Job, records: list[dict]) -> None:
    """A job with a record made from any finished run of its baseline's configuration is done
    (status ``ok``, not launched): the plan neither waits for that baseline nor trains it again
    for this job (:func:`lightcnn.dependencies.made_from_a_finished_run`)."""
    from lightcnn.dependencies import made_from_a_finished_run

    record = made_from_a_finished_run(records, job.config_hash, job.needs) if job.needs else None
    if record is not None:
        job.status = "ok"
        job.reason = f"run {record.get('run_id')}, made from baseline run {record['depends_on'].get('run_id')}"


def with_what_they_need(chosen: list[Job], planned: list[Job]) -> list[Job]:
    """The jobs of ``planned`` (one per configuration) that a chosen job is, or needs the weights of
    (a baseline whose row ``--rows`` left out), in plan order; a job done already needs nothing."""
    by_hash = {job.config_hash: job for job in planned}
    kept = {job.config_hash for job in chosen}
    wanted = [job.config_hash for job in chosen if job.status != "ok"]
    while wanted:
        need = by_hash[wanted.pop()].needs
        if need in by_hash and need not in kept:
            kept.add(need)
            wanted.append(need)
    return [job for job in planned if job.config_hash in kept]


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


def job_done(job: Job, results: Path) -> bool:
    """Whether the job's config (with its dependency pinned as it would be now) has an ok record."""
    from omegaconf import OmegaConf

    from lightcnn.composition import compose_config
    from lightcnn.config import config_hash
    from lightcnn.dependencies import need_of, resolve
    from lightcnn.record_io import find_ok_record

    if "skip_existing=false" in job.overrides:
        return False
    if job.status == "ok":  # made from an earlier run of its baseline
        return True
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
        needs = f" needs {job.needs}" if job.needs and not job.after and job.status != "ok" else ""
        needs += f" ({job.reason})" if job.status == "ok" else ""
        out.append(f"#{index + 1:<3} {'done' if done else 'todo'}  {job.label}{after}{needs}  [{cost}]")
        out.append(f"      {' '.join(['lightcnn', *job.overrides])}")
    out.append(
        f"estimated time of what is left: {total:.0f} min on this machine (one job at a time; "
        "a recorded configuration's searches and rankings included, a yardstick's not; compilation on top)"
    )
    if estimator.busy is not None:
        out.append(
            f"note: this machine was busy while the yardstick ran (load average {estimator.busy:.1f} on "
            f"{os.cpu_count()} cores): its speeds are too low and its minutes too long; time it again when idle"
        )
    print("\n".join(out))
