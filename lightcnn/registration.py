"""Registration: the one place that fills Hydra's ConfigStore, called before any config is composed
(by the command line and :func:`lightcnn.composition.compose_config`).

Importing :mod:`lightcnn.models`, :mod:`lightcnn.methods` and :mod:`lightcnn.tasks` runs their
``register_*`` decorators (each stores its entries' schemas); the root, data set, trainer and logger
schemas are stored here.
"""

from __future__ import annotations

import uuid

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from lightcnn.config import Config, DatasetConfig, LoggerConfig, SyntheticDatasetConfig, TrainerConfig


def register_configs() -> None:
    """Store the schemas in Hydra's ConfigStore (models, methods and tasks register their own)."""
    import lightcnn.methods  # noqa: F401  (registers method schemas)
    import lightcnn.models  # noqa: F401  (registers model schemas)
    import lightcnn.tasks  # noqa: F401  (registers task schemas)

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
