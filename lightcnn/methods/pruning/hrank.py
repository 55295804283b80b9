"""HRank (Lin et al., CVPR 2020): a filter's importance is the average rank of its feature map
(after the ReLU that follows its BN) over some training images; the lowest-ranked filters go.

``method=prune_hrank`` prunes the built (or ``method.pretrained``) model once, before training,
which then fine-tunes it (the trainer settings are the fine-tuning schedule). With
``method.replacement`` (the report's filter replacement: method 1 ``duplicate_top``, method 2
``replace_with_best``) the least important filters are first overwritten with copies of important
ones; with ``method.retrain_epochs=E`` the model retrains E epochs with them and is pruned at the
start of epoch E (ranked again), and the remaining epochs fine-tune. Without data
(``task=profile``) the first filters are kept: the counts do not depend on which filters go.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn

from lightcnn.config import MethodConfig, require
from lightcnn.errors import ConfigValueError
from lightcnn.methods.pruning.rates import kept_filters, parse_rates
from lightcnn.methods.pruning.surgery import PrunableConv, all_convs, prunable_convs, remove_filters
from lightcnn.methods.registry import MethodContext, register_method

log = logging.getLogger(__name__)
REPLACEMENTS = ("none", "duplicate_top", "replace_with_best")


@dataclass
class PruneHRankConfig(MethodConfig):
    name: str = "prune_hrank"
    compress_rate: str = "0.5"  # one rate, or one per conv in HRank's form: [0.1]+[0.60]*35+...
    batches: int = 5  # training batches whose feature maps rank the filters
    batch_size: int = 128
    pretrained: str | None = None  # a lightcnn checkpoint to prune; null: the model as built
    replacement: str = "none"  # none | duplicate_top | replace_with_best (filter replacement before pruning)
    replace_ratio: float = 0.1  # share of each layer's filters replaced
    retrain_epochs: int = 0  # with replacement: epochs of retraining before pruning (then fine-tuning)

    def __post_init__(self) -> None:
        self.compress_rate = str(self.compress_rate)
        parse_rates(self.compress_rate)
        require(self.replacement in REPLACEMENTS, "replacement", self.replacement, "one of " + ", ".join(REPLACEMENTS))
        require(0 < self.replace_ratio < 1, "replace_ratio", self.replace_ratio, "a fraction in (0, 1)")
        require(self.retrain_epochs >= 0, "retrain_epochs", self.retrain_epochs, "an integer >= 0")
        require(self.batches >= 1, "batches", self.batches, "an integer >= 1")
        require(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")


@torch.no_grad()
def feature_map_ranks(model: nn.Module, units: list[PrunableConv], batches: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per unit, the mean rank over the images of each filter's feature map (a ``(C,)`` tensor)."""
    sums: dict[int, torch.Tensor] = {}
    count = 0

    def hook(index: int):
        def record(module, inputs, output):
            ranks = torch.linalg.matrix_rank(output.float()).float().sum(0)  # (C,) summed over the batch
            sums[index] = ranks if index not in sums else sums[index] + ranks

        return record

    handles = [model.get_submodule(u.activation).register_forward_hook(hook(i)) for i, u in enumerate(units)]
    was_training = model.training
    model.eval()
    try:
        for images in batches:
            model(images)
            count += images.shape[0]
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return [sums[i] / count for i in range(len(units))]


def rank_batches(context: MethodContext, cfg: PruneHRankConfig) -> list[torch.Tensor] | None:
    datamodule = context.datamodule
    if datamodule is None or getattr(datamodule, "data", None) is None:
        return None
    images = datamodule.data.train_x[: cfg.batches * cfg.batch_size]
    return [datamodule.transform(chunk, train=False) for chunk in images.split(cfg.batch_size)]


