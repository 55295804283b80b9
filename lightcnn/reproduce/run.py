"""Running one job: a ``lightcnn`` subprocess (its status from the record it prints), or in this
process for counting jobs (forked workers); the record of a job that left none; the summary."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from lightcnn.errors import UserError

if TYPE_CHECKING:
    from lightcnn.reproduce.plan import Job


def lightcnn_command() -> list[str]:
    """The ``lightcnn`` script beside this interpreter, else on ``PATH``, else ``python -m lightcnn``
    (a checkout on ``PYTHONPATH``, never installed)."""
    script = Path(sys.executable).with_name("lightcnn")
    if script.exists():
        return [str(script)]
    found = shutil.which("lightcnn")
    return [found] if found else [sys.executable, "-m", "lightcnn"]


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

    from lightcnn.runner import discard_run_dir, execute

    cfg = job.config
    run_dir = new_run_dir(cfg)
    try:
        with torch.no_grad():  # counting only: tracing without autograd is faster
            outcome = execute(cfg, run_dir, job.overrides)
    except Exception as err:  # refused (a UserError, whose run left no directory) or a bug: recorded as failed
        discard_run_dir(run_dir, Path(cfg.results_dir))  # what a bug left half-made (nothing but scaffolding)
        job.status, job.reason = "failed", str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
        write_status_record(job)  # the row shows "failed" and why, as for a job run as a subprocess
        return job.status, job.reason
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
    for attempt in range(10):
        try:
            path.mkdir(parents=True)
            break
        except FileNotFoundError:  # its emptied date folder was removed meanwhile by a job that discarded its run
            if attempt == 9:
                raise
    return path


def write_status_record(job: Job) -> None:
    """A record for a job that left none: refused before it ran (``failed``, e.g. missing data)
    or never started because what it needs did not finish ok (``blocked``), so its row shows
    that instead of ``missing``."""
    from omegaconf import OmegaConf

    from lightcnn.composition import compose_config
    from lightcnn.config import validate
    from lightcnn.record import RECORD_FILE, new_run_id, now_iso
    from lightcnn.record_io import write_json_atomic
    from lightcnn.runner import base_record

    raw = job.config if job.config is not None else compose_config(job.overrides)  # composed when planned
    container = OmegaConf.to_container(raw, resolve=True)
    record = base_record(container, validate(raw), job.config_hash, new_run_id())
    record.update(status=job.status, error=job.reason, finished_at=now_iso())
    write_json_atomic(new_run_dir(raw) / RECORD_FILE, record)


def summary(jobs: list[Job]) -> str:
    import pandas as pd

    rows = [{"job": j.label, "status": j.status, "s": f"{j.seconds:,.0f}", "reason": j.reason[:100]} for j in jobs]
    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
