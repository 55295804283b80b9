"""RL compression (the report's method 2): an R2D2 controller sets binary masks on the filters
of a recogniser, which retrains with them; the best masks found are then cut out for real and
the run's training fine-tunes the result.

One episode walks the prunable convs in order (:func:`prunable_convs`, read from the model's
graph: every conv but the depthwise ones, which follow the conv that feeds them). At conv ``t``
the controller sees the recogniser's validation accuracy, the reduction rate (share of
parameters the masks remove, counted as the physically pruned network would have them,
:func:`params_after`), the position ``t / L`` and the binary masks of all convs in filter groups.

**The action chooses the filters** (``method.selection=controller``, the default, as the report
claims: no heuristic criterion decides what goes). A conv's filters are split by index into
``G = min(method.groups, filters)`` contiguous groups (filters ``0 … n/G−1`` are group 0, and so
on: fixed by position, never ordered by a score). The action ``a ∈ {0, …, 2^groups − 2}`` is a
bit mask: bit ``j`` set zeroes group ``j`` (bits beyond the conv's ``G`` groups do nothing; an
action that would zero all ``G`` groups keeps the last one, so a conv never loses every filter).
``2^groups − 1`` actions: ``groups`` is at most 10. No importance score is computed on this path.
The ablation ``method.selection=l1`` keeps the earlier reading: groups ordered by the L1 norm of
their filters (:func:`~lightcnn.methods.pruning.importance.l1_norm`), and the action ``a < groups``
zeroes the ``a`` least important of them (``groups`` actions).

The masks act after the conv's BN (after the conv where no BN of its own follows it: a zero-out
layer after each layer); the recogniser then retrains ``method.retrain_batches`` SGD steps and
is evaluated on the whole validation split (``method.eval_batches=null``, the report's protocol;
a number evaluates that many batches, the fast mode). Reward:
``reward_reduction · Δreduction + reward_accuracy · Δaccuracy``. The best episode (highest
return) is the one cut out. ``method.target_reduction=r`` steers the search to an operating point
(the report's Table 1 compares at given reductions): an actor whose reduction has reached ``r``
zeroes nothing more for the rest of its episode (the forced action 0 is what the replay sees),
and the chosen episode is the most accurate one that reached ``r`` (the highest return if none did).

Several actors (ε_i = 0.4^(1+7i/(N−1))) play their episodes side by side as vectorised
environments, each with its own copy of the recogniser; after each round the learner takes
``updates_per_episode`` steps on prioritised whole-episode sequences. The report runs episodes
until they number twice the actors (``episodes_per_actor=2``), holds out 5% of the training set
(``dataset.val_fraction=0.05``) and fine-tunes 50 epochs at the end (``trainer.max_epochs=50``).
Where the recogniser has residual connections, the report adds convs to the skip connections
and fine-tunes before the search: ``method.skip_convs=true`` puts a 1×1 conv + BN on every
identity shortcut of the loaded baseline (initialised to the identity, so the baseline's function
is unchanged at insertion), trains the whole recogniser ``method.skip_conv_batches`` SGD steps,
and searches the inserted convs with the rest; ``rl_chosen.reduction`` is then counted against
that network (``rl_params_searched``). Without them, the convs that write into the residual stream
compute only their kept filters (:class:`~lightcnn.methods.pruning.surgery.ScatterChannels`), so
every conv can be masked without changing the architecture.

The search's state is saved after each round in the run's checkpoint directory
(:class:`SearchProgress`): an interrupted run, run again, continues from the last whole round.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lightcnn.config import option, require, require_choice
from lightcnn.errors import ConfigValueError, UserError
from lightcnn.methods.pretrained import PretrainedFields, PretrainedMethodConfig, load_pretrained
from lightcnn.methods.pruning.rl_env import PruningEnvs, search_data, sgd_steps
from lightcnn.methods.pruning.rl_progress import SEARCH_PROGRESS, SearchProgress
from lightcnn.methods.pruning.rl_search import run_search
from lightcnn.methods.pruning.surgery import prunable_convs, remove_filters
from lightcnn.methods.registry import MethodContext, register_method
from lightcnn.models.resnet import add_skip_convs

SELECTIONS = ("controller", "l1")
SEARCHES = ("rl", "random")
RECOGNISERS = ("auto", "stacked", "sequential")


@dataclass
class PruneRLConfig(PretrainedMethodConfig):
    name: str = "prune_rl"
    actors: int = option(4, "vectorised environments, one recogniser copy each")
    episodes_per_actor: int = option(2, "the report: episodes until twice the number of actors")
    selection: str = option(
        "controller", "controller: the action picks which index groups go | l1: how many least-L1 groups"
    )
    groups: int = option(8, "filter groups per conv (controller: 2^groups - 1 actions, groups <= 10)")
    retrain_batches: int = option(20, "SGD steps of the recogniser after each action")
    retrain_lr: float = option(0.01, "SGD lr of those steps")
    eval_batches: int | None = option(
        None, "validation batches behind the accuracy (null: the whole split, the report's)"
    )
    batch_size: int = option(128, "images per retraining and evaluation batch")
    reward_reduction: float = option(1.0, "reward per unit of reduction (share of params masked)")
    target_reduction: float | None = option(
        None, "stop masking at this share of params; the most accurate run that got there"
    )
    reward_accuracy: float = option(10.0, "accuracy as a fraction: a 1-point drop costs 0.1")
    gamma: float = option(0.99, "discount of the return")
    n_step: int = option(5, "steps of the n-step return (R2D2)")
    hidden: int = option(128, "LSTM units of the controller")
    learning_rate: float = option(1e-3, "Adam lr of the controller's learner")
    replay_capacity: int = option(1000, "sequences")
    replay_batch: int = option(16, "sequences per learner step")
    updates_per_episode: int = option(8, "learner steps after each round of episodes")
    target_period: int = option(20, "learner steps between target-network copies (and one at the end of every round)")
    epsilon_floor: float = option(0.1, "the least exploring actor's ε (the first's is 0.4; geometric between)")
    search: str = option("rl", "rl: the controller acts | random: every action uniformly random (the control)")
    device: str = option("auto", "where the search runs: auto (cuda if available) | cpu | cuda")
    skip_convs: bool = option(
        False, "identity-initialised 1x1 conv + BN on every identity shortcut, searched with the rest"
    )
    skip_conv_batches: int = option(200, "SGD steps of the whole recogniser after adding them, before the search")
    recognisers: str = option(
        "auto", "stacked (torch.func.vmap) | sequential | auto: stacked on a GPU, sequential on the CPU"
    )

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


def insert_skip_convs(model: nn.Module) -> int:
    """The report's 1×1 convs on the identity shortcuts (:func:`~lightcnn.models.resnet.add_skip_convs`)."""
    added = add_skip_convs(model)
    if added == 0:
        raise ConfigValueError("skip_convs", True, "false for a model without identity shortcuts (this one has none)")
    return added


