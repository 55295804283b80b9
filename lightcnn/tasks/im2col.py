"""``task=im2col``: the data size of each convolution's im2col matrices, and for the layers that
``method=aca_im2col`` approximates, the size of the stored ACA factors (004, Table 4.1).

On ``task.images`` random test images (seeded), the input of every convolution is captured with
a forward hook (eval mode; approximated layers run their approximation). Per layer the record
gets ``im2col.layer<k>`` (k = 1 for the first convolution) with ``original_bytes`` (float32 D_i,
all images) and ``rows``/``cols`` (m = C·k·k, n = H_out·W_out); approximated layers add
``compressed_bytes`` (Σ r_i(m + n)·4), ``ratio`` (1 − compressed/original), ``mean_rank``,
``max_relative_error`` and the multiply-accumulates per image of the direct conv, of ACA itself
and of W·U·V, so the record shows when the approximation saves memory but costs time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lightcnn.config import Config, TaskConfig, option, require
from lightcnn.formulas.aca import aca_macs, compression_ratio, direct_conv_macs, factor_bytes, im2col_bytes, wuv_macs
from lightcnn.methods.aca import ACAConv2d, aca
from lightcnn.methods.aca_im2col import convolutions
from lightcnn.tasks.analysis import analysis_setup, sample_test_images
from lightcnn.tasks.base import RunContext, TaskResult, register_task


@dataclass
class Im2colTaskConfig(TaskConfig):
    """Data size of the im2col matrices and of their ACA factors, per convolution."""

    name: str = "im2col"
    images: int = option(100, "random test images (chosen with the run's seed)")
    checkpoint: str | None = option(None, "null: the model as built; auto: the newest ok train run of it; or a path")

    def __post_init__(self) -> None:
        require(self.images >= 1, "images", self.images, "an integer >= 1")


def layer_report(conv: torch.nn.Conv2d, inputs: torch.Tensor) -> dict:
    cols = torch.nn.functional.unfold(inputs, conv.kernel_size, conv.dilation, conv.padding, conv.stride)
    samples, m, n = cols.shape
    report = {"rows": m, "cols": n, "original_bytes": im2col_bytes(m, n, samples), "approximated": False}
    if isinstance(conv, ACAConv2d) and conv.approximate:
        result = aca(cols.float(), conv.eps, conv.max_rank, conv.stop)
        ranks = result.rank.tolist()
        compressed = sum(factor_bytes(r, m, n) for r in ranks)
        f = conv.out_channels
        report.update(
            approximated=True,
            eps=conv.eps,
            stop=conv.stop,
            compressed_bytes=compressed,
            ratio=compression_ratio(compressed, report["original_bytes"]),
            mean_rank=sum(ranks) / samples,
            max_rank=max(ranks),
            max_relative_error=float(result.relative_error(cols.float()).max()),
            direct_macs=direct_conv_macs(f, m, n),
            aca_macs=sum(aca_macs(m, n, r, checks=int(conv.stop == "exact")) for r in ranks) / samples,
            wuv_macs=sum(wuv_macs(f, m, n, r) for r in ranks) / samples,
        )
    return report


@torch.no_grad()
@register_task("im2col", config=Im2colTaskConfig, smoke=("task.images=8",))
def im2col_task(cfg: Config, ctx: RunContext) -> TaskResult:
    data, model, fields, _ = analysis_setup(cfg, ctx)
    _, images = sample_test_images(data, cfg.task.images, cfg.seed)
    convs = [conv for _, _, conv in convolutions(model)]
    captured: dict[int, torch.Tensor] = {}
    hooks = [
        conv.register_forward_pre_hook(lambda module, args, index=i: captured.__setitem__(index, args[0]))
        for i, conv in enumerate(convs)
    ]
    try:
        model(images)
    finally:
        for hook in hooks:
            hook.remove()
    layers = {f"layer{i + 1}": layer_report(conv, captured[i]) for i, conv in enumerate(convs)}
    fields.update(im2col=layers, im2col_images=len(images))
    lines = []
    for name, layer in layers.items():
        line = f"{name}: im2col {layer['original_bytes']:,} bytes"
        if layer["approximated"]:
            line += (
                f", ACA factors {layer['compressed_bytes']:,} bytes (ratio {layer['ratio']:.3f}, mean rank "
                f"{layer['mean_rank']:.2f}); MACs/image direct {layer['direct_macs']:,}, ACA "
                f"{layer['aca_macs']:,.0f} + W·U·V {layer['wuv_macs']:,.0f}"
            )
        lines.append(line)
    return TaskResult(fields, "\n".join(lines))
