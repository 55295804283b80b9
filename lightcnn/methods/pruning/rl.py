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

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from lightcnn.config import require, require_choice
from lightcnn.engine.checkpoint_io import CorruptCheckpoint, load_checkpoint, save_state_atomic
from lightcnn.errors import ConfigValueError, UserError
from lightcnn.methods.pretrained import PretrainedFields, PretrainedMethodConfig, load_pretrained
from lightcnn.methods.pruning.importance import l1_norm
from lightcnn.methods.pruning.r2d2 import R2D2Learner, RecurrentQNet, Sequence, SequenceReplay, actor_epsilons
from lightcnn.methods.pruning.recognisers import BatchedRecognisers, SequentialRecognisers, module_steps
from lightcnn.methods.pruning.surgery import PrunableConv, params_after, prunable_convs, remove_filters
from lightcnn.methods.registry import MethodContext, register_method
from lightcnn.models.resnet import add_skip_convs

log = logging.getLogger(__name__)


SELECTIONS = ("controller", "l1")
SEARCHES = ("rl", "random")
SEARCH_PROGRESS = "rl_search.ckpt"  # in the run's checkpoint directory: a run with one is unfinished, resumable
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


def filter_groups(scores: torch.Tensor, groups: int) -> list[torch.Tensor]:
    """A conv's filters by ascending importance ``scores``, in ``min(groups, filters)`` near-equal groups."""
    order = torch.argsort(scores, stable=True)
    return list(torch.tensor_split(order, min(groups, len(order))))


def index_groups(filters: int, groups: int) -> list[torch.Tensor]:
    """A conv's filters by index, in ``min(groups, filters)`` contiguous near-equal groups."""
    return list(torch.tensor_split(torch.arange(filters), min(groups, filters)))


def zeroed_groups(action: int, groups: int, selection: str) -> list[int]:
    """The groups (indices into the conv's groups) that ``action`` zeroes; never all of them.

    ``controller``: bit ``j`` of ``action`` zeroes group ``j`` (bits ``>= groups`` do nothing; all
    groups set keeps the last). ``l1``: the first ``action`` groups (the least important)."""
    if selection == "l1":
        return list(range(min(action, groups - 1)))
    chosen = [j for j in range(groups) if action >> j & 1]
    return chosen[:-1] if len(chosen) == groups else chosen


