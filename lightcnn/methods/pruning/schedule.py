"""The Lightning side of HRank's schedule: pruning at given epochs during training.

Kept apart from :mod:`lightcnn.methods.pruning.hrank` so that registering the method (every
``lightcnn`` start) does not import Lightning.
"""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from lightcnn.engine.callbacks import RebuildsArchitecture
from lightcnn.engine.upstream import reset_best_checkpoints
from lightcnn.errors import ConfigValueError
from lightcnn.methods.pruning.importance import Importance
from lightcnn.methods.pruning.selection import prune_by_scores
from lightcnn.methods.pruning.surgery import PrunableConv, remove_filters

log = logging.getLogger(__name__)


class PruningSchedule(RebuildsArchitecture):
    """Prunes ``steps`` (epoch → unit indices) at the start of those epochs, scoring every unit
    with ``importance`` once before the first, then rebuilds the optimizer (and its schedule) for the smaller model.

    With ``carry_best`` (HRank's layer-by-layer procedure, as its ``main.py`` runs it), each
    pruning step starts from the best weights of the segment before it, judged on the validation
    split (HRank judges on the test set; never here), not from the segment's last epoch; without
    a validation split the last epoch's weights go on. The fresh optimizer of each step restarts
    the learning-rate schedule, so ``trainer.milestones=[5,10]`` steps inside every segment as
    HRank's per-conv ``MultiStepLR`` does. ``fields["hrank_segments"]`` lists, per step, the
    epoch it pruned at and the epoch whose weights it started from.

    Its checkpointed state (the ranks, the filters each step kept, in order, and the segment's
    best weights so far) lets a resumed run rebuild the architecture its checkpoint was written
    with (``restore_architecture``) before the weights load; Lightning then restores the state
    itself, and the run goes on with the steps still to come, on the same ranks.

    Under DDP every rank cuts the filters rank 0's scores choose, and the strategy wraps the
    pruned module anew before the optimizer is rebuilt."""

    def __init__(
        self,
        steps: dict[int, list[int]],
        units: list[PrunableConv],
        rates: list[float],
        importance: Importance,
        key: str,
        carry_best: bool = False,
        fields: dict | None = None,
    ) -> None:
        self.steps, self.units, self.rates, self.importance, self.key = steps, units, rates, importance, key
        self.carry_best, self.fields = carry_best, fields if fields is not None else {}
        self.scores: list | None = None
        self.pruned: list[tuple[int, int, list[int]]] = []  # (epoch, unit index, kept filters), in order
        self.segment_best: dict | None = None  # {"epoch", "val_acc", "state"}: the best weights since the last step
        self.segments: list[dict] = []  # per step: {"epoch", "units", "started_from_epoch"}

    def on_fit_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        last = max(self.steps)
        if last >= trainer.max_epochs:
            raise ConfigValueError(
                self.key,
                f"{last} (the epoch of the last pruning step)",
                f"a schedule whose last pruning step comes before trainer.max_epochs={trainer.max_epochs}",
            )

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        chosen = self.steps.get(epoch)
        if not chosen:  # (a checkpoint comes at the end of an epoch: a resumed run starts after its prunings)
            return
        started_from = epoch - 1 if epoch else None  # the weights of the epoch before (or as loaded)
        if self.carry_best and self.segment_best is not None:
            module.net.load_state_dict(self.segment_best["state"])
            started_from = self.segment_best["epoch"]
        self.segment_best = None
        self.segments.append({"epoch": epoch, "units": list(chosen), "started_from_epoch": started_from})
        self.fields["hrank_segments"] = self.segments
        if self.scores is None:
            self.scores = scores_of_rank_0(trainer, self.importance(module.net, self.units))
        units, rates, scores = ([values[i] for i in chosen] for values in (self.units, self.rates, self.scores))
        kept = prune_by_scores(module.net, units, rates, scores)
        self.pruned += [(epoch, index, filters.tolist()) for index, filters in zip(chosen, kept, strict=True)]
        self.architecture_changed(trainer)
        forget_best_checkpoints(trainer)
        log.info("pruned %d conv(s) at epoch %d", len(chosen), epoch)

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        """After the epoch's validation (logged by the module; before the epoch's checkpoint is written)."""
        epoch = trainer.current_epoch
        found = [h["val/acc"] for h in module.history if h["stage"] == "val" and h["epoch"] == epoch]
        if not self.carry_best or not self.pruned or not found:
            return
        accuracy = found[-1]
        if self.segment_best is None or accuracy > self.segment_best["val_acc"]:
            state = {k: v.detach().cpu().clone() for k, v in module.net.state_dict().items()}
            self.segment_best = {"epoch": trainer.current_epoch, "val_acc": float(accuracy), "state": state}

    def state_dict(self) -> dict:
        scores = None if self.scores is None else [s.detach().cpu() for s in self.scores]
        return {"scores": scores, "pruned": [list(step) for step in self.pruned],
                "segment_best": self.segment_best, "segments": self.segments}  # fmt: skip

    def load_state_dict(self, state_dict: dict) -> None:
        self.scores = state_dict["scores"]
        self.pruned = [(epoch, index, list(kept)) for epoch, index, kept in state_dict["pruned"]]
        self.segment_best = state_dict.get("segment_best")
        self.segments = list(state_dict.get("segments", []))
        if self.segments:
            self.fields["hrank_segments"] = self.segments

    def restore_architecture(self, net: torch.nn.Module, state_dict: dict) -> None:
        """Prune ``net`` (as built, unpruned) as the checkpointed run had when it wrote
        ``state_dict``: the same filters of the same units, in the same order."""
        for _, index, kept in state_dict["pruned"]:
            remove_filters(net, self.units[index], torch.tensor(kept, dtype=torch.long))


def scores_of_rank_0(trainer: pl.Trainer, scores: list[torch.Tensor]) -> list[torch.Tensor]:
    """Rank 0's ``scores`` on every DDP rank (each rank computed its own, from its own BN
    statistics, and every rank must cut the same filters), on the devices they were on."""
    if trainer.world_size == 1:
        return scores
    agreed = trainer.strategy.broadcast([s.detach().cpu() for s in scores], src=0)  # not as rank 0's CUDA tensors
    return [a.to(s.device) for a, s in zip(agreed, scores, strict=True)]


def forget_best_checkpoints(trainer: pl.Trainer) -> None:
    """The best checkpoints so far hold an architecture that no longer exists: drop them, so the
    best-validation checkpoint (and ``test_acc_at_best_val``) comes from after the last pruning."""
    for callback in trainer.checkpoint_callbacks:
        if not isinstance(callback, ModelCheckpoint):
            continue  # the run's last.ckpt: the next epoch replaces it
        for path in reset_best_checkpoints(callback):
            if path != callback.last_model_path:
                trainer.strategy.remove_checkpoint(path)
