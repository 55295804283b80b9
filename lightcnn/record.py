"""The run record: ``result.json`` in the run's output directory (see docs/design.md).

Written once, atomically (temporary file in the same directory, then rename), never edited.
``run.json`` is written when a run starts; a run directory with ``run.json``, a checkpoint and
no ``result.json`` is an interrupted run that a later run of the same config resumes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict, get_type_hints

import torch

import lightcnn

RECORD_FILE = "result.json"
RUN_INFO_FILE = "run.json"


try:
    from enum import StrEnum
except ImportError:  # Python 3.10

    class StrEnum(str, Enum):  # noqa: UP042  (what enum.StrEnum is from 3.11 on)
        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


class Status(StrEnum):
    """A record's ``status`` (written as its string value)."""

    OK = "ok"  # the run did what its record says
    FAILED = "failed"  # an error: ``error`` says which
    DIVERGED = "diverged"  # non-finite loss or weights: its accuracies are not results
    INTERRUPTED = "interrupted"  # SIGINT/SIGTERM: the next run of its config resumes it
    BLOCKED = "blocked"  # never started: a run it needs did not finish ok (reproduce)


# a record of one of these says the run did not finish: the next run of its config resumes it
RESUMABLE_STATUSES = (Status.INTERRUPTED, Status.FAILED)


class RunRecord(TypedDict, total=False):
    """The fields every ``result.json`` may hold, with their types (docs/design.md); a method adds
    its own, declared with it (:func:`record_fields` is the whole schema).

    Written by the runner (identity, environment), by the task (measurements) and by the method
    (what it did); a field that does not apply is absent. Counts are integers, accuracies percent.
    :func:`record_problems` checks a record against it (the tests check every record they make).
    """

    # identity (runner)
    run_id: str  # yyyymmdd-hhmmss-<8 hex>; a resumed run keeps its first one
    status: str  # a Status value
    error: str  # why a run is not ok
    task: str
    model: str
    method: str
    dataset: str
    profile: str
    seed: int
    config: dict  # the resolved config
    config_hash: str  # of the config without runtime keys (and with the pinned dependency)
    depends_on: dict  # the run whose weights method.pretrained=auto / task.checkpoint=auto pinned
    started_at: str  # ISO 8601, UTC
    finished_at: str
    # environment (runner)
    device: str  # "cpu (<model>, <n> cores, <bf16 hardware>)" or the GPU's name
    versions: dict  # torch, cuda, lightning, lightcnn, python
    git_commit: str | None  # "+dirty" when the checkout was modified
    data_source: str  # how the data set was prepared (added by lightcnn.results.export)
    # size of the model after its method (fvcore; engine.profiling)
    params: int
    trainable_params: int
    flops: int  # fvcore's total: one multiply-accumulate per FLOP, BN and linear included
    flops_conv: int  # convolutions only: the papers' FLOPs
    flops_by_operator: dict
    flops_skipped_ops: dict  # operators fvcore does not count, with how often they occur
    first_layer_params: int
    first_layer_trainable_params: int
    internal_variables: int  # activations stored between units (models built from units)
    params_folded: int  # after folding BN into the convolutions (inference form)
    flops_folded: int
    flops_conv_folded: int
    counts_final: bool  # false: the counts are of the network before the method could act
    params_before: int  # a run with a method: the model's parameters as built, before the method
    flops_before: int  # and its conv + linear MACs (flops_conv's convention)
    # training (task=train)
    precision: str  # what trainer.precision=auto resolved to
    resumed_from: str | None  # the checkpoint this run continued from
    resume_notes: list  # e.g. an unreadable checkpoint set aside
    epochs: int
    train_time_s: float
    images_per_s: float | None  # images over training-epoch seconds, every attempt of a resumed run
    images_per_s_last_attempt: float | None  # a resumed run: its last attempt's alone
    test_acc: float | None  # top-1, percent
    test_acc5: float | None
    test_loss: float | None
    test_acc_at_best_val: float | None  # with a validation split and trainer.checkpoint=true (else null)
    test_acc5_at_best_val: float | None
    best_val_acc: float | None
    final_val_acc: float | None
    peak_mem_mb: float
    history: list  # one entry per stage and epoch: {"stage", "epoch", metrics...}
    # analyses of a trained network (task=reuse, task=im2col)
    checkpoint: str | None  # the weights analysed
    reuse: dict  # per precision: the census means
    reuse_images: list  # indices of the test images used
    im2col: dict  # per convolution: bytes, ranks, errors, MACs
    im2col_images: int
    # latency (task=latency)
    latency: dict  # per device and batch size: median_ms, iqr_ms, repeats
    latency_devices: dict  # per device: its name
    latency_threads: int
    latency_folded: bool
    # a method's own fields are declared on its registry entry (record_fields=, see record_fields())


