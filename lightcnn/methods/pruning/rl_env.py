"""The RL search's environment: ``N`` recognisers with zero-out masks after each prunable conv,
stepped together (:class:`PruningEnvs`), the filter groups an action zeroes, and the data the
search trains and evaluates on (the method: :mod:`lightcnn.methods.pruning.rl`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from lightcnn.errors import ConfigValueError, UserError
from lightcnn.methods.pruning.importance import l1_norm
from lightcnn.methods.pruning.recognisers import BatchedRecognisers, SequentialRecognisers, module_steps
from lightcnn.methods.pruning.surgery import PrunableConv, params_after
from lightcnn.methods.registry import MethodContext

if TYPE_CHECKING:  # the method's config lives with the method (rl.py), which imports this module
    from lightcnn.methods.pruning.rl import PruneRLConfig


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
