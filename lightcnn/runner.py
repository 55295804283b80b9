"""One run, from composed config to record: validate → skip or resume → task → ``result.json``.

The Hydra app (``lightcnn.cli``) calls :func:`execute` with the composed config and the run
directory Hydra made for it. Bad input raises :class:`UserError` before any work and leaves no
run directory behind; a crash inside a task still writes a ``failed`` record, then re-raises.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lightcnn.config import config_hash, validate
from lightcnn.errors import UserError
from lightcnn.results.record import (
    RECORD_FILE,
    RUN_INFO_FILE,
    environment,
    find_ok_record,
    new_run_id,
    now_iso,
    write_json_atomic,
)
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
        if parent == results_dir or results_dir not in parent.parents or any(parent.iterdir()):
            break
        parent.rmdir()


def base_record(config: dict, cfg, chash: str, run_id: str) -> dict:
    return {
        "run_id": run_id,
        "status": "ok",
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


def execute(raw: DictConfig, run_dir: Path) -> Outcome:
    results_dir = Path(str(raw.get("results_dir", "results")))
    try:
        cfg = validate(raw)
        task = get_task(cfg.task.name)
    except UserError:
        discard_run_dir(run_dir, results_dir)
        raise
    chash = config_hash(raw)
    main = not is_spawned_rank()
    container = OmegaConf.to_container(raw, resolve=True)
    container.pop("hydra", None)
    ctx = RunContext(run_dir, Path(cfg.data_dir).resolve(), Path(cfg.results_dir).resolve(), chash, main, container)

    if task.writes_record and cfg.skip_existing and main:
        existing = find_ok_record(ctx.results_dir, chash)
        if existing is not None and Path(existing["run_dir"]).resolve() != run_dir.resolve():
            log.info("skipping: config %s already has an ok record in %s", chash, existing["run_dir"])
            discard_run_dir(run_dir, ctx.results_dir)
            return Outcome(existing, skipped=True)

    record = base_record(container, cfg, chash, new_run_id())
    if task.writes_record and main:
        write_json_atomic(run_dir / RUN_INFO_FILE, {k: record[k] for k in ("run_id", "config_hash", "started_at")})
    try:
        result = task.run(cfg, ctx)
    except UserError:
        if main:
            discard_run_dir(run_dir, ctx.results_dir)
        raise
    except Exception as err:
        if task.writes_record and main:
            record.update(environment(), status="failed", error=f"{type(err).__name__}: {err}", finished_at=now_iso())
            write_json_atomic(run_dir / RECORD_FILE, record)
        raise
    if not task.writes_record:
        return Outcome(result.fields, result.report, is_main_process=main)
    record.update(environment())
    record.update(result.fields)
    record["finished_at"] = now_iso()
    main = main and ctx.is_main_process
    if main:
        write_json_atomic(run_dir / RECORD_FILE, record)
    return Outcome(record, result.report, is_main_process=main)
