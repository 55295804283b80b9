"""Structured filter removal: a pruned conv is rebuilt with fewer output filters, its BN with
fewer channels, and every consumer with fewer input channels, so the pruned model is smaller in
fact (params and FLOPs fall), not masked.

Every conv can lose filters (:func:`prunable_convs`, in the order of :func:`all_convs`, which is
the order of HRank's rate lists):

* ``vgg16``: the consumer of each conv is the next one; of the last, the first linear layer
  (after the global pool, one feature per channel);
* ``resnet`` (option A), ``resnet18``, ``resnet34``: a block's first conv feeds only its second
  conv, whose input channels shrink with it. The stem, the blocks' second convs and the
  projection shortcuts write into the residual stream, which every later block reads and adds
  to: they compute only their kept filters, and :class:`ScatterChannels` puts the result back in
  place in a full-width tensor (zeros elsewhere). Their own weights shrink, their consumers keep
  their inputs — what HRank's masks do, without computing the masked filters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lightcnn.errors import ConfigValueError, UserError


@dataclass(frozen=True)
class PrunableConv:
    conv: str  # dotted module path
    bn: str  # the BatchNorm2d right after it
    activation: str  # the ReLU after the BN (HRank ranks its output)
    consumers: tuple[str, ...]  # modules whose input channels are this conv's filters
    scatter: bool = False  # writes into a residual stream: kept filters go back to full width


class ScatterChannels(nn.Module):
    """A pruned BN whose ``len(index)`` channels return to their places ``index`` among
    ``channels`` (the others are zero): the output of a pruned conv that feeds a residual sum."""

    def __init__(self, bn: nn.BatchNorm2d, index: torch.Tensor, channels: int) -> None:
        super().__init__()
        self.bn = bn
        self.channels = channels
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(x)
        return y.new_zeros(y.shape[0], self.channels, *y.shape[2:]).index_copy(1, self.index, y)

    def extra_repr(self) -> str:
        return f"{len(self.index)} of {self.channels} channels"


def all_convs(model: nn.Module) -> list[str]:
    return [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]


def prunable_convs(model: nn.Module) -> list[PrunableConv]:
    from lightcnn.models.resnet import CifarResNet
    from lightcnn.models.resnet_wide import CifarWideResNet
    from lightcnn.models.vgg import VGG

    if isinstance(model, VGG):
        convs = [i for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
        units = []
        for n, i in enumerate(convs):
            consumer = f"features.{convs[n + 1]}" if n + 1 < len(convs) else "classifier.0"
            units.append(PrunableConv(f"features.{i}", f"features.{i + 1}", f"features.{i + 2}", (consumer,)))
        return units
    if isinstance(model, (CifarResNet, CifarWideResNet)):
        return [_residual_unit(name) for name in all_convs(model)]
    raise ConfigValueError(
        "model", type(model).__name__, "a model the pruning surgery supports: vgg16, resnet, resnet18, resnet34"
    )


def _residual_unit(conv: str) -> PrunableConv:
    """The unit of a conv of a CIFAR ResNet, by its place: stem, block conv1/conv2, shortcut."""
    block, _, name = conv.rpartition(".")
    if not block:  # the stem: conv1 → bn1 → relu, into the stream
        return PrunableConv("conv1", "bn1", "relu", (), scatter=True)
    if name == "conv1":
        return PrunableConv(conv, f"{block}.bn1", f"{block}.relu1", (f"{block}.conv2",))
    if name == "conv2":
        return PrunableConv(conv, f"{block}.bn2", f"{block}.relu2", (), scatter=True)
    owner = block.removesuffix(".shortcut")  # a projection shortcut: shortcut.0 → shortcut.1
    return PrunableConv(conv, f"{block}.1", f"{owner}.relu2", (), scatter=True)


def _get(model: nn.Module, path: str) -> nn.Module:
    return model.get_submodule(path)


def _set(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, module)


@torch.no_grad()
def remove_filters(model: nn.Module, unit: PrunableConv, keep: torch.Tensor) -> None:
    """Keep only the output filters ``keep`` (indices) of ``unit.conv``, in place."""
    keep = torch.as_tensor(keep, dtype=torch.long).sort().values
    conv: nn.Conv2d = _get(model, unit.conv)
    if len(keep) == 0:
        raise UserError(f"pruning would remove every one of the {conv.out_channels} filters of {unit.conv}")
    new = nn.Conv2d(conv.in_channels, len(keep), conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    bias=conv.bias is not None).to(conv.weight)  # fmt: skip
    new.weight.copy_(conv.weight[keep])
    if conv.bias is not None:
        new.bias.copy_(conv.bias[keep])
    _set(model, unit.conv, new)
    bn = _get(model, unit.bn)
    scattered = bn if isinstance(bn, ScatterChannels) else None
    bn = scattered.bn if scattered else bn
    new_bn = nn.BatchNorm2d(len(keep), bn.eps, bn.momentum, bn.affine, bn.track_running_stats).to(bn.weight)
    for attr in ("weight", "bias", "running_mean", "running_var"):
        getattr(new_bn, attr).copy_(getattr(bn, attr)[keep])
    new_bn.num_batches_tracked.copy_(bn.num_batches_tracked)
    if unit.scatter:
        index = scattered.index[keep.to(scattered.index.device)] if scattered else keep
        channels = scattered.channels if scattered else conv.out_channels
        _set(model, unit.bn, ScatterChannels(new_bn, index.to(bn.weight.device), channels))
    else:
        _set(model, unit.bn, new_bn)
    for path in unit.consumers:
        consumer = _get(model, path)
        if isinstance(consumer, nn.Conv2d):
            rebuilt = nn.Conv2d(len(keep), consumer.out_channels, consumer.kernel_size, consumer.stride,
                                consumer.padding, consumer.dilation, bias=consumer.bias is not None)  # fmt: skip
            rebuilt.weight.copy_(consumer.weight[:, keep])
        elif isinstance(consumer, nn.Linear):
            rebuilt = nn.Linear(len(keep), consumer.out_features, bias=consumer.bias is not None)
            rebuilt.weight.copy_(consumer.weight[:, keep])
        else:
            raise TypeError(f"cannot cut the input channels of {type(consumer).__name__} at {path}")
        if consumer.bias is not None:
            rebuilt.bias.copy_(consumer.bias)
        _set(model, path, rebuilt.to(consumer.weight))


def params_after(model: nn.Module, units: list[PrunableConv], kept: list[int]) -> int:
    """Parameters of the unpruned ``model`` once unit ``i`` keeps ``kept[i]`` filters, without
    rebuilding it: the arithmetic :func:`remove_filters` realises (own filters, BN channels and
    consumers' inputs fall together)."""
    out_of: dict[str, int] = {}
    in_of: dict[str, int] = {}
    for unit, count in zip(units, kept, strict=True):
        out_of[unit.conv] = out_of[unit.bn] = count
        for consumer in unit.consumers:
            in_of[consumer] = count
    total = 0
    for name, module in model.named_modules():
        bias = getattr(module, "bias", None) is not None
        if isinstance(module, nn.Conv2d):
            c_out, c_in = out_of.get(name, module.out_channels), in_of.get(name, module.in_channels)
            total += c_out * (c_in // module.groups) * module.weight[0, 0].numel() + (c_out if bias else 0)
        elif isinstance(module, nn.Linear):
            total += (in_of.get(name, module.in_features) + bias) * module.out_features
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            total += 2 * out_of.get(name, module.num_features) if module.affine else 0
        else:
            total += sum(p.numel() for p in module.parameters(recurse=False))
    return total
