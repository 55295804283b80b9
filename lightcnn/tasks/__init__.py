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


def _tasks() -> dict[str, Task]:
    from lightcnn.tasks.download import download_task
    from lightcnn.tasks.im2col import im2col_task
    from lightcnn.tasks.latency import latency_task
    from lightcnn.tasks.listing import list_task
    from lightcnn.tasks.profile import profile_task
    from lightcnn.tasks.reuse import reuse_task
    from lightcnn.tasks.train import train_task

    return {
        "train": Task(train_task, resumes=True),
        "profile": Task(profile_task),
        "download": Task(download_task, writes_record=False),
        "list": Task(list_task, writes_record=False),
        "latency": Task(latency_task),
        "reuse": Task(reuse_task),
        "im2col": Task(im2col_task),
    }


def get_task(name: str) -> Task:
    from lightcnn.errors import ConfigValueError

    tasks = _tasks()
    if name not in tasks:
        raise ConfigValueError("task.name", name, "one of " + ", ".join(sorted(tasks)))
    return tasks[name]