class PruneRLFields(PretrainedFields, total=False):
    kept_filters: dict  # per conv, the filters kept
    rl_base_accuracy: float  # the unpruned recogniser's validation accuracy
    rl_chosen: dict  # the episode step whose masks were cut
    rl_episodes: list  # per episode: round, actor, ε, reduction, accuracy, return and the action at each conv
    rl_steps: list  # every step of every episode: Fig. 2's points (and the unmasked reference's accuracy)
    rl_rounds: list  # per round: mean and best return, share of new actions, target syncs and copies evaluated
    rl_note: str
    rl_skip_convs: int  # 1x1 convs put on identity shortcuts before the search (method.skip_convs)
    rl_params_searched: int  # parameters of the network the search started from (rl_chosen.reduction's base)
    rl_rounds_resumed: int  # search rounds taken from the progress an interrupted attempt of the run saved


# profile=smoke: two actors, one round, one batch of 4 images per step, two steps of the skip convs'
# fine-tune, one epoch of fine-tuning whatever the row's schedule (a ResNet-34 search: about half a minute)
SMOKE = ("method.actors=2", "method.episodes_per_actor=1", "method.retrain_batches=1", "method.eval_batches=1",
         "method.batch_size=4", "method.replay_batch=2", "method.updates_per_episode=1", "method.skip_conv_batches=2",
         "trainer.max_epochs=1")  # fmt: skip


def add_trained_skip_convs(model: nn.Module, cfg: PruneRLConfig, data: dict, seed: int) -> int:
    """The report's skip convs put in (:func:`insert_skip_convs`), then the whole recogniser trained
    ``method.skip_conv_batches`` SGD steps before the search; the number of convs added."""
    added = insert_skip_convs(model)
    generator = torch.Generator(device=data["device"]).manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.retrain_lr, momentum=0.9, weight_decay=5e-4)
    sgd_steps(model, optimizer, data, cfg.skip_conv_batches, cfg.batch_size, generator)
    return added


@register_method(
    "prune_rl", config=PruneRLConfig, record_fields=PruneRLFields, smoke=SMOKE, before_training="the RL search"
)
def prune_rl(model: nn.Module, cfg: PruneRLConfig, context: MethodContext) -> nn.Module:
    if context.input_shape is None:
        raise UserError("method=prune_rl reads the model's graph from one forward pass: it needs the input shape")
    units = prunable_convs(model, context.input_shape)  # a model with nothing to prune is refused here
    if context.datamodule is None:  # task=profile: which filters go is the search's result
        if cfg.skip_convs:  # the counts are those of the network the search starts from
            context.fields["rl_skip_convs"] = insert_skip_convs(model)
        context.fields["rl_note"] = "no search without data: counts of the network before pruning"
        context.fields["counts_final"] = False  # tables must not read these counts as the pruned network's
        return model
    if context.processes > 1:  # each rank would search on its own and may cut other filters
        raise UserError(
            f"method=prune_rl searches in one process, not {context.processes} DDP processes: run it with "
            "trainer=default"
        )
    load_pretrained(model, cfg.pretrained, context)
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigValueError("device", cfg.device, "auto or cpu: no CUDA device here")
    device = torch.device("cuda" if cfg.device != "cpu" and torch.cuda.is_available() else "cpu")
    seed = int(torch.initial_seed()) % 2**31
    data = search_data(context, cfg, device)
    model.to(device)
    if cfg.skip_convs:
        context.fields["rl_skip_convs"] = add_trained_skip_convs(model, cfg, data, seed)
        units = prunable_convs(model, context.input_shape)  # the inserted convs are searched with the rest
    context.fields["rl_params_searched"] = sum(p.numel() for p in model.parameters())
    envs = PruningEnvs(model, units, data, cfg, seed)
    progress = SearchProgress(context.checkpoint_dir / SEARCH_PROGRESS if context.checkpoint_dir else None)
    best, episodes, steps, rounds = run_search(envs, cfg, seed, progress)
    context.fields["rl_rounds_resumed"] = progress.rounds_taken
    model.load_state_dict(best["weights"])
    for unit, keep in zip(units, best["kept"], strict=True):
        remove_filters(model, unit, keep)
    context.fields.update(
        rl_base_accuracy=envs.base_accuracy,
        rl_chosen={key: best[key] for key in ("episode", "actor", "reduction", "accuracy", "return")},
        rl_episodes=episodes,
        rl_steps=steps,
        rl_rounds=rounds,
        kept_filters={u.conv: len(k) for u, k in zip(units, best["kept"], strict=True)},
    )
    return model.cpu()
