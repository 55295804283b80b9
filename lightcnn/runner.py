"""One run, from composed config to record: validate → pin dependencies → skip or resume → task
→ ``result.json``.

The Hydra app (``lightcnn.cli.app``) calls :func:`execute` with the composed config, the run
directory Hydra made for it and the overrides it was composed from. Bad input raises
:class:`UserError` before any work and leaves no run directory behind; a crash inside a task
still writes a ``failed`` record, then re-raises; SIGINT/SIGTERM during training writes an
``interrupted`` record (the next run of the same config resumes it, in the same directory).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lightcnn.config import Config, config_hash, validate
from lightcnn.engine.checkpoint_io import CHECKPOINT_DIR
from lightcnn.environment import environment, git_commit
from lightcnn.errors import UserError
from lightcnn.record import RECORD_FILE, RUN_INFO_FILE, Status, new_run_id, now_iso, record_problems
from lightcnn.record_io import find_interrupted_run, find_ok_record, read_json, write_json_atomic
from lightcnn.tasks import RunContext, get_task

log = logging.getLogger(__name__)
# what a run directory holds before its task has produced anything
SCAFFOLD = {".hydra", RUN_INFO_FILE}


@dataclass
class Outcome:
    record: dict | None
    report: str | None = None
    skipped: bool = False
    is_main_process: bool = True
    exit_code: int = 0  # non-zero: the run was interrupted (128 + the signal)
    run_dir: Path | None = None  # where the record is (a resumed run: the directory it continued)


def display_settings(cfg) -> list[str]:
    """The settings that change what a run shows, not what it computes (outside the config hash):
    a skipped run does not apply them."""
    shown = []
    logger = getattr(cfg, "logger", None)
    if logger is not None and getattr(logger, "name", "csv") != "csv":
        shown.append(f"logger={logger.name}")
    if getattr(cfg.task, "print_table", False):
        shown.append("task.print_table=true")
    return shown


def is_spawned_rank() -> bool:
    """True in the extra processes a multi-process strategy (DDP) starts for ranks > 0."""
    return int(os.environ.get("LOCAL_RANK", "0")) > 0 or int(os.environ.get("NODE_RANK", "0")) > 0


def discard_run_dir(run_dir: Path, results_dir: Path) -> None:
    """Remove a run directory that holds nothing but Hydra's scaffolding and logs, and the
    parents (up to ``results_dir``) that it leaves empty."""
    if not (run_dir.is_dir() and all(p.name in SCAFFOLD or p.suffix == ".log" for p in run_dir.iterdir())):
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    results_dir = results_dir.resolve()
    for parent in run_dir.resolve().parents:
        if parent == results_dir or results_dir not in parent.parents:
            break
        try:
            parent.rmdir()  # only if empty: another job of the same sweep may have just made a run in it
        except OSError:
            break


def move_log_files(old: Path, new: Path) -> None:
    """Point the logging file handlers that write into ``old`` at the same file names in ``new``
    (appending), so a resumed run's log continues in the directory it resumes."""
    old = old.resolve()
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == old:
            handler.acquire()
            try:
                handler.close()
                handler.baseFilename = str(new.resolve() / Path(handler.baseFilename).name)
                handler.mode = "a"
                handler.stream = handler._open()
            finally:
                handler.release()


def base_record(config: dict, cfg, chash: str, run_id: str) -> dict:
    return {
        "run_id": run_id,
        "status": Status.OK,
        "task": cfg.task.name,
        "model": cfg.model.name,
        "method": cfg.method.name,
        "dataset": cfg.dataset.name,
        "profile": cfg.profile,
        "seed": cfg.seed,
        "config": config,
        "config_hash": chash,
        "started_at": now_iso(),
    }


def check_run_dir(run_dir: Path, chash: str) -> None:
    """Refuse a run directory that already belongs to another config (a reused ``hydra.run.dir``)."""
    for name in (RECORD_FILE, RUN_INFO_FILE):
        owner = read_json(run_dir / name)
        if owner and owner.get("config_hash") not in (None, chash):
            raise UserError(
                f"{run_dir}: holds a run of another config ({owner['config_hash']}, this one is {chash}); "
                "choose another hydra.run.dir"
            )


def pin_dependency(cfg, container: dict, overrides: tuple[str, ...] | None, results_dir: Path) -> dict | None:
    """Resolve ``auto`` weights to the exact run they come from (see :mod:`lightcnn.dependencies`)."""
    from lightcnn.dependencies import need_of, resolve

    need = need_of(OmegaConf.create(container), tuple(overrides or ()))
    if need is None:
        return None
    if overrides is None:
        raise UserError(f"{need.key}=auto needs the run's overrides to find the run it depends on")
    return resolve(need, results_dir)


def resume_point(cfg, run_dir: Path, results_dir: Path, chash: str) -> tuple[Path, Path | None, list[str]]:
    """(run directory, checkpoint to resume from, notes): ``resume=auto`` continues the newest
    unfinished run of this config in its own directory, from its newest intact checkpoint."""
    from lightcnn.engine.checkpoint_io import CorruptCheckpoint, load_checkpoint, newest_intact
    from lightcnn.errors import ConfigValueError

    if cfg.resume == "never":
        return run_dir, None, []
    if cfg.resume != "auto":
        path = Path(cfg.resume).expanduser()
        if not path.is_file():
            raise ConfigValueError("resume", cfg.resume, "auto, never, or the path of an existing checkpoint")
        try:
            load_checkpoint(path)  # refuses a checkpoint that carries code, before anything runs
        except CorruptCheckpoint as err:
            raise UserError(str(err)) from None
        return run_dir, path, []
    unfinished = find_interrupted_run(results_dir, chash, CHECKPOINT_DIR)
    if unfinished is None or unfinished.resolve() == run_dir.resolve():
        return run_dir, None, []
    checkpoint, notes = newest_intact(unfinished / CHECKPOINT_DIR)
    if checkpoint is None:
        notes.append("no intact training checkpoint: training starts again from its first epoch")
    return unfinished, checkpoint, notes


