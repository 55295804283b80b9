"""``trainer.precision=auto``: the fastest precision that leaves accuracy unchanged, per device and model.

bfloat16 autocast keeps float32's exponent range, so it trains these networks to the same
accuracy without loss scaling; it is faster only where the hardware computes in bf16:

* CPUs with AVX-512 BF16 or AMX (measured on an Intel Xeon with AMX at batch 128: ResNet-56
  1.81×, Oct-ResNet-56 1.55× their float32 speed; README, Speed). On an AVX2-only CPU bf16 is
  emulated and about ten times *slower* (ResNet-20: 24 against 240 images/s, docs/design.md);
* CUDA GPUs that support bf16 (Ampere and later).

A model whose layers are slower in bf16 even there declares ``prefers_float32=True`` on its
registry entry (MobileNet's depthwise convolutions: 0.87× on the CPU above), as
``prefers_channels_last`` declares its memory format; :func:`~lightcnn.models.build_model` sets
both on the net it builds. Both were measured on CPUs and apply there; on a GPU ``auto`` is bf16
autocast wherever the GPU computes bf16, and the memory format stays NCHW unless
``trainer.channels_last=true`` (nothing has been measured there yet).

float32 is IEEE float32: PyTorch runs float32 convolutions in TF32 on Ampere and later GPUs by
default, which a record saying "32-true" would hide. TF32 is a precision of its own,
``trainer.precision=tf32`` (float32 storage, tensor-core TF32 products in convolutions and
matrix products), refused where there is no CUDA GPU, and named as such in the record.
"""

from __future__ import annotations

import torch
from torch import nn

from lightcnn.errors import ConfigValueError

FLOAT32 = "32-true"
BF16 = "bf16-mixed"
TF32 = "tf32"  # lightcnn's name: Lightning trains it as "32-true" with TF32 math switched on


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
    """:func:`resolve_precision` for this machine's device and ``net`` (the model's
    ``prefers_float32`` is a CPU measurement: it applies on CPUs only)."""
    device = device_type(accelerator)
    if requested == TF32 and device != "cuda":
        raise ConfigValueError("trainer.precision", requested, f"a CUDA GPU (TF32 is NVIDIA's; this run's device is "
                               f"{device}): auto, 32, bf16-mixed or 16-mixed here")  # fmt: skip
    if requested != "auto":
        return requested
    prefers_float32 = device == "cpu" and bool(getattr(net, "prefers_float32", False))
    return resolve_precision(requested, bf16_is_fast(device), prefers_float32)


def apply_float32_math(precision: str) -> str:
    """Set how this process computes float32 products for ``precision`` (TF32 for ``tf32``,
    IEEE float32 for every other: PyTorch's default would be TF32 in convolutions on Ampere and
    later GPUs) and return the precision as Lightning names it."""
    mode = "tf32" if precision == TF32 else "ieee"
    torch.backends.cudnn.conv.fp32_precision = mode
    torch.backends.cuda.matmul.fp32_precision = mode
    return FLOAT32 if precision == TF32 else precision
