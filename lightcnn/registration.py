"""Registration: the one place that fills Hydra's ConfigStore, called before any config is composed
(by the command line and :func:`lightcnn.composition.compose_config`).

Importing :mod:`lightcnn.models` and :mod:`lightcnn.methods` runs their ``register_*`` decorators;
the root, data set, trainer and task schemas are stored here.
"""

from __future__ import annotations

import uuid

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from lightcnn.config import (
    Config,
    DatasetConfig,
    DownloadTaskConfig,
    Im2colTaskConfig,
    LatencyTaskConfig,
    ListTaskConfig,
    LoggerConfig,
    ProfileTaskConfig,
    ReuseTaskConfig,
    SyntheticDatasetConfig,
    TrainerConfig,
    TrainTaskConfig,
)


def register_configs() -> None:
    """Store the schemas in Hydra's ConfigStore (models and methods register their own)."""
    import lightcnn.methods  # noqa: F401  (registers method schemas)
    import lightcnn.models  # noqa: F401  (registers model schemas)

    if not OmegaConf.has_resolver("run_tag"):
        # a random tag, resolved once per run (Hydra copies the cache to sweep jobs), that keeps
        # run directories of runs started in the same second apart
        OmegaConf.register_new_resolver("run_tag", lambda: uuid.uuid4().hex[:6], use_cache=True)
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    cs.store(group="schema/dataset", name="base", node=DatasetConfig)
    cs.store(group="schema/dataset", name="synthetic", node=SyntheticDatasetConfig)
    cs.store(group="schema/trainer", name="base", node=TrainerConfig)
    cs.store(group="schema/logger", name="base", node=LoggerConfig)
    cs.store(group="schema/task", name="train", node=TrainTaskConfig)
    cs.store(group="schema/task", name="profile", node=ProfileTaskConfig)
    cs.store(group="schema/task", name="download", node=DownloadTaskConfig)
    cs.store(group="schema/task", name="latency", node=LatencyTaskConfig)
    cs.store(group="schema/task", name="list", node=ListTaskConfig)
    cs.store(group="schema/task", name="reuse", node=ReuseTaskConfig)
    cs.store(group="schema/task", name="im2col", node=Im2colTaskConfig)
