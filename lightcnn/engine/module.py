"""The LightningModule: cross-entropy classification with SGD, top-1/top-5 accuracy.

Per-stage metrics are torchmetrics (:func:`stage_metrics`: the sample-weighted mean loss, top-1
and top-5 accuracy), updated on the device without argument checks, so the hot loop never
waits on the host, and computed once per epoch (synchronised across DDP ranks there). A
non-finite loss (checked every ``log_every_n_steps`` steps and at each epoch end) stops training
and marks the module ``diverged``.
"""

from __future__ import annotations

import random

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection, SumMetric
from torchmetrics.classification import MulticlassAccuracy

from lightcnn.config import TrainerConfig
from lightcnn.engine.schedule import lr_factor


def rng_states() -> dict:
    """Every random generator a run draws from (augmentation uses torch's global generators), in
    a form that loads with ``weights_only=True``."""
    mt, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [mt, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    mt, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((mt, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def rank_seed(seed: int, rank: int) -> int:
    """The seed of DDP rank ``rank``'s augmentation stream (rank 0 keeps ``seed``)."""
    return (seed + 1_000_003 * rank) % 2**63


def use_channels_last(cfg: TrainerConfig, net: nn.Module, device: str = "cpu") -> bool:
    """``trainer.channels_last``, or when it is null the model's ``prefers_channels_last`` on a
    CPU (NHWC speeds up plain conv stacks but slows the pooling and slicing of OctConv on CPUs);
    on a GPU null is NCHW, that preference being a CPU measurement."""
    if cfg.channels_last is not None:
        return cfg.channels_last
    return device == "cpu" and bool(getattr(net, "prefers_channels_last", False))


def stage_metrics(num_classes: int) -> MetricCollection:
    """A stage's metrics: the mean loss over samples (a non-finite loss stays visible: no NaN
    filtering), top-1 and top-5 accuracy (top-k capped at the class count); no argument checks
    in the step (they would read values back from the device)."""

    local = {"sync_on_compute": False}  # synchronised where every rank computes (epoch_values), not for a log line

    def accuracy(k: int) -> MulticlassAccuracy:
        top_k = min(k, num_classes)
        return MulticlassAccuracy(num_classes, top_k=top_k, average="micro", validate_args=False, **local)

    # the loss as a sum and a count: torchmetrics 1.9's MeanMetric ignores its weights with
    # nan_strategy="disable" (tests/test_training.py), and any other strategy would hide a NaN
    sums = {name: SumMetric(nan_strategy="disable", **local) for name in ("loss_sum", "count")}
    return MetricCollection({**sums, "acc": accuracy(1), "acc5": accuracy(5)})


def epoch_values(metrics: MetricCollection) -> dict[str, float]:
    """Each metric over every process's samples (a DDP sync where there are several processes)."""
    values = {}
    for name, metric in metrics.items():
        with metric.sync_context():
            values[name] = float(metric.compute())
    return with_mean_loss(values)


def running_values(metrics: MetricCollection) -> dict[str, float]:
    """Each metric over this process's samples so far (a progress line: no sync, states kept)."""
    return with_mean_loss({name: float(metric.compute()) for name, metric in metrics.items()})


def with_mean_loss(values: dict[str, float]) -> dict[str, float]:
    """``loss``: the mean over samples, from the loss sum and the sample count."""
    loss_sum, count = values.pop("loss_sum"), values.pop("count")
    return {"loss": loss_sum / count if count else float("nan"), **values}


class LitClassifier(pl.LightningModule):
    def __init__(self, net: nn.Module, cfg: TrainerConfig) -> None:
        super().__init__()
        self.net, self.cfg = net, cfg
        self.diverged = False
        self._rng_restored = False  # a checkpoint gave this process its generators back
        self.channels_last = False  # decided in configure_model
        # stage names of the validation loop's loaders: "val" (selection), "epoch_test" (curves only)
        self.val_stages: list[str] = ["val"]
        self.history: list[dict[str, float]] = []  # one entry per finished epoch and stage
        self.__dict__["_metrics"] = {}  # stage → MetricCollection, made at its first step (the class count is
        # read from the logits); outside the module tree: not in state_dict, moved by nobody but the step
        self._epoch_lr: float | None = None
        # a compiled view of the net, kept out of the module tree so checkpoints stay portable
        self.__dict__["_compiled"] = None

    def configure_model(self) -> None:
        device = self.trainer.strategy.root_device.type if self._trainer is not None else "cpu"
        self.channels_last = use_channels_last(self.cfg, self.net, device)
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)
        if self.cfg.compile != "none" and self._compiled is None:
            self.__dict__["_compiled"] = torch.compile(self.net, mode=self.cfg.compile)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        # the compiled (graph-captured) net serves training, whose batches all have one shape;
        # evaluation runs eagerly so a short last batch never triggers a recompilation
        compiled = self._compiled if self.training else None
        return (compiled if compiled is not None else self.net)(images)

    # ---------------------------------------------------------------- steps

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits.float(), labels)
        with torch.no_grad():
            metrics = self._metrics.get(stage)
            if metrics is None:
                metrics = self._metrics[stage] = stage_metrics(logits.shape[1]).to(logits.device)
            # the count filled on the device: a tensor made from a Python int would copy from the host and wait
            n = torch.full((), labels.shape[0], dtype=torch.float32, device=labels.device)
            metrics["loss_sum"].update(loss.detach().float() * n)
            metrics["count"].update(n)
            metrics["acc"].update(logits, labels)
            metrics["acc5"].update(logits, labels)
        return loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, "train")
        if batch_idx % self.cfg.log_every_n_steps == 0:
            self._check_finite()
        return loss

    def validation_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._step(batch, self.val_stages[dataloader_idx])

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def _check_finite(self) -> None:
        """Stop on a non-finite training loss, decided by every rank together: a rank that stopped
        alone would leave the others waiting at the next collective."""
        metrics = self._metrics.get("train")
        finite = metrics is None or bool(torch.isfinite(metrics["loss_sum"].sum_value).item())
        if not self.trainer.strategy.reduce_boolean_decision(finite, all=True):
            self.diverged = True
            self.trainer.should_stop = True

    def on_train_start(self) -> None:
        """Under DDP every process was seeded alike (``seed_everything``): from here each rank
        draws its own augmentation stream (rank 0 the single-process one), unless a checkpoint
        gave it back its own."""
        if self.trainer.world_size > 1 and self.trainer.global_rank > 0 and not self._rng_restored:
            torch.manual_seed(rank_seed(torch.initial_seed(), self.trainer.global_rank))

    # ---------------------------------------------------------------- epoch ends

    def _log_epoch(self, stage: str) -> None:
        collection = self._metrics.pop(stage, None)
        if collection is None:
            return
        values = epoch_values(collection)
        metrics = {
            f"{stage}/loss": values["loss"],
            f"{stage}/acc": 100.0 * values["acc"],
            f"{stage}/acc5": 100.0 * values["acc5"],
        }
        if stage == "train" and self._epoch_lr is not None:
            metrics["lr"] = self._epoch_lr
        self.log_dict(metrics, prog_bar=stage != "test", sync_dist=False)
        self.history.append({"stage": stage, "epoch": self.current_epoch, **metrics})

    def on_train_epoch_start(self) -> None:
        # the rate this epoch trains at (Lightning steps an epoch scheduler before the epoch-end hook)
        self._epoch_lr = float(self.trainer.optimizers[0].param_groups[0]["lr"]) if self.trainer.optimizers else None

    def on_train_epoch_end(self) -> None:
        self._check_finite()
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        for stage in self.val_stages:
            self._log_epoch(stage)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    # ---------------------------------------------------------------- checkpoints

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """What an exact resume needs beyond Lightning's state: the history and the generators."""
        state = {"history": self.history, "diverged": self.diverged, "rng": rng_states()}
        if self._trainer is not None and self.trainer.world_size > 1 and torch.distributed.is_initialized():
            per_rank: list = [None] * self.trainer.world_size  # every rank saves; rank 0 writes the file
            torch.distributed.all_gather_object(per_rank, state["rng"])
            state["rng_per_rank"] = per_rank
        checkpoint["lightcnn"] = state

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("lightcnn")
        if state is None or self._trainer is None or self.trainer.state.fn != "fit":
            return  # weights only: another program's checkpoint, or testing a saved checkpoint
        self.history = [dict(entry) for entry in state["history"]]
        self.diverged = bool(state["diverged"])
        per_rank = state.get("rng_per_rank") or []
        if len(per_rank) == self.trainer.world_size:  # DDP: each rank its own stream
            set_rng_states(per_rank[self.trainer.global_rank])
            self._rng_restored = True
        else:  # one process (or another number of them: the ranks above 0 draw fresh streams)
            set_rng_states(state["rng"])
            self._rng_restored = self.trainer.world_size == 1

    # ---------------------------------------------------------------- optimisation

    def configure_optimizers(self):
        trainable = [p for p in self.net.parameters() if p.requires_grad]  # frozen weights get no state
        optimizer = torch.optim.SGD(
            trainable,
            lr=self.cfg.lr,
            momentum=self.cfg.momentum,
            nesterov=self.cfg.nesterov,
            weight_decay=self.cfg.weight_decay,
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: lr_factor(epoch, self.cfg))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