# the fields methods declare on their registry entries (register_method(..., record_fields=...)): owner → TypedDict
_DECLARED: dict[str, type] = {}


def declare_record_fields(owner: str, fields: type) -> None:
    """Add ``fields`` (a ``TypedDict``) to the record schema on behalf of ``owner`` (a method);
    a field declared twice must keep its type."""
    known = record_fields()
    for key, hint in get_type_hints(fields).items():
        if key in known and known[key] != hint:
            raise ValueError(f"{owner} declares record field {key!r} as {hint}, already {known[key]}")
    _DECLARED[owner] = fields


def forget_record_fields(owner: str) -> None:
    """Take ``owner``'s declared fields out of the schema again (a registry entry removed)."""
    _DECLARED.pop(owner, None)


def record_fields() -> dict[str, Any]:
    """Every field a record may hold and its type: :class:`RunRecord`'s and those the registered
    methods declare."""
    fields = get_type_hints(RunRecord)
    for declared in _DECLARED.values():
        fields.update(get_type_hints(declared))
    return fields


def _type_ok(value: Any, hint: Any) -> bool:
    if value is None:
        return hint is type(None) or type(None) in getattr(hint, "__args__", ())
    allowed = getattr(hint, "__args__", (hint,))
    if bool in allowed or not isinstance(value, bool):
        return isinstance(
            value, tuple(t for t in allowed if isinstance(t, type)) + ((int,) if float in allowed else ())
        )
    return False


def record_problems(record: dict) -> list[str]:
    """What in ``record`` the :class:`RunRecord` schema does not allow (``[]``: none): unknown
    fields, values of the wrong type, a status that is not a :class:`Status`."""
    hints = record_fields()
    problems = [f"{key}: not a record field" for key in record if key not in hints and key != "run_dir"]
    problems += [
        f"{key}: {type(value).__name__} where {hints[key]} is expected"
        for key, value in record.items()
        if key in hints and not _type_ok(value, hints[key])
    ]
    if record.get("status") not in {s.value for s in Status}:
        problems.append(f"status: {record.get('status')!r} is not one of {', '.join(s.value for s in Status)}")
    return problems


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def new_run_id() -> str:
    """Unique per run, even for jobs started in the same second on one machine."""
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:8]


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


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the lightcnn checkout this code runs from (``+dirty`` when modified)."""
    root = Path(lightcnn.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def device_name(device: torch.device | str | None = None) -> str:
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({cpu_model()}, {os.cpu_count()} cores, {cpu_matrix_isa()})"


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].replace("(R)", "").replace("(TM)", "").split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_matrix_isa() -> str:
    """What decides the CPU's bf16 speed (``trainer.precision=auto``): AMX, AVX-512 BF16 or neither."""
    if torch.cpu._is_amx_tile_supported():
        return "AMX"
    if torch.cpu._is_avx512_bf16_supported():
        return "AVX-512 BF16"
    return "no bf16 hardware"


def environment(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Where and with what a record was made. ``device`` is the CPU unless the task says
    otherwise: counting, im2col and reuse run on the CPU even where a GPU is present (a training
    names the device it trained on itself)."""
    from importlib.metadata import version  # not an import of Lightning (seconds) for a counting task

    return {
        "device": device_name(device),
        "versions": {
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "lightning": version("pytorch-lightning"),
            "lightcnn": lightcnn.__version__,
            "python": platform.python_version(),
        },
        "git_commit": git_commit(),
    }


def iter_run_dirs(results_dir: Path) -> Iterator[Path]:
    """Every directory under ``results_dir`` that holds a run (``run.json`` or ``result.json``)."""
    if not results_dir.is_dir():
        return
    seen = set()
    for name in (RUN_INFO_FILE, RECORD_FILE):
        for path in results_dir.rglob(name):
            if path.parent not in seen:
                seen.add(path.parent)
                yield path.parent


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def iter_records(results_dir: Path) -> Iterator[dict]:
    """Every readable record under ``results_dir``, with ``run_dir`` set to where it was found."""
    if not results_dir.is_dir():
        return
    for path in sorted(results_dir.rglob(RECORD_FILE)):
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
