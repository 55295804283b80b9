"""Parameter and FLOP counts with fvcore (one multiply-accumulate = one FLOP).

Two conventions, both reported:

* ``flops``: fvcore's total with its default op handles (adds BN, adaptive pooling and
  upsampling on top of conv/linear; ops without a handle count 0 and are listed as skipped);
* ``flops_conv``: the multiply-accumulates of convolutions and linear layers only, the
  convention of the papers (ResNet-56 with option-A shortcuts: exactly 125,485,696).

The model is profiled in eval mode on one input (batch 1) and restored to its previous mode.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from fvcore.nn import FlopCountAnalysis, flop_count_table
from torch import nn

from lightcnn.engine.inspection import inspecting
from lightcnn.engine.upstream import whole_model_counts
from lightcnn.errors import UserError

# fvcore handle names whose counts are multiply-accumulates of conv and linear layers
CONV_LINEAR_OPS = frozenset({"conv", "linear", "addmm", "matmul", "bmm", "einsum"})


@dataclass
class Profile:
    params: int
    trainable_params: int
    flops: int
    flops_conv: int
    flops_by_operator: dict[str, int] = field(default_factory=dict)
    skipped_ops: dict[str, int] = field(default_factory=dict)
    table: str = ""

    def record_fields(self) -> dict:
        """The keys this profile contributes to a run record."""
        return {
            "params": self.params,
            "trainable_params": self.trainable_params,
            "flops": self.flops,
            "flops_conv": self.flops_conv,
            "flops_by_operator": self.flops_by_operator,
            "flops_skipped_ops": self.skipped_ops,
        }


def count_params(model: nn.Module) -> tuple[int, int]:
    """(all parameters, trainable parameters), each tensor counted once."""
    params = {id(p): p for p in model.parameters()}.values()
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return total, trainable


def conv_linear_flops(by_operator: dict[str, int]) -> int:
    """The papers' convention: only conv and linear multiply-accumulates."""
    return sum(count for op, count in by_operator.items() if op in CONV_LINEAR_OPS)


@contextmanager
def exact_layers(model: nn.Module):
    """Switch off data-dependent approximations (``approximate`` flags, e.g. ACA im2col) while
    counting: fvcore traces one input, and ACA's iterations depend on the data. The cost of the
    approximated path is reported by ``task=im2col``."""
    flagged = [m for m in model.modules() if getattr(m, "approximate", False) is True]
    for module in flagged:
        module.approximate = False
    try:
        yield
    finally:
        for module in flagged:
            module.approximate = True


def profile_model(model: nn.Module, input_shape: tuple[int, int, int], max_depth: int | None = 3) -> Profile:
    """Count params and FLOPs of ``model`` for one image of shape ``(C, H, W)`` (the per-module
    table, the slow part, only with a ``max_depth``; without it the trace records no module scopes)."""
    with inspecting(model), exact_layers(model), whole_model_counts(enabled=not max_depth):
        device = next(iter(model.parameters()), torch.empty(0)).device
        inputs = torch.zeros(1, *input_shape, device=device)
        # fvcore logs a warning per unsupported op; we report them in the record instead
        logging.getLogger("fvcore.nn.jit_analysis").setLevel(logging.ERROR)
        analysis = FlopCountAnalysis(model, inputs)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        by_operator = {op: int(n) for op, n in sorted(analysis.by_operator().items())}
        total = int(analysis.total())
        skipped = dict(sorted(Counter(analysis.unsupported_ops()).items()))
        table = flop_count_table(analysis, max_depth=max_depth, show_param_shapes=False) if max_depth else ""
    params, trainable = count_params(model)
    return Profile(params, trainable, total, conv_linear_flops(by_operator), by_operator, skipped, table)


def model_fields(
    model: nn.Module, input_shape: tuple[int, int, int], max_depth: int | None = None
) -> tuple[dict, Profile]:
    """Everything a record says about a model's size: the fvcore profile and, for models built
    from units, the internal variables and the counts after BN folding (``fuse_for_inference``)."""
    from lightcnn.engine.activations import internal_variables
    from lightcnn.models.layers import first_conv, fuse_for_inference

    profile = profile_model(model, input_shape, max_depth)
    fields = profile.record_fields()
    try:
        fields["first_layer_params"], fields["first_layer_trainable_params"] = count_params(first_conv(model)[2])
    except UserError:  # a model without convolutions
        pass
    stored = internal_variables(model, input_shape)
    if stored is not None:
        folded = profile_model(fuse_for_inference(model), input_shape, None)
        fields.update(
            internal_variables=stored,
            params_folded=folded.params,
            flops_folded=folded.flops,
            flops_conv_folded=folded.flops_conv,
        )
    return fields, profile
