"""The run record: ``result.json`` in the run's output directory (see docs/design.md).

Written once, atomically (temporary file in the same directory, then rename), never edited.
``run.json`` is written when a run starts; a run directory with ``run.json``, a checkpoint and
no ``result.json`` is an interrupted run that a later run of the same config resumes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum
from typing import Any, TypedDict, get_type_hints

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
    cpu_threads: int  # a training on the CPU: its threads (fewer than the cores beside another job)
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
