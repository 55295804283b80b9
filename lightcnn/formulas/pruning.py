"""Counting a pruned network the way HRank counts it (``get_flops.py`` / ``cal_flops_params.py``
of lmbxmu/HRank), which is how its published figures (ResNet-56: 0.49M params, 62.72M FLOPs)
were made:

* a conv at rate ``r`` keeps ``c_out − int(r · c_out)`` filters, and is counted with all of its
  ``c_in`` input channels, even where the conv before it lost filters (HRank prunes with masks,
  so its counter only sees each conv's own rate);
* params: conv weights and the kept filters' biases (no BN), plus every linear layer's weights
  and bias;
* FLOPs: one multiply-accumulate per weight and output pixel, plus the linear layers'
  weights and biases (batch 1).

A physically pruned network (:mod:`lightcnn.methods.pruning.surgery`) also loses the input
channels of the next conv, so fvcore counts it smaller; records carry both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConvShape:
    in_channels: int
    out_channels: int
    kernel_area: int  # kh · kw / groups
    out_pixels: int  # H_out · W_out
    bias: bool = False


def pruned_filters(channels: int, rate: float) -> int:
    """Filters a conv loses at ``rate``: ``int(rate · channels)``, HRank's rule (mask.py)."""
    return int(rate * channels)


def kept_filters(channels: int, rate: float) -> int:
    """Filters a conv keeps at ``rate``: ``channels − int(rate · channels)`` (never 0 for rate < 1)."""
    return channels - pruned_filters(channels, rate)


def hrank_counts(convs: list[ConvShape], rates: list[float], linear_params: int) -> tuple[int, int]:
    """(params, FLOPs) of a network pruned at ``rates`` (one per conv), as HRank counts them;
    ``linear_params``: weights and biases of the linear layers, counted once as params and once as FLOPs."""
    if len(convs) != len(rates):
        raise ValueError(f"{len(rates)} rates for {len(convs)} convolutions")
    params = flops = linear_params
    for conv, rate in zip(convs, rates, strict=True):
        kept = kept_filters(conv.out_channels, rate)
        weights = kept * conv.in_channels * conv.kernel_area
        params += weights + (kept if conv.bias else 0)
        flops += weights * conv.out_pixels
    return params, flops
