"""Registration: the one place that fills Hydra's ConfigStore, called before any config is composed
(by the command line and :func:`lightcnn.composition.compose_config`).

Importing :mod:`lightcnn.models`, :mod:`lightcnn.methods` and :mod:`lightcnn.tasks` runs their
``register_*`` decorators (each stores its entries' schemas); the root, data set, trainer and logger
schemas are stored here.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from lightcnn.config import Config, DatasetConfig, LoggerConfig, SyntheticDatasetConfig, TrainerConfig

# inside the package, so an installed wheel finds them (the repository links conf/ and experiments/ here)
CONF_DIR = Path(__file__).resolve().parent / "conf"


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
    store_options_without_yaml(cs)


def registries() -> dict:
    """``{config group: registry}`` of the groups whose options are registry entries."""
    from lightcnn.methods.registry import METHODS
    from lightcnn.models.registry import MODELS
    from lightcnn.tasks.base import TASKS

    return {"model": MODELS, "method": METHODS, "task": TASKS}


def store_options_without_yaml(cs: ConfigStore) -> None:
    """An entry registered without a ``conf/<group>/<name>.yaml`` is still an option of its group,
    at its config's defaults (``model=<name>`` works from its module alone); a YAML file, where one
    exists, is the option (its comments and defaults are what users read)."""
    for group, registry in registries().items():
        for entry in registry:
            if entry.config is not None and not (CONF_DIR / group / f"{entry.name}.yaml").is_file():
                cs.store(group=group, name=entry.name, node=entry.config)
