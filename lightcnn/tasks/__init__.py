"""Tasks: what a run does (``task=train``, ``task=profile``, ``task=download``, …).

A task is a function ``(cfg: Config, ctx: RunContext) -> TaskResult`` registered with its config
dataclass beside it (:mod:`lightcnn.tasks.base`); importing this package registers them all. Its
``fields`` go into the run record; its ``report`` (a table, a summary) is printed before the record.
``task=train`` imports Lightning only when it runs (:mod:`lightcnn.tasks.training`).
"""

from lightcnn.tasks import download, im2col, latency, listing, profile, reuse, train  # noqa: F401  (registers)
from lightcnn.tasks.base import TASKS, RunContext, Task, TaskConfig, TaskResult, get_task, register_task

__all__ = ["TASKS", "RunContext", "Task", "TaskConfig", "TaskResult", "get_task", "register_task"]
