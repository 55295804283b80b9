"""HRank (Lin et al., CVPR 2020): a filter's importance is the average rank of its feature map
(after the ReLU that follows its BN) over some training images; the lowest-ranked filters go.

``method=prune_hrank`` prunes the built (or ``method.pretrained``) model; the trainer settings
are the fine-tuning schedule. ``method.mode``:

* ``oneshot``: every conv at once, before training (or at epoch ``retrain_epochs``);
* ``layerwise``: HRank's own procedure (main.py): conv ``j`` at epoch ``retrain_epochs +
  j · layer_epochs``, each followed by ``layer_epochs`` of fine-tuning with a fresh optimizer and
  schedule (HRank: 30 epochs — its scripts' ``--epochs`` — at lr 0.01, steps at 5 and 10, i.e.
  ``trainer.lr=0.01 trainer.milestones=[5,10]``); the ranks are computed once, before the first
  conv goes, as HRank's rank_generation.py does.

With ``method.replacement`` (the report's filter replacement: method 1 ``duplicate_top``,
method 2 ``replace_with_best``) the least important filters are first overwritten with copies of
important ones; with ``method.retrain_epochs=E`` the model retrains E epochs with them before
pruning. Without data (``task=profile``) every conv is pruned at once and its first filters are
kept: the counts do not depend on which filters go. Records carry fvcore's counts of the pruned
model and HRank's own counts (:mod:`lightcnn.formulas.pruning`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

from lightcnn.config import option, require, require_choice
from lightcnn.engine.inspection import inspecting
from lightcnn.errors import ConfigValueError, UserError
from lightcnn.formulas.pruning import ConvShape, hrank_counts
from lightcnn.methods.pretrained import PretrainedFields, PretrainedMethodConfig, load_pretrained
from lightcnn.methods.pruning.importance import IMPORTANCES, importance_by_name
from lightcnn.methods.pruning.rates import kept_filters, parse_rates
from lightcnn.methods.pruning.replacement import replace_filters
from lightcnn.methods.pruning.selection import prune_by_scores
from lightcnn.methods.pruning.surgery import PrunableConv, all_convs, prunable_convs
from lightcnn.methods.registry import MethodContext, register_method

log = logging.getLogger(__name__)
REPLACEMENTS = ("none", "duplicate_top", "replace_with_best")
MODES = ("oneshot", "layerwise")


@dataclass
class PruneHRankConfig(PretrainedMethodConfig):
    name: str = "prune_hrank"
    compress_rate: str = option("0.5", "one rate or HRank's per-conv form: \"method.compress_rate='[0.1]*19'\"")
    batches: int = option(5, "training batches whose feature maps rank the filters")
    batch_size: int = option(128, "images per batch of the ranking")
    replacement: str = option("none", "none | duplicate_top | replace_with_best (filter replacement before pruning)")
    replace_ratio: float = option(0.1, "share of each layer's filters replaced")
    retrain_epochs: int = option(0, "with replacement: epochs of retraining before pruning (then fine-tuning)")
    mode: str = option("oneshot", "oneshot | layerwise (one conv at a time, layer_epochs of fine-tuning after each)")
    layer_epochs: int = option(30, "layerwise: fine-tuning epochs after each conv (HRank: 30)")
    importance: str = option(
        "rank", "which filters go: rank (HRank) | l1 (weight L1 norm) | random (seeded by the run's seed)"
    )

    def __post_init__(self) -> None:
        self.compress_rate = str(self.compress_rate)
        parse_rates(self.compress_rate)
        require_choice("replacement", self.replacement, REPLACEMENTS)
        require(0 < self.replace_ratio < 1, "replace_ratio", self.replace_ratio, "a fraction in (0, 1)")
        require(self.retrain_epochs >= 0, "retrain_epochs", self.retrain_epochs, "an integer >= 0")
        require_choice("mode", self.mode, MODES)
        require_choice("importance", self.importance, IMPORTANCES)
        require(self.layer_epochs >= 1, "layer_epochs", self.layer_epochs, "an integer >= 1")
        require(self.batches >= 1, "batches", self.batches, "an integer >= 1")
        require(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")


def rank_batches(context: MethodContext, cfg: PruneHRankConfig) -> list[torch.Tensor] | None:
    datamodule = context.datamodule
    if datamodule is None or getattr(datamodule, "data", None) is None:
        return None
    images = datamodule.data.train_x[: cfg.batches * cfg.batch_size]
    return [datamodule.transform(chunk, train=False) for chunk in images.split(cfg.batch_size)]


def layer_rates(units: list[PrunableConv], cfg: PruneHRankConfig) -> list[float]:
    """One rate per prunable conv of the model (in module order)."""
    rates = parse_rates(cfg.compress_rate)
    if len(rates) == 1:
        rates = rates * len(units)
    if len(rates) != len(units):
        raise ConfigValueError(
            "compress_rate",
            cfg.compress_rate,
            f"one rate, or one per prunable convolution of this model ({len(units)}, not {len(rates)})",
        )
    return rates  # a rate below 1 always leaves a filter: int(r · c) < c


def hrank_count_fields(model: nn.Module, rates: list[float], input_shape: tuple[int, int, int]) -> dict[str, int]:
    """HRank's own counts of ``model`` (unpruned) pruned at ``rates`` (one per conv): one dummy
    forward pass for the output sizes of the convs."""
    shapes: dict[nn.Module, ConvShape] = {}

    def record(conv: nn.Conv2d, inputs, output) -> None:
        area = conv.kernel_size[0] * conv.kernel_size[1] // conv.groups
        pixels = output.shape[2] * output.shape[3]
        shapes[conv] = ConvShape(conv.in_channels, conv.out_channels, area, pixels, conv.bias is not None)

    convs = [model.get_submodule(name) for name in all_convs(model)]  # the order of the rates
    with inspecting(model, [(conv, record) for conv in convs]), torch.no_grad():
        model(torch.zeros(1, *input_shape, device=next(model.parameters()).device))
    linear = sum(p.numel() for m in model.modules() if isinstance(m, nn.Linear) for p in m.parameters())
    params, flops = hrank_counts([shapes[conv] for conv in convs], rates, linear)
    return {"params_hrank_count": params, "flops_hrank_count": flops}


def pruning_steps(cfg: PruneHRankConfig, units: int) -> dict[int, list[int]]:
    """Epoch → the units pruned at its start."""
    if cfg.mode == "oneshot":
        return {cfg.retrain_epochs: list(range(units))}
    return {cfg.retrain_epochs + j * cfg.layer_epochs: [j] for j in range(units)}


class PruneHRankFields(PretrainedFields, total=False):
    kept_filters: dict  # per conv, the filters kept
    hrank_segments: list  # pruning during training: per step, its epoch, units and the epoch it started from
    params_hrank_count: int  # HRank's counting rule (each conv at its own rate, inputs unpruned)
    flops_hrank_count: int


@register_method(
    "prune_hrank", config=PruneHRankConfig, record_fields=PruneHRankFields,
    smoke=("method.batches=1", "method.batch_size=16"),
)  # fmt: skip
def prune_hrank(model: nn.Module, cfg: PruneHRankConfig, context: MethodContext) -> nn.Module:
    shape = context.input_shape
    if shape is None:
        raise UserError("method=prune_hrank reads the model's graph from one forward pass: it needs the input shape")
    units = prunable_convs(model, shape)
    rates = layer_rates(units, cfg)
    load_pretrained(model, cfg.pretrained, context)
    if len(units) == len(all_convs(model)):  # HRank's convention counts every conv at its own rate
        context.fields.update(hrank_count_fields(model, rates, shape))
    context.fields["kept_filters"] = {
        u.conv: kept_filters(model.get_submodule(u.conv).out_channels, r) for u, r in zip(units, rates, strict=True)
    }
    batches = rank_batches(context, cfg)
    if not batches:  # no data (task=profile): the counts do not depend on which filters go
        prune_by_scores(model, units, rates, None)
        return model
    importance = importance_by_name(cfg.importance, batches, seed=torch.initial_seed())  # the run's seed
    if cfg.replacement != "none":
        for unit, scores in zip(units, importance(model, units), strict=True):
            replace_filters(model, unit, scores, cfg.replace_ratio, cfg.replacement)
    steps = pruning_steps(cfg, len(units))
    if list(steps) == [0]:  # one shot, before training
        prune_by_scores(model, units, rates, importance(model, units))
    else:
        key = "method.layer_epochs" if cfg.mode == "layerwise" else "method.retrain_epochs"
        from lightcnn.methods.pruning.schedule import PruningSchedule  # Lightning: imported when training

        layerwise = cfg.mode == "layerwise"
        context.callbacks.append(PruningSchedule(steps, units, rates, importance, key, layerwise, context.fields))
    return model
