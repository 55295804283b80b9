"""HRank (Lin et al., CVPR 2020): a filter's importance is the average rank of its feature map
(after the ReLU that follows its BN) over some training images; the lowest-ranked filters go.

``method=prune_hrank`` prunes the built (or ``method.pretrained``) model once, before training,
which then fine-tunes it (the trainer settings are the fine-tuning schedule; HRank fine-tunes
30 epochs per layer at lr 0.01, wd 5e-3 for ResNet-56 in its scripts). Without data (``task=profile``)
the first filters are kept: the counts do not depend on which filters go.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from lightcnn.config import MethodConfig, require
from lightcnn.errors import ConfigValueError
from lightcnn.methods.pruning.rates import kept_filters, parse_rates
from lightcnn.methods.pruning.surgery import PrunableConv, all_convs, prunable_convs, remove_filters
from lightcnn.methods.registry import MethodContext, register_method

log = logging.getLogger(__name__)


@dataclass
class PruneHRankConfig(MethodConfig):
    name: str = "prune_hrank"
    compress_rate: str = "0.5"  # one rate, or one per conv in HRank's form: [0.1]+[0.60]*35+...
    batches: int = 5  # training batches whose feature maps rank the filters
    batch_size: int = 128
    pretrained: str | None = None  # a lightcnn checkpoint to prune; null: the model as built

    def __post_init__(self) -> None:
        self.compress_rate = str(self.compress_rate)
        parse_rates(self.compress_rate)
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


@register_method("prune_hrank", config=PruneHRankConfig)
def prune_hrank(model: nn.Module, cfg: PruneHRankConfig, context: MethodContext) -> nn.Module:
    units = prunable_convs(model)
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
    if cfg.pretrained:
        from lightcnn.engine.weights import load_weights

        path = Path(cfg.pretrained).expanduser()
        if not path.is_file():
            raise ConfigValueError("pretrained", cfg.pretrained, "null or an existing lightcnn checkpoint")
        load_weights(model, path)
    batches = rank_batches(context, cfg)
    importance = feature_map_ranks(model, units, batches) if batches else [None] * len(units)
    for unit, scores in zip(units, importance, strict=True):
        channels = model.get_submodule(unit.conv).out_channels
        keep = kept_filters(channels, rate_of[unit.conv])
        if keep < 1:
            raise ConfigValueError(
                "compress_rate",
                cfg.compress_rate,
                f"rates that leave at least one of the {channels} filters of {unit.conv}",
            )
        if scores is None:
            chosen = torch.arange(keep)
        else:  # highest average rank first; ties keep the lower index
            chosen = torch.sort(torch.argsort(-scores, stable=True)[:keep]).values
        remove_filters(model, unit, chosen)
    return model
