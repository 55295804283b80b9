"""Run records on disk: atomic writes (a reader sees the old file or the whole new one), JSON
that stays valid, and finding a results directory's records and unfinished runs."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lightcnn.record import RECORD_FILE, RESUMABLE_STATUSES, RUN_INFO_FILE, Status


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one, with the
    permissions the user's umask gives a new file (``mkstemp`` alone would make it private)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_safe(value: Any) -> Any:
    """``value`` with NaN and ±inf replaced by None, so that it is valid (strict) JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def to_json(data: Any, indent: int | None = None) -> str:
    """Strict JSON (no NaN) of a record; objects it does not know become strings."""
    return json.dumps(json_safe(data), indent=indent, default=str, allow_nan=False)


def write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, to_json(data, indent=2) + "\n")


def files_named(results_dir: Path, names: tuple[str, ...]) -> list[Path]:
    """Every file under ``results_dir`` with one of ``names``, sorted. Directories that vanish
    during the walk are skipped: another process of the same sweep or reproduction removes the
    run directory of a job it found done (``Path.rglob`` raises FileNotFoundError there)."""
    found = []
    for folder, _, files in os.walk(results_dir):  # os.walk ignores a directory it can no longer list
        found += [Path(folder) / name for name in names if name in files]
    return sorted(found)


def iter_run_dirs(results_dir: Path) -> Iterator[Path]:
    """Every directory under ``results_dir`` that holds a run (``run.json`` or ``result.json``)."""
    yield from dict.fromkeys(path.parent for path in files_named(results_dir, (RUN_INFO_FILE, RECORD_FILE)))


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def iter_records(results_dir: Path) -> Iterator[dict]:
    """Every readable record under ``results_dir``, with ``run_dir`` set to where it was found."""
    for path in files_named(results_dir, (RECORD_FILE,)):
        record = read_json(path)
        if isinstance(record, dict) and "status" in record:
            record["run_dir"] = str(path.parent)
            yield record


def ok_records(results_dir: Path, config_hash: str) -> list[dict]:
    """Every ``ok`` record of ``config_hash`` under ``results_dir``."""
    return [r for r in iter_records(results_dir) if r.get("config_hash") == config_hash and r["status"] == Status.OK]


def find_ok_record(results_dir: Path, config_hash: str) -> dict | None:
    """The newest ``ok`` record of ``config_hash`` under ``results_dir``."""
    return max(ok_records(results_dir, config_hash), key=lambda r: r.get("finished_at") or "", default=None)


def is_unfinished(run_dir: Path) -> bool:
    """No record yet, or one that says the run was interrupted or failed."""
    record = read_json(run_dir / RECORD_FILE)
    return not (run_dir / RECORD_FILE).exists() or (record or {}).get("status") in RESUMABLE_STATUSES


def find_interrupted_run(results_dir: Path, config_hash: str, checkpoint_dir: str) -> Path | None:
    """The run directory of ``config_hash`` that did not finish and has the newest checkpoint in
    ``checkpoint_dir`` (what the next run of that config resumes, in that directory)."""
    candidates = []
    for run_dir in iter_run_dirs(results_dir):
        info = read_json(run_dir / RUN_INFO_FILE)
        if not (info and info.get("config_hash") == config_hash and is_unfinished(run_dir)):
            continue
        checkpoints = (
            [p for p in (run_dir / checkpoint_dir).glob("*.ckpt")] if (run_dir / checkpoint_dir).is_dir() else []
        )
        if checkpoints:
            candidates.append((max(p.stat().st_mtime for p in checkpoints), run_dir))
    return max(candidates, default=(0, None))[1]