class PruningEnvs:
    """``N`` recognisers with zero-out masks after each prunable conv's BN, stepped together:
    ``reset() → (N, D)`` observations, ``step(actions) → (observations, rewards)``. The recognisers
    are a bank (:mod:`~lightcnn.methods.pruning.recognisers`): one stacked model
    (``method.recognisers=stacked``, the default on a GPU) or one module per actor (``sequential``,
    the default on the CPU, where it is faster: ``scripts/bench_rl_episode.py``)."""

    def __init__(self, model: nn.Module, units: list[PrunableConv], data: dict, cfg: PruneRLConfig, seed: int):
        self.units, self.data, self.cfg, self.model = units, data, cfg, model
        stacked = cfg.recognisers == "stacked" or (cfg.recognisers == "auto" and data["device"].type == "cuda")
        bank = BatchedRecognisers if stacked else SequentialRecognisers
        self.reference = cfg.actors  # the last copy: never masked, retrained as the actors are
        self.bank = bank(model, units, cfg.actors + 1, cfg.retrain_lr)
        self.evaluations = 0  # copies trained and evaluated (identical histories count once a step)
        self.channels = [model.get_submodule(u.conv).out_channels for u in units]
        if cfg.selection == "l1":
            self.groups = [filter_groups(scores, cfg.groups) for scores in l1_norm(model, units)]
        else:  # by index: no importance score on the controller's path
            self.groups = [index_groups(channels, cfg.groups) for channels in self.channels]
        self.total_params = sum(p.numel() for p in model.parameters())
        self.generator = torch.Generator(device=data["device"]).manual_seed(seed)
        self.bank.reset()
        self.base_accuracy = self.bank.accuracies(data, cfg.batch_size, [self.reference])[0]
        self.observation_size = 3 + len(units) * cfg.groups

    # ------------------------------------------------------------------ episode

    def reset(self) -> torch.Tensor:
        self.step_index = 0
        self.group_kept = [[[True] * len(g) for g in self.groups] for _ in range(self.cfg.actors)]
        self.bank.reset()  # weights and masks back to the unpruned recogniser's, fresh optimizers
        self.accuracies = [self.base_accuracy] * self.cfg.actors
        self.reference_accuracy = self.base_accuracy
        self.reductions = [0.0] * self.cfg.actors
        self.histories: list[tuple] = [()] * (self.cfg.actors + 1)  # per copy: the groups each step zeroed
        return self.observations()

    def step(self, actions: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask, retrain every copy on the same batches (the reference too), evaluate; the reward's
        accuracy term is the change in accuracy relative to the reference, so what retraining does
        to every copy alike cancels. Copies whose masks have been the same at every step so far
        hold the same weights: one is trained and evaluated, the others copied from it."""
        t = self.step_index
        for i, action in enumerate(actions):
            zeroed = zeroed_groups(action, len(self.groups[t]), self.cfg.selection)
            mask = self.bank.mask(i, t)
            for g in zeroed:
                mask[self.groups[t][g].to(mask.device)] = 0.0
                self.group_kept[i][t][g] = False
            self.histories[i] = (*self.histories[i], frozenset(zeroed))
        self.histories[self.reference] = (*self.histories[self.reference], frozenset())
        first = {}  # history → the copy that computes it
        for i, history in enumerate(self.histories):
            first.setdefault(history, i)
        computed = sorted(first.values())
        labels = self.data["train"][1]
        draw = torch.randint(len(labels), (self.cfg.retrain_batches, 1, self.cfg.batch_size),
                             device=labels.device, generator=self.generator)  # fmt: skip
        self.bank.train(self.data, draw.expand(-1, self.cfg.actors + 1, -1), computed)
        measured = dict(zip(computed, self.bank.accuracies(self.data, self.cfg.batch_size, computed), strict=True))
        self.evaluations += len(computed)
        for i, history in enumerate(self.histories):
            if first[history] != i:
                self.bank.copy(first[history], i)
        reference = measured[first[self.histories[self.reference]]]
        rewards = []
        for i in range(self.cfg.actors):
            accuracy, reduction = measured[first[self.histories[i]]], self.reduction(i)
            relative_before = self.accuracies[i] - self.reference_accuracy
            rewards.append(
                self.cfg.reward_reduction * (reduction - self.reductions[i])
                + self.cfg.reward_accuracy * (accuracy - reference - relative_before)
            )
            self.accuracies[i], self.reductions[i] = accuracy, reduction
        self.reference_accuracy = reference
        self.step_index += 1
        return self.observations(), torch.tensor(rewards)

    @property
    def done(self) -> bool:
        return self.step_index >= len(self.units)

    def kept(self, actor: int) -> list[int]:
        return [int(self.bank.mask(actor, u).sum()) for u in range(len(self.units))]

    def kept_indices(self, actor: int) -> list[torch.Tensor]:
        return [self.bank.mask(actor, u).nonzero().flatten().cpu() for u in range(len(self.units))]

    def reduction(self, actor: int) -> float:
        return 1.0 - params_after(self.model, self.units, self.kept(actor)) / self.total_params

    def observations(self) -> torch.Tensor:
        rows = []
        position = self.step_index / len(self.units)
        for i in range(self.cfg.actors):
            flags = []
            for kept in self.group_kept[i]:
                flags += [float(k) for k in kept] + [1.0] * (self.cfg.groups - len(kept))
            rows.append([self.accuracies[i], self.reductions[i], position, *flags])
        return torch.tensor(rows)


def sgd_steps(net: nn.Module, optimizer, data: dict, steps: int, batch_size: int, generator) -> None:
    """``steps`` SGD steps of ``net`` on random batches of the training split (augmented): the
    recognisers' steps (:func:`~lightcnn.methods.pruning.recognisers.module_steps`)."""
    labels = data["train"][1]
    indices = torch.randint(len(labels), (steps, 1, batch_size), device=labels.device, generator=generator)
    module_steps(net, optimizer, data, indices, slice(None))


def insert_skip_convs(model: nn.Module) -> int:
    """The report's 1×1 convs on the identity shortcuts (:func:`~lightcnn.models.resnet.add_skip_convs`)."""
    added = add_skip_convs(model)
    if added == 0:
        raise ConfigValueError(
            "skip_convs", True, "false for a model without identity shortcuts (resnet, resnet18, resnet34 have them)"
        )
    return added


def search_data(context: MethodContext, cfg: PruneRLConfig, device: torch.device) -> dict:
    """The train and validation splits the run uses (the same seeded split), on ``device``."""
    datamodule = context.datamodule
    if datamodule is None or getattr(datamodule, "data", None) is None:
        raise UserError("method=prune_rl searches with data and training: run it with task=train")
    train_idx, val_idx = datamodule.split_indices()
    if len(val_idx) == 0:
        raise ConfigValueError(
            "dataset.val_fraction", 0.0, "> 0 with method=prune_rl: the controller's accuracy is measured on "
            "the validation split (the report holds out 0.05)", full_key=True
        )  # fmt: skip
    data = datamodule.data
    if cfg.eval_batches is not None:  # the fast mode: the first batches of the split only
        val_idx = val_idx[: cfg.eval_batches * cfg.batch_size]
    return {
        "train": (data.train_x[train_idx].to(device), data.train_y[train_idx].to(device)),
        "val": (data.train_x[val_idx].to(device), data.train_y[val_idx].to(device)),
        "transform": datamodule.transform,
        "device": device,
    }


def better(episode: dict, best: dict, target: float | None) -> bool:
    """Whether ``episode`` beats ``best``: the higher return, or, with a target reduction, one
    that reached the target over one that did not, then the more accurate of two that did."""
    if "accuracy" not in best:
        return True
    if target is None:
        return episode["return"] > best["return"]
    reached, best_reached = episode["reduction"] >= target, best["reduction"] >= target
    if reached != best_reached:
        return reached
    return episode["accuracy"] > best["accuracy"] if reached else episode["return"] > best["return"]


class SearchProgress:
    """The search's state after each round, in ``path`` (the run's ``checkpoints/rl_search.ckpt``):
    the controller, its replay, every random generator the rounds draw from and what the rounds
    found. A run started again after an interruption continues from the last whole round and ends
    with the search the uninterrupted run makes; one run again after the search has finished
    (killed during its fine-tuning) takes the search's result without searching."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rounds_taken = 0  # rounds the run took from a saved search

    def save(self, rounds: int, learner, replay, generator, envs, found: tuple[dict, list, list]) -> None:
        if self.path is None:
            return
        device = envs.data["device"]
        state = {"rounds": rounds, "learner": learner.state_dict(), "replay": replay.state_dict(),
                 "generator": generator.get_state(), "envs_generator": envs.generator.get_state(),
                 "torch_rng": torch.get_rng_state(), "found": found,
                 "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}  # fmt: skip
        save_state_atomic(state, self.path)

    def restore(self, learner, replay, generator, envs) -> tuple[int, tuple[dict, list, list] | None]:
        """The rounds already played and what they found, the search's state set as after them;
        ``(0, None)`` without saved progress (an unreadable file is set aside, with a warning)."""
        if self.path is None or not self.path.is_file():
            return 0, None
        try:
            state = load_checkpoint(self.path)
        except CorruptCheckpoint as err:
            os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
            log.warning("%s; the search starts again", err)
            return 0, None
        learner.load_state_dict(state["learner"])
        replay.load_state_dict(state["replay"])
        generator.set_state(state["generator"])
        envs.generator.set_state(state["envs_generator"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], envs.data["device"])
        self.rounds_taken = state["rounds"]
        log.info("search: %d round(s) taken from %s", self.rounds_taken, self.path)
        return state["rounds"], state["found"]


class Controller:
    """The search's actor side and learner: the recurrent Q-network, its R2D2 learner and replay,
    each actor's ε, and the generator of the exploration draws (``method.search=random``: every
    action a uniform draw, nothing learnt)."""

    def __init__(self, envs: PruningEnvs, cfg: PruneRLConfig, seed: int) -> None:
        torch.manual_seed(seed)
        self.cfg, self.random = cfg, cfg.search == "random"
        self.net = RecurrentQNet(envs.observation_size, cfg.actions, cfg.hidden)
        self.learner = R2D2Learner(self.net, cfg.gamma, cfg.n_step, cfg.learning_rate, cfg.target_period)
        self.replay = SequenceReplay(cfg.replay_capacity, seed=seed)
        epsilons = [1.0] * cfg.actors if self.random else actor_epsilons(cfg.actors, floor=cfg.epsilon_floor)
        self.epsilons = torch.tensor(epsilons)
        self.generator = torch.Generator().manual_seed(seed)

    def act(self, observations: torch.Tensor, state, reductions: list[float]) -> tuple[torch.Tensor, object]:
        """Each actor's action: greedy, or with probability ε a uniform draw; none past the target reduction."""
        with torch.no_grad():
            q, state = self.net(observations.unsqueeze(1), state)
        explore = torch.rand(self.cfg.actors, generator=self.generator) < self.epsilons
        random = torch.randint(self.cfg.actions, (self.cfg.actors,), generator=self.generator)
        actions = torch.where(explore, random, q[:, 0].argmax(-1))
        if self.cfg.target_reduction is not None:  # the stopping rule: at the target, zero nothing more
            reached = torch.tensor([r >= self.cfg.target_reduction for r in reductions])
            actions = torch.where(reached, torch.zeros_like(actions), actions)
        return actions, state

    def learn(self, seen: torch.Tensor, taken: torch.Tensor, rewards: torch.Tensor) -> list[float]:
        """Store the round's episodes, take the learner's steps and sync the target net (every
        round, whatever the period: the next round acts on what was learnt); the losses."""
        for actor in range(self.cfg.actors):
            self.replay.add(Sequence(seen[actor], taken[actor], rewards[actor].float()))
        if self.random:
            return []
        losses = [self.learner.step(self.replay, self.cfg.replay_batch) for _ in range(self.cfg.updates_per_episode)]
        self.learner.sync_target()
        return losses


