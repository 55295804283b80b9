"""``task=train``: data → model → method → Lightning fit/test → profile → record fields.

The schema lives here; the training itself is :mod:`lightcnn.tasks.training`, imported when a
training runs, so composing a config or listing options never imports Lightning.
"""

from __future__ import annotations

from dataclasses import dataclass

from lightcnn.config import Config
from lightcnn.tasks.base import RunContext, TaskConfig, TaskResult, register_task


@dataclass
class TrainTaskConfig(TaskConfig):
    """Train, test and profile the model; writes result.json."""

    name: str = "train"


@register_task("train", config=TrainTaskConfig, resumes=True)
def train_task(cfg: Config, ctx: RunContext) -> TaskResult:
    from lightcnn.tasks.training import fit_and_test  # Lightning: imported only when a training runs

    return fit_and_test(cfg, ctx)
