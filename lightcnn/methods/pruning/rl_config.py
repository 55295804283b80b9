"""The RL search's configuration (``method=prune_rl``, :mod:`lightcnn.methods.pruning.rl`)."""

from __future__ import annotations

from dataclasses import dataclass

from lightcnn.config import require, require_choice
from lightcnn.methods.pretrained import PretrainedMethodConfig

SELECTIONS = ("controller", "l1")
SEARCHES = ("rl", "random")
RECOGNISERS = ("auto", "stacked", "sequential")


@dataclass
class PruneRLConfig(PretrainedMethodConfig):
    name: str = "prune_rl"
    actors: int = 4  # vectorised environments, one recogniser copy each
    episodes_per_actor: int = 2  # the report: episodes until twice the number of actors
    selection: str = "controller"  # controller: the action picks which index groups go | l1: how many least-L1 groups
    groups: int = 8  # filter groups per conv (controller: 2^groups - 1 actions, groups <= 10)
    retrain_batches: int = 20  # SGD steps of the recogniser after each action
    retrain_lr: float = 0.01  # SGD lr of those steps
    eval_batches: int | None = None  # validation batches behind the accuracy (null: the whole split, the report's)
    batch_size: int = 128  # images per retraining and evaluation batch
    reward_reduction: float = 1.0  # reward per unit of reduction (share of params masked)
    target_reduction: float | None = None  # stop masking at this share of params; the most accurate run that got there
    reward_accuracy: float = 10.0  # accuracy as a fraction: a 1-point drop costs 0.1
    gamma: float = 0.99  # discount of the return
    n_step: int = 5  # steps of the n-step return (R2D2)
    hidden: int = 128  # LSTM units of the controller
    learning_rate: float = 1e-3  # Adam lr of the controller's learner
    replay_capacity: int = 1000  # sequences
    replay_batch: int = 16  # sequences per learner step
    updates_per_episode: int = 8  # learner steps after each round of episodes
    target_period: int = 20  # learner steps between target-network copies (and one at the end of every round)
    epsilon_floor: float = 0.1  # the least exploring actor's ε (the first's is 0.4; geometric between)
    search: str = "rl"  # rl: the controller acts | random: every action uniformly random (the control)
    device: str = "auto"  # where the search runs: auto (cuda if available) | cpu | cuda
    skip_convs: bool = False  # identity-initialised 1x1 conv + BN on every identity shortcut, searched with the rest
    skip_conv_batches: int = 200  # SGD steps of the whole recogniser after adding them, before the search
    recognisers: str = "auto"  # stacked (torch.func.vmap) | sequential | auto: stacked on a GPU, sequential on the CPU

    def __post_init__(self) -> None:
        for key in ("actors", "episodes_per_actor", "retrain_batches", "batch_size", "n_step",
                    "hidden", "replay_capacity", "replay_batch", "updates_per_episode", "target_period"):  # fmt: skip
            require(getattr(self, key) >= 1, key, getattr(self, key), "an integer >= 1")
        require(self.eval_batches is None or self.eval_batches >= 1, "eval_batches", self.eval_batches,
                "null (the whole validation split) or an integer >= 1")  # fmt: skip
        require_choice("recognisers", self.recognisers, RECOGNISERS)
        require_choice("selection", self.selection, SELECTIONS)
        require_choice("search", self.search, SEARCHES)
        require(0 < self.epsilon_floor <= 0.4, "epsilon_floor", self.epsilon_floor, "an exploration rate in (0, 0.4]")
        require(self.groups >= 2, "groups", self.groups, "an integer >= 2")
        if self.selection == "controller":
            require(
                self.groups <= 10, "groups", self.groups, "at most 10 with selection=controller (2^groups - 1 actions)"
            )
        require(0 < self.gamma <= 1, "gamma", self.gamma, "a discount in (0, 1]")
        require(self.retrain_lr > 0, "retrain_lr", self.retrain_lr, "a learning rate > 0")
        require(self.learning_rate > 0, "learning_rate", self.learning_rate, "a learning rate > 0")
        require(self.device in ("auto", "cpu", "cuda"), "device", self.device, "auto, cpu or cuda")
        require(self.skip_conv_batches >= 0, "skip_conv_batches", self.skip_conv_batches, "an integer >= 0")
        require(self.target_reduction is None or 0 < self.target_reduction < 1, "target_reduction",
                self.target_reduction, "null or a share of the parameters in (0, 1)")  # fmt: skip

    @property
    def actions(self) -> int:
        """Size of the controller's action space."""
        return 2**self.groups - 1 if self.selection == "controller" else self.groups