def play_round(envs: PruningEnvs, controller: Controller, round_index: int, steps: list, started: float):
    """One episode per actor, side by side; every step's point goes to ``steps``. Returns the
    observations, actions and rewards, ``(actors, convs, …)``."""
    from lightcnn.engine.callbacks import hms  # Lightning: not imported when a config is composed

    cfg = controller.cfg
    observations, state = envs.reset(), None
    seen, taken, rewards = [], [], []
    while not envs.done:
        actions, state = controller.act(observations, state, envs.reductions)
        seen.append(observations)
        taken.append(actions)
        observations, reward = envs.step(actions.tolist())
        rewards.append(reward)
        for actor in range(cfg.actors):
            steps.append({"episode": round_index * cfg.actors + actor, "actor": actor, "step": envs.step_index,
                          "reduction": envs.reductions[actor], "accuracy": envs.accuracies[actor],
                          "reference_accuracy": envs.reference_accuracy})  # fmt: skip
        log.info("search round %d/%d, conv %d/%d, %s: reduction %s, accuracy %s", round_index + 1,
                 cfg.episodes_per_actor, envs.step_index, len(envs.units), hms(time.perf_counter() - started),
                 " ".join(f"{r:.2f}" for r in envs.reductions),
                 " ".join(f"{a:.3f}" for a in envs.accuracies))  # fmt: skip
    return torch.stack(seen, 1), torch.stack(taken, 1), torch.stack(rewards, 1)