def execute(raw: DictConfig, run_dir: Path, overrides: list[str] | tuple[str, ...] | None = None) -> Outcome:
    """Run the composed config ``raw`` in ``run_dir``: skipped when its config has an ok record,
    continued where an unfinished run of it left off, its record written when it ends."""
    results_dir = Path(str(raw.get("results_dir", "results")))
    git_commit()  # the code the run starts with (cached), not what the checkout holds when it ends
    main = not is_spawned_rank()
    container = OmegaConf.to_container(raw, resolve=True)
    container.pop("hydra", None)
    try:
        cfg = validate(raw)
        task = get_task(cfg.task.name)
        dependency = pin_dependency(cfg, container, overrides, results_dir) if task.writes_record else None
        # the needed run's identity is part of this run's config: a new baseline, a new config
        chash = config_hash({**container, "depends_on": dependency} if dependency else container)
        check_run_dir(run_dir, chash)
    except UserError:
        discard_run_dir(run_dir, results_dir)
        raise
    ctx = RunContext(run_dir, Path(cfg.data_dir).resolve(), results_dir.resolve(), chash, main, container)
    ctx.dependency = dependency
    if task.writes_record and cfg.skip_existing and main:
        done = done_before(cfg, ctx)
        if done is not None:
            return done
    record = base_record(container, cfg, chash, new_run_id())
    if dependency:
        record["depends_on"] = dependency
    if task.resumes:
        continue_unfinished(cfg, ctx, record)
    ctx.run_id = record["run_id"]
    if task.writes_record and main:
        write_json_atomic(ctx.run_dir / RUN_INFO_FILE, {k: record[k] for k in ("run_id", "config_hash", "started_at")})
    return run_task(cfg, ctx, task, record)


def done_before(cfg: Config, ctx: RunContext) -> Outcome | None:
    """The outcome of a run of this config that finished ok before (this run's directory then
    goes), or None."""
    existing = find_ok_record(ctx.results_dir, ctx.config_hash)
    if existing is None or Path(existing["run_dir"]).resolve() == ctx.run_dir.resolve():
        return None
    log.info("skipping: config %s already has an ok record in %s", ctx.config_hash, existing["run_dir"])
    unapplied = display_settings(cfg)
    if unapplied:
        log.warning("not applied, the run being done before: %s; add skip_existing=false to run it again "
                    "with them", ", ".join(unapplied))  # fmt: skip
    discard_run_dir(ctx.run_dir, ctx.results_dir)
    return Outcome(existing, skipped=True, run_dir=Path(existing["run_dir"]))


def continue_unfinished(cfg: Config, ctx: RunContext, record: dict) -> None:
    """Where an unfinished run of this config left a checkpoint, continue it in its directory
    (``ctx.run_dir`` becomes it; the record keeps its run id and start)."""
    run_dir = ctx.run_dir
    try:
        resumed_dir, ctx.resume_from, ctx.resume_notes = resume_point(cfg, run_dir, ctx.results_dir, ctx.config_hash)
    except UserError:
        discard_run_dir(run_dir, ctx.results_dir)
        raise
    if resumed_dir == run_dir:
        return
    log.info("resuming the unfinished run in %s", resumed_dir)
    info = read_json(resumed_dir / RUN_INFO_FILE) or {}
    record["run_id"] = info.get("run_id", record["run_id"])
    record["started_at"] = info.get("started_at", record["started_at"])
    if ctx.is_main_process:
        move_log_files(run_dir, resumed_dir)
        discard_run_dir(run_dir, ctx.results_dir)
    ctx.run_dir = resumed_dir


def run_task(cfg: Config, ctx: RunContext, task, record: dict) -> Outcome:
    """The task itself, then its record (a failure's too): written by the main process only."""
    main, run_dir = ctx.is_main_process, ctx.run_dir
    try:
        result = task.run(cfg, ctx)
    except UserError:
        if main:
            discard_run_dir(run_dir, ctx.results_dir)
        raise
    except Exception as err:
        if task.writes_record and main:
            record.update(
                environment(), status=Status.FAILED, error=f"{type(err).__name__}: {err}", finished_at=now_iso()
            )
            write_json_atomic(run_dir / RECORD_FILE, record)
        raise
    if not task.writes_record:
        return Outcome(result.fields, result.report, is_main_process=main)
    record.update(environment())
    record.update(result.fields)
    record["finished_at"] = now_iso()
    for problem in record_problems(record):  # a bug of lightcnn, not of the run: the measurements stay
        log.warning("record schema (lightcnn.record.record_fields): %s", problem)
    main = main and ctx.is_main_process
    if main:
        write_json_atomic(run_dir / RECORD_FILE, record)
        if result.on_record is not None:
            result.on_record(record)
    return Outcome(record, result.report, is_main_process=main, exit_code=result.exit_code, run_dir=run_dir)
