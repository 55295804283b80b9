"""``hydra/sweeper=front``: Hydra finds sweepers in the ``hydra_plugins`` namespace only, so this
module holds the plugin class and its config schema; it imports nothing heavy (Hydra scans it at
every start), and the search itself is :func:`lightcnn.search.study.run_search`."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper


@dataclass
class FrontSweeperConf:
    """A search: its space, objectives, sampler and budget (docs/search.md)."""

    _target_: str = "hydra_plugins.lightcnn_search.front_sweeper.FrontSweeper"
    name: str = "search"  # the study's name and folder: <results_dir>/searches/<name>/
    space: dict[str, Any] = field(default_factory=dict)  # config key → {low, high, log, step, int} or {choices}
    objectives: dict[str, str] = field(default_factory=dict)  # numeric record field → maximize | minimize
    sampler: str = "nsga2"  # nsga2 (NSGA-II) | tpe (multi-objective TPE)
    seed: int = 0  # the sampler's seed
    trials: int = 20  # finished trials (complete or failed) the search runs to
    parallel: int = 1  # trials launched at once (through the configured launcher)
    # settings a paper picked by hand, [{label, settings: {key: value}}]: measured first, as trials beside
    # the `trials` searched ones, and judged on or behind the front on the page
    hand_picked: list[Any] = field(default_factory=list)


ConfigStore.instance().store(group="hydra/sweeper", name="front", node=FrontSweeperConf, provider="lightcnn")


class FrontSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:  # the fields of FrontSweeperConf
        self.settings = settings
        self.hydra_context = self.config = self.launcher = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from lightcnn.search.study import run_search

        return run_search(self, arguments)