def run_search(
    envs: PruningEnvs, cfg: PruneRLConfig, seed: int, progress: SearchProgress | None = None
) -> tuple[dict, list[dict], list[dict], list[dict]]:
    """Play ``episodes_per_actor`` rounds; returns the best episode (highest return, with its
    masks and recogniser weights), every episode's summary, every step's trajectory point and
    every round's summary (mean and best return, target syncs so far, copies evaluated so far).
    With ``progress``, the state after each round is saved, and rounds saved before are not
    played again."""
    progress = progress or SearchProgress(None)
    controller = Controller(envs, cfg, seed)
    best: dict = {"return": -float("inf")}
    episodes, steps, rounds = [], [], []
    played, found = progress.restore(controller.learner, controller.replay, controller.generator, envs)
    if found is not None:
        best, episodes, steps, rounds = found
    started = time.perf_counter()
    for round_index in range(played, cfg.episodes_per_actor):
        seen, taken, rewards = play_round(envs, controller, round_index, steps, started)
        for actor in range(cfg.actors):
            summary = {"episode": round_index * cfg.actors + actor, "round": round_index, "actor": actor,
                       "epsilon": float(controller.epsilons[actor]), "reduction": envs.reductions[actor],
                       "accuracy": envs.accuracies[actor], "return": float(rewards[actor].sum())}  # fmt: skip
            episodes.append(summary)
            if better(summary, best, cfg.target_reduction):
                best = {**summary, "kept": envs.kept_indices(actor), "weights": envs.bank.state_dict(actor)}
        losses = controller.learn(seen, taken, rewards)
        returns = [float(r.sum()) for r in rewards]
        rounds.append({"round": round_index, "mean_return": sum(returns) / len(returns), "best_return": max(returns),
                       "target_syncs": controller.learner.syncs, "evaluations": envs.evaluations})  # fmt: skip
        log.info("round %d: mean return %.3f, best so far %.3f (reduction %.3f, accuracy %.4f)%s", round_index,
                 rounds[-1]["mean_return"], best["return"], best["reduction"], best["accuracy"],
                 f", loss {sum(losses) / len(losses):.4f}" if losses else "")  # fmt: skip
        state = (best, episodes, steps, rounds)
        progress.save(round_index + 1, controller.learner, controller.replay, controller.generator, envs, state)
    return best, episodes, steps, rounds


