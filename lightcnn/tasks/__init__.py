"""Tasks: what a run does (``task=train``, ``task=profile``, ``task=download``, …).

A task is a function ``(cfg: Config, ctx: RunContext) -> TaskResult``. Its ``fields`` go into
the run record; its ``report`` (a table, a summary) is printed before the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightcnn.config import Config
from lightcnn.registry import Registry


@dataclass
class RunContext:
    run_dir: Path
    data_dir: Path
    results_dir: Path
    config_hash: str
    is_main_process: bool = True
    config_container: dict = field(default_factory=dict)  # the resolved config, as the record holds it
    dependency: dict | None = None  # the run whose weights `auto` resolved to (lightcnn.dependencies)
    resume_from: Path | None = None  # the checkpoint this run continues from
    resume_notes: list[str] = field(default_factory=list)  # e.g. an unreadable checkpoint set aside
    run_id: str = ""  # the record's run id (a resumed run keeps its first one)


@dataclass
class TaskResult:
    fields: dict[str, Any] = field(default_factory=dict)
    report: str | None = None
    exit_code: int = 0  # 128 + signal for a run stopped by SIGINT/SIGTERM


@dataclass(frozen=True)
class Task:
    run: Callable[[Config, RunContext], TaskResult]
    writes_record: bool = True
    resumes: bool = False  # keeps checkpoints: an unfinished run of its config is continued


# a task's module is imported only when the task runs (``task=profile`` never imports Lightning)
TASKS: Registry[Callable[[Config, RunContext], TaskResult]] = Registry("task.name")
TASKS.add("train", "lightcnn.tasks.train:train_task", resumes=True)
TASKS.add("profile", "lightcnn.tasks.profile:profile_task")
TASKS.add("download", "lightcnn.tasks.download:download_task", writes_record=False)
TASKS.add("list", "lightcnn.tasks.listing:list_task", writes_record=False)
TASKS.add("latency", "lightcnn.tasks.latency:latency_task")
TASKS.add("reuse", "lightcnn.tasks.reuse:reuse_task")
TASKS.add("im2col", "lightcnn.tasks.im2col:im2col_task")


def get_task(name: str) -> Task:
    entry = TASKS.get(name)
    return Task(entry.load(), **entry.info)
