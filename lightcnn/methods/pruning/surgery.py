"""Structured filter removal: a pruned conv is rebuilt with fewer output filters, its BN with
fewer channels, and every consumer with fewer input channels, so the pruned model is smaller in
fact (params and FLOPs fall), not masked.

Which convs can lose filters is a property of the architecture (:func:`prunable_convs`):

* ``vgg16``: every conv; the consumer of the last one is the first linear layer (after the
  global pool, one feature per channel);
* ``resnet`` (option A), ``resnet18``, ``resnet34``: the first conv of every residual block,
  whose output only feeds the block's second conv. The stem, the blocks' second convs and the
  projection shortcuts are tied together by the residual additions and keep their filters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lightcnn.errors import ConfigValueError


@dataclass(frozen=True)
class PrunableConv:
    conv: str  # dotted module path
    bn: str  # the BatchNorm2d right after it
    activation: str  # the ReLU after the BN (HRank ranks its output)
    consumers: tuple[str, ...]  # modules whose input channels are this conv's filters


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
        blocks = [name for name, m in model.named_modules() if hasattr(m, "conv1") and hasattr(m, "relu1")]
        return [PrunableConv(f"{b}.conv1", f"{b}.bn1", f"{b}.relu1", (f"{b}.conv2",)) for b in blocks]
    raise ConfigValueError(
        "model", type(model).__name__, "a model the pruning surgery supports: vgg16, resnet, resnet18, resnet34"
    )


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
    new = nn.Conv2d(conv.in_channels, len(keep), conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    bias=conv.bias is not None).to(conv.weight)  # fmt: skip
    new.weight.copy_(conv.weight[keep])
    if conv.bias is not None:
        new.bias.copy_(conv.bias[keep])
    _set(model, unit.conv, new)
    bn: nn.BatchNorm2d = _get(model, unit.bn)
    new_bn = nn.BatchNorm2d(len(keep), bn.eps, bn.momentum, bn.affine, bn.track_running_stats).to(bn.weight)
    for attr in ("weight", "bias", "running_mean", "running_var"):
        getattr(new_bn, attr).copy_(getattr(bn, attr)[keep])
    new_bn.num_batches_tracked.copy_(bn.num_batches_tracked)
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
