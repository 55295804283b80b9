"""``task=reuse``: the computation-reuse census of the first conv layer (002, Tables 2–3).

Builds the configured model (and method), optionally loads trained weights
(``task.checkpoint``: a path, or ``auto`` for the newest ``ok`` training run of the same model,
method and data set), normalises ``task.images`` random test images (seeded by ``seed``) as
training does, and counts the (weight, input) pairs of the first layer's convolution of each
image at each precision; the record holds the per-image means (``reuse.<precision>.…``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lightcnn.config import Config, TaskConfig, option, require
from lightcnn.methods.reuse import census, mean_census
from lightcnn.methods.templates import conv_weight, first_conv
from lightcnn.tasks.analysis import analysis_setup, sample_test_images
from lightcnn.tasks.base import RunContext, TaskResult, register_task

REUSE_PRECISIONS = ("fixed8", "float16", "float32")


@dataclass
class ReuseTaskConfig(TaskConfig):
    """Census of repeated (weight, input) multiplications in the first conv layer."""

    name: str = "reuse"
    images: int = option(10, "random test images (chosen with the run's seed)")
    precisions: list[str] = option(
        factory=lambda: list(REUSE_PRECISIONS), help="number formats the reuse is counted in"
    )
    checkpoint: str | None = option(None, "null: the model as built; auto: the newest ok train run of it; or a path")

    def __post_init__(self) -> None:
        require(self.images >= 1, "images", self.images, "an integer >= 1")
        require(
            len(self.precisions) > 0 and all(p in REUSE_PRECISIONS for p in self.precisions),
            "precisions",
            list(self.precisions),
            f"a non-empty subset of {list(REUSE_PRECISIONS)}",
        )


@register_task("reuse", config=ReuseTaskConfig, smoke=("task.images=2",))
def reuse_task(cfg: Config, ctx: RunContext) -> TaskResult:
    data, model, fields, _ = analysis_setup(cfg, ctx)
    _, _, conv = first_conv(model)
    weight = conv_weight(conv).detach()
    chosen, images = sample_test_images(data, cfg.task.images, cfg.seed)
    stride, padding = conv.stride[0], conv.padding[0]
    reuse = {
        precision: mean_census([census(weight, image, precision, stride, padding) for image in images])
        for precision in cfg.task.precisions
    }
    fields.update(reuse=reuse, reuse_images=chosen.tolist())
    report = "\n".join(
        f"{p}: {v['distinct']:.1f} distinct pairs of {v['multiplications']:,} multiplications ({100 * v['ratio']:.2f}%)"
        for p, v in reuse.items()
    )
    return TaskResult(fields, report)
