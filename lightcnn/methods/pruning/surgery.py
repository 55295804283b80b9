"""Structured filter removal: a pruned conv is rebuilt with fewer output filters, its BN and
its depthwise followers with fewer channels, and every consumer with fewer input channels, so
the pruned model is smaller in fact (params and FLOPs fall), not masked. Which modules fall
together is read from the model's graph (:mod:`lightcnn.methods.pruning.graph`); a conv coupled
to others computes only its kept filters and :class:`ScatterChannels` puts them back in place.
"""

from __future__ import annotations

import torch
from torch import nn

from lightcnn.errors import UserError
from lightcnn.methods.pruning.graph import PrunableConv, all_convs, prunable_convs

__all__ = ["PrunableConv", "ScatterChannels", "all_convs", "params_after", "prunable_convs", "remove_filters"]


class ScatterChannels(nn.Module):
    """The output of ``inner`` (a pruned conv, or the BN after it) whose ``len(index)`` channels
    return to their places ``index`` among ``channels`` (the others are zero): a pruned conv
    that feeds a sum with other convs."""

    def __init__(self, inner: nn.Module, index: torch.Tensor, channels: int) -> None:
        super().__init__()
        self.inner = inner
        self.channels = channels
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.inner(x)
        return y.new_zeros(y.shape[0], self.channels, *y.shape[2:]).index_copy(1, self.index, y)

    def extra_repr(self) -> str:
        return f"{len(self.index)} of {self.channels} channels"


def _set(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, module)


def _unwrapped(model: nn.Module, path: str) -> nn.Module:
    module = model.get_submodule(path)
    return module.inner if isinstance(module, ScatterChannels) else module


def _shrunk_conv(conv: nn.Conv2d, keep: torch.Tensor, dim: int) -> nn.Conv2d:
    """``conv`` keeping output filters (``dim=0``), input channels (1) or, for a depthwise conv,
    both (``dim=-1``) ``keep``."""
    out_keep = keep if dim in (0, -1) else slice(None)
    in_count = len(keep) if dim in (1, -1) else conv.in_channels
    out_count = len(keep) if dim in (0, -1) else conv.out_channels
    groups = len(keep) if dim == -1 else conv.groups
    new = nn.Conv2d(in_count, out_count, conv.kernel_size, conv.stride, conv.padding, conv.dilation, groups=groups,
                    bias=conv.bias is not None, padding_mode=conv.padding_mode).to(conv.weight)  # fmt: skip
    weight = conv.weight[out_keep]
    new.weight.copy_(weight[:, keep] if dim == 1 else weight)
    if conv.bias is not None:
        new.bias.copy_(conv.bias[out_keep])
    return new


def _shrunk_bn(bn: nn.BatchNorm2d, keep: torch.Tensor) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(keep), bn.eps, bn.momentum, bn.affine, bn.track_running_stats).to(bn.weight)
    for attr in ("weight", "bias", "running_mean", "running_var"):
        if getattr(bn, attr) is not None:
            getattr(new, attr).copy_(getattr(bn, attr)[keep])
    if bn.num_batches_tracked is not None:
        new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new


def _shrunk_linear(linear: nn.Linear, keep: torch.Tensor, per_filter: int) -> nn.Linear:
    """``linear`` reading only filters ``keep`` of its input (``per_filter`` features each, as a flatten lays them)."""
    features = (keep.view(-1, 1) * per_filter + torch.arange(per_filter, device=keep.device)).flatten()
    new = nn.Linear(len(features), linear.out_features, bias=linear.bias is not None).to(linear.weight)
    new.weight.copy_(linear.weight[:, features.to(linear.weight.device)])
    if linear.bias is not None:
        new.bias.copy_(linear.bias)
    return new


@torch.no_grad()
def remove_filters(model: nn.Module, unit: PrunableConv, keep: torch.Tensor) -> None:
    """Keep only the output filters ``keep`` (indices) of ``unit.conv``, in place."""
    keep = torch.as_tensor(keep, dtype=torch.long).sort().values
    wrapper = model.get_submodule(unit.bn or unit.conv)
    scattered = wrapper if isinstance(wrapper, ScatterChannels) else None
    conv: nn.Conv2d = _unwrapped(model, unit.conv)
    if len(keep) == 0:
        raise UserError(f"pruning would remove every one of the {conv.out_channels} filters of {unit.conv}")
    device = conv.weight.device
    keep = keep.to(device)
    new_conv = _shrunk_conv(conv, keep, 0)
    new_bn = _shrunk_bn(_unwrapped(model, unit.bn), keep) if unit.bn else None
    last = unit.bn or unit.conv  # the module whose output leaves the unit
    if unit.scatter:
        index = scattered.index[keep.to(scattered.index.device)] if scattered else keep
        channels = scattered.channels if scattered else conv.out_channels
        if unit.bn:
            _set(model, unit.conv, new_conv)
        _set(model, last, ScatterChannels(new_bn if unit.bn else new_conv, index.to(device), channels))
    else:
        _set(model, unit.conv, new_conv)
        if unit.bn:
            _set(model, unit.bn, new_bn)
    for path in unit.followers:
        follower = model.get_submodule(path)
        if isinstance(follower, nn.Conv2d):
            _set(model, path, _shrunk_conv(follower, keep, -1))
        else:
            _set(model, path, _shrunk_bn(follower, keep))
    for index, path in enumerate(unit.consumers):
        consumer = _unwrapped(model, path)
        if isinstance(consumer, nn.Conv2d):
            rebuilt = _shrunk_conv(consumer, keep, 1)
        elif isinstance(consumer, nn.Linear):
            rebuilt = _shrunk_linear(consumer, keep, unit.per_filter(index))
        else:
            raise TypeError(f"cannot cut the input channels of {type(consumer).__name__} at {path}")
        wrapped = model.get_submodule(path)
        if isinstance(wrapped, ScatterChannels):
            wrapped.inner = rebuilt
        else:
            _set(model, path, rebuilt)


def params_after(model: nn.Module, units: list[PrunableConv], kept: list[int]) -> int:
    """Parameters of the unpruned ``model`` once unit ``i`` keeps ``kept[i]`` filters, without
    rebuilding it: the arithmetic :func:`remove_filters` realises (own filters, BN channels,
    depthwise followers and consumers' inputs fall together)."""
    out_of: dict[str, int] = {}
    in_of: dict[str, int] = {}
    groups_of: dict[str, int] = {}
    for unit, count in zip(units, kept, strict=True):
        out_of[unit.conv] = count
        if unit.bn:
            out_of[unit.bn] = count
        for follower in unit.followers:
            out_of[follower] = count
            if isinstance(model.get_submodule(follower), nn.Conv2d):
                in_of[follower] = groups_of[follower] = count
        for index, consumer in enumerate(unit.consumers):
            in_of[consumer] = count * unit.per_filter(index)
    total = 0
    for name, module in model.named_modules():
        bias = getattr(module, "bias", None) is not None
        if isinstance(module, nn.Conv2d):
            c_out, c_in = out_of.get(name, module.out_channels), in_of.get(name, module.in_channels)
            groups = groups_of.get(name, module.groups)
            total += c_out * (c_in // groups) * module.weight[0, 0].numel() + (c_out if bias else 0)
        elif isinstance(module, nn.Linear):
            total += (in_of.get(name, module.in_features) + bias) * module.out_features
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            total += 2 * out_of.get(name, module.num_features) if module.affine else 0
        else:
            total += sum(p.numel() for p in module.parameters(recurse=False))
    return total
