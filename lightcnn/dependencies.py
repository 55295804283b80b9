"""Runs that need another run's weights, pinned to that exact run.

``method.pretrained=auto`` (pruning a trained network) needs the *baseline*: the run's own
overrides with every ``method``/``task`` override and every optimiser and schedule key of the
trainer (``FINE_TUNING_KEYS``: in a pruning run they set the fine-tuning) removed, plus
``method=none task=train`` and the method's ``baseline_overrides``: same profile, data set,
model, seed and device settings. ``task.checkpoint=auto`` (the
analyses of a trained network) needs the run's overrides with ``task`` removed plus
``task=train``.

The needed run is resolved *before* the dependent run's config is hashed: the record names its
run id, config hash and the sha256 of its checkpoint, and that identity enters the dependent's
config hash, so a new baseline makes a new config (the dependent runs again, never skipped on an
old result). No finished baseline is a :class:`UserError` that names the command making it.

A reproduction fills a table rather than following the newest baseline: a row's run made from
*any* finished run of its baseline's configuration counts as done there
(:func:`made_from_a_finished_run`), so a machine that kept no checkpoint of a committed baseline
trains that baseline again only for the rows still to run, and never reruns those made before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from lightcnn.config import config_hash
from lightcnn.engine.checkpoint_io import CHECKPOINT_DIR, LAST
from lightcnn.errors import UserError
from lightcnn.record import Status
from lightcnn.record_io import ok_records

CHECKPOINT = Path(CHECKPOINT_DIR) / LAST
# trainer keys that describe a pruning run's fine-tuning, not the baseline it starts from
FINE_TUNING_KEYS = tuple(
    f"trainer.{key}"
    for key in ("max_epochs", "lr", "momentum", "nesterov", "weight_decay", "schedule", "milestones", "gamma",
                "warmup_epochs", "warmup_factor", "batch_size")
)  # fmt: skip


@dataclass(frozen=True)
class Need:
    """What a run needs: the config key that asked (``method.pretrained``), the overrides that
    make the needed run, and the run's own overrides (to name the command)."""

    key: str
    overrides: tuple[str, ...]


def _key(text: str) -> str:
    return text.split("=", 1)[0].lstrip("+~")


def _without(overrides: tuple[str, ...], keys: tuple[str, ...], prefixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(o for o in overrides if _key(o) not in keys and not _key(o).startswith(prefixes))


def need_of(cfg: DictConfig, overrides: tuple[str, ...]) -> Need | None:
    """The run that ``cfg`` (composed from ``overrides``) needs, or None."""
    method, task = cfg.method, cfg.task
    if task.name == "train" and method.get("pretrained") == "auto":
        extra = tuple(method.get("baseline_overrides") or ())
        base = _without(overrides, ("method", "task", *FINE_TUNING_KEYS), ("method.", "task."))
        return Need("method.pretrained", (*base, "method=none", "task=train", *extra))
    if task.get("checkpoint") == "auto":
        return Need("task.checkpoint", (*_without(overrides, ("task",), ("task.",)), "task=train"))
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shown(overrides: tuple[str, ...]) -> str:
    """Overrides as a shell command line (values with brackets or quotes kept in one word)."""
    return " ".join(f'"{o}"' if any(c in o for c in " []'()*+") else o for o in overrides)


def finished_runs(results_dir: Path, wanted: str) -> tuple[list[dict], dict | None]:
    """The ok runs of config ``wanted``, newest first, and the newest of them that kept its
    checkpoint (``profile=smoke`` keeps none unless asked), or None."""
    runs = sorted(ok_records(results_dir, wanted), key=lambda r: r.get("finished_at") or "", reverse=True)
    return runs, next((r for r in runs if (Path(r["run_dir"]) / CHECKPOINT).is_file()), None)


def resolve(need: Need, results_dir: Path) -> dict:
    """The finished run that ``need`` names: ``{key, run_id, config_hash, checkpoint, checkpoint_sha256}``."""
    from lightcnn.composition import compose_config

    composed = compose_config(need.overrides)
    wanted = config_hash(composed)
    runs, record = finished_runs(results_dir, wanted)
    if record is None and runs:
        again = (*_without(need.overrides, ("trainer.checkpoint", "skip_existing"), ()),
                 "trainer.checkpoint=true", "skip_existing=false")  # fmt: skip
        raise UserError(
            f"{need.key}=auto: the finished run of config {wanted} ({runs[0]['run_dir']}) kept no checkpoint "
            f"(trainer.checkpoint=false); run it again with one: lightcnn {shown(again)}"
        )
    if record is None:
        # a profile that keeps no checkpoint (smoke) is told to keep one: the first command is the one that works
        make = need.overrides if composed.trainer.checkpoint else (*need.overrides, "trainer.checkpoint=true")
        raise UserError(
            f"{need.key}=auto: no finished run of config {wanted} under {results_dir}; make it with: "
            f"lightcnn {shown(make)}  (or set {need.key}=null, or a checkpoint path)"
        )
    checkpoint = Path(record["run_dir"]) / CHECKPOINT
    return {
        "key": need.key,
        "run_id": record.get("run_id"),
        "config_hash": wanted,
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256_file(checkpoint),
    }


def made_from_a_finished_run(records: list[dict], dependent_hash: str, needed_hash: str) -> dict | None:
    """The newest ok record of the dependent configuration ``dependent_hash`` (its hash before its
    dependency is pinned) among ``records`` (a results directory's, read once) that was made from
    an ok run of ``needed_hash`` among them (any one, with or without its checkpoint now), or None."""
    ok = [record for record in records if record["status"] == Status.OK]
    baselines = {record.get("run_id") for record in ok if record.get("config_hash") == needed_hash}
    made = [
        record
        for record in ok
        if (record.get("depends_on") or {}).get("config_hash") == needed_hash
        and record["depends_on"].get("run_id") in baselines
        and config_hash(record.get("config") or {}) == dependent_hash
    ]
    return max(made, key=lambda record: record.get("finished_at") or "", default=None)