class PruneRLFields(PretrainedFields, total=False):
    kept_filters: dict  # per conv, the filters kept
    rl_base_accuracy: float  # the unpruned recogniser's validation accuracy
    rl_chosen: dict  # the episode step whose masks were cut
    rl_episodes: list
    rl_steps: list  # every step of every episode: Fig. 2's points (and the unmasked reference's accuracy)
    rl_rounds: list  # per round: mean and best return, target-network syncs and copies evaluated so far
    rl_note: str
    rl_skip_convs: int  # 1x1 convs put on identity shortcuts before the search (method.skip_convs)
    rl_params_searched: int  # parameters of the network the search started from (rl_chosen.reduction's base)
    rl_rounds_resumed: int  # search rounds taken from the progress an interrupted attempt of the run saved


# profile=smoke: two actors, one round, one batch of 4 images per step, two steps of the skip convs'
# fine-tune, one epoch of fine-tuning whatever the row's schedule (a ResNet-34 search: about half a minute)
SMOKE = ("method.actors=2", "method.episodes_per_actor=1", "method.retrain_batches=1", "method.eval_batches=1",
         "method.batch_size=4", "method.replay_batch=2", "method.updates_per_episode=1", "method.skip_conv_batches=2",
         "trainer.max_epochs=1")  # fmt: skip


@register_method("prune_rl", config=PruneRLConfig, record_fields=PruneRLFields, smoke=SMOKE)
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
        context.fields["rl_skip_convs"] = insert_skip_convs(model)
        generator = torch.Generator(device=device).manual_seed(seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.retrain_lr, momentum=0.9, weight_decay=5e-4)
        sgd_steps(model, optimizer, data, cfg.skip_conv_batches, cfg.batch_size, generator)
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
