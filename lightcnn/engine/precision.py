"""``trainer.precision=auto``: the fastest precision that leaves accuracy unchanged, per device and model.

bfloat16 autocast keeps float32's exponent range, so it trains these networks to the same
accuracy without loss scaling; it is faster only where the hardware computes in bf16:

* CPUs with AVX-512 BF16 or AMX (measured on an Intel Xeon with AMX at batch 128: ResNet-56
  1.81×, Oct-ResNet-56 1.55× their float32 speed; README, Speed). On an AVX2-only CPU bf16 is
  emulated and about ten times *slower* (ResNet-20: 24 against 240 images/s, docs/design.md);
* CUDA GPUs that support bf16 (Ampere and later).

A model whose layers are slower in bf16 even there says so with ``prefers_float32 = True``
(MobileNet's depthwise convolutions: 0.87× on the CPU above), as ``prefers_channels_last``
states its memory format.
"""

from __future__ import annotations

import torch
from torch import nn

FLOAT32 = "32-true"
BF16 = "bf16-mixed"


def device_type(accelerator: str) -> str:
    """``cpu`` or ``cuda`` for a Lightning ``accelerator`` value (``auto``: CUDA when there is one)."""
    if accelerator in ("gpu", "cuda"):
        return "cuda"
    if accelerator == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return accelerator


def bf16_is_fast(device: str) -> bool:
    """Whether ``device`` computes bf16 in hardware (not by emulation)."""
    if device == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device == "cpu":
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return False


def resolve_precision(requested: str, bf16_fast: bool, prefers_float32: bool) -> str:
    """The Lightning precision to train with: ``requested`` unless it is ``auto``, then bf16
    autocast where the device is fast in bf16 and the model is not slower in it, else float32."""
    if requested != "auto":
        return requested
    return BF16 if bf16_fast and not prefers_float32 else FLOAT32


def training_precision(requested: str, accelerator: str, net: nn.Module) -> str:
    """:func:`resolve_precision` for this machine's device and ``net``."""
    if requested != "auto":
        return requested
    prefers_float32 = bool(getattr(net, "prefers_float32", False))
    return resolve_precision(requested, bf16_is_fast(device_type(accelerator)), prefers_float32)
