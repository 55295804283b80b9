"""What every task shares: its config base, the context a run gives it, what it returns, and the
task registry (``@register_task(name, config=...)`` on the task function, like models and methods).

A task is a function ``(cfg: Config, ctx: RunContext) -> TaskResult``; its config dataclass sits
beside it in its module and is stored in Hydra's ConfigStore as ``schema/task/<name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore

from lightcnn.config import Config, TaskConfig
from lightcnn.registry import Entry, Registry


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
    # called by the main process with the record once result.json is written (loggers file it as an artifact)
    on_record: Callable[[dict], None] | None = None


TaskFunction = Callable[[Config, RunContext], TaskResult]


@dataclass(frozen=True)
class Task:
    run: TaskFunction
    writes_record: bool = True
    resumes: bool = False  # keeps checkpoints: an unfinished run of its config is continued
    smoke: tuple[str, ...] = ()  # overrides that keep a profile=smoke run of the task small


def _store_schema(entry: Entry) -> None:
    ConfigStore.instance().store(group="schema/task", name=entry.name, node=entry.config)


TASKS: Registry[TaskFunction] = Registry("task.name", on_add=_store_schema)


def register_task(
    name: str,
    config: type[TaskConfig],
    writes_record: bool = True,
    resumes: bool = False,
    smoke: tuple[str, ...] = (),
) -> Callable[[TaskFunction], TaskFunction]:
    """``@register_task(name, config=...)`` on a task function; ``writes_record=False`` for tasks
    that only print (``list``, ``download``), ``resumes=True`` for tasks that checkpoint,
    ``smoke``: the overrides that keep a ``profile=smoke`` run of it small (reproduce adds them)."""
    return TASKS.register(name, config=config, writes_record=writes_record, resumes=resumes, smoke=tuple(smoke))


def get_task(name: str) -> Task:
    entry = TASKS.get(name)
    return Task(entry.load(), **entry.info)