def layer_rates(model: nn.Module, units: list[PrunableConv], cfg: PruneHRankConfig) -> dict[str, float]:
    """The rate of every prunable conv (one rate for all, or one per conv of the model)."""
    convs = all_convs(model)
    rates = parse_rates(cfg.compress_rate)
    if len(rates) == 1:
        rates = rates * len(convs)
    if len(rates) != len(convs):
        raise ConfigValueError(
            "compress_rate",
            cfg.compress_rate,
            f"one rate, or one per convolution of this model ({len(convs)}, not {len(rates)})",
        )
    rate_of = dict(zip(convs, rates, strict=True))
    tied = [name for name in convs if name not in {u.conv for u in units} and rate_of[name] > 0]
    if tied:
        log.warning("%d convs tied by residual additions keep their filters; their rates are not applied", len(tied))
    for unit in units:
        channels = model.get_submodule(unit.conv).out_channels
        if kept_filters(channels, rate_of[unit.conv]) < 1:
            raise ConfigValueError(
                "compress_rate",
                cfg.compress_rate,
                f"rates that leave at least one of the {channels} filters of {unit.conv}",
            )
    return {u.conv: rate_of[u.conv] for u in units}


def prune_by_rank(model: nn.Module, units: list[PrunableConv], rates: dict[str, float], batches) -> None:
    """Keep each unit's highest-ranked filters (the first ones without data)."""
    importance = feature_map_ranks(model, units, batches) if batches else [None] * len(units)
    for unit, scores in zip(units, importance, strict=True):
        keep = kept_filters(model.get_submodule(unit.conv).out_channels, rates[unit.conv])
        if scores is None:
            chosen = torch.arange(keep)
        else:  # highest average rank first; ties keep the lower index
            chosen = torch.sort(torch.argsort(-scores, stable=True)[:keep]).values
        remove_filters(model, unit, chosen)


@torch.no_grad()
def replace_filters(model: nn.Module, unit: PrunableConv, scores: torch.Tensor, ratio: float, mode: str) -> list[int]:
    """Overwrite the ``ratio`` least important filters (and their BN channels) with copies of
    important ones: ``duplicate_top`` copies the top filters one to one (each then appears twice),
    ``replace_with_best`` copies the single best into all of them. Returns the replaced indices."""
    order = torch.argsort(-scores, stable=True)  # most important first
    count = max(1, int(round(ratio * len(order))))
    worst = order[-count:]
    sources = order[:count] if mode == "duplicate_top" else order[:1].repeat(count)
    conv, bn = model.get_submodule(unit.conv), model.get_submodule(unit.bn)
    for param in (conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var):
        if param is not None:
            param[worst] = param[sources]
    return worst.tolist()


class DeferredPruning(pl.Callback):
    """Prunes at the start of epoch ``epoch`` (after retraining the replaced filters), then
    rebuilds the optimizer for the smaller model; the remaining epochs fine-tune."""

    def __init__(self, epoch: int, units: list[PrunableConv], rates: dict[str, float], batches) -> None:
        self.epoch, self.units, self.rates, self.batches = epoch, units, rates, batches
        self.done = False

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.done or trainer.current_epoch < self.epoch:
            return
        batches = [b.to(module.device) for b in self.batches] if self.batches else None
        prune_by_rank(module.net, self.units, self.rates, batches)
        trainer.strategy.setup_optimizers(trainer)
        self.done = True
        log.info("pruned at epoch %d; fine-tuning from here", trainer.current_epoch)


@register_method("prune_hrank", config=PruneHRankConfig)
def prune_hrank(model: nn.Module, cfg: PruneHRankConfig, context: MethodContext) -> nn.Module:
    units = prunable_convs(model)
    rates = layer_rates(model, units, cfg)
    if cfg.pretrained:
        from lightcnn.engine.weights import load_weights

        path = Path(cfg.pretrained).expanduser()
        if not path.is_file():
            raise ConfigValueError("pretrained", cfg.pretrained, "null or an existing lightcnn checkpoint")
        load_weights(model, path)
    batches = rank_batches(context, cfg)
    if cfg.replacement != "none" and batches:
        for unit, scores in zip(units, feature_map_ranks(model, units, batches), strict=True):
            replace_filters(model, unit, scores, cfg.replace_ratio, cfg.replacement)
        if cfg.retrain_epochs > 0:
            context.callbacks.append(DeferredPruning(cfg.retrain_epochs, units, rates, batches))
            return model
    prune_by_rank(model, units, rates, batches)
    return model
