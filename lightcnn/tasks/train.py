"""``task=train``: data → model → method → Lightning fit/test → profile → record fields."""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from lightcnn.config import Config
from lightcnn.data.datamodule import ImageDataModule
from lightcnn.engine.module import LitClassifier
from lightcnn.engine.profiling import count_params, model_fields
from lightcnn.engine.trainer import CHECKPOINT_DIR, make_trainer
from lightcnn.errors import ConfigValueError
from lightcnn.methods import MethodContext, apply_method
from lightcnn.models import build_model
from lightcnn.results.record import device_name, find_interrupted_checkpoint
from lightcnn.tasks import RunContext, TaskResult
from lightcnn.tasks.analysis import find_trained_checkpoint

log = logging.getLogger(__name__)
LAST_CHECKPOINT = f"{CHECKPOINT_DIR}/last.ckpt"


def resume_checkpoint(cfg: Config, ctx: RunContext) -> Path | None:
    """``resume=auto``: the last checkpoint of an interrupted run of this config, if any."""
    if cfg.resume == "never":
        return None
    if cfg.resume == "auto":
        return find_interrupted_checkpoint(ctx.results_dir, ctx.config_hash, LAST_CHECKPOINT)
    path = Path(cfg.resume).expanduser()
    if not path.is_file():
        raise ConfigValueError("resume", cfg.resume, "auto, never, or the path of an existing checkpoint")
    return path


def peak_memory_mb(device: torch.device) -> float:
    """Peak accelerator memory allocated, or the process's peak resident memory on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def last_metrics(module: LitClassifier, stage: str) -> dict[str, float]:
    entries = [h for h in module.history if h["stage"] == stage]
    return entries[-1] if entries else {}


def train_task(cfg: Config, ctx: RunContext) -> TaskResult:
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    tcfg = cfg.trainer
    datamodule = ImageDataModule(cfg.dataset, ctx.data_dir, tcfg.batch_size, tcfg.eval_batch_size, cfg.seed)
    datamodule.load()  # missing or corrupt data fails here, before anything is built
    spec = datamodule.spec
    shape = (spec.channels, spec.height, spec.width)
    method_context = MethodContext(
        datamodule=datamodule, input_shape=shape, find_baseline=lambda: find_trained_checkpoint(ctx, baseline=True)
    )
    net = apply_method(build_model(cfg.model, spec), cfg.method, method_context)
    size_fields, _ = model_fields(net, shape)  # before training: a model fvcore cannot trace fails early

    module = LitClassifier(net, tcfg)
    if tcfg.test_every_epoch:
        datamodule.eval_splits.append("test")
    module.val_stages = ["epoch_test" if split == "test" else split for split in datamodule.eval_splits]
    trainer, throughput, checkpoint = make_trainer(
        tcfg, ctx.run_dir, datamodule.has_val, bool(datamodule.eval_splits), method_context.callbacks
    )
    resume = resume_checkpoint(cfg, ctx)
    if resume is not None:
        log.info("resuming from %s", resume)
    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    if count_params(module.net) != (size_fields["params"], size_fields["trainable_params"]):
        size_fields, _ = model_fields(module.net, shape)  # the method changed the architecture during training
    fields = {
        **size_fields,
        "epochs": trainer.current_epoch,
        "train_time_s": round(time.perf_counter() - started, 3),
        "images_per_s": throughput.images_per_s,
        "resumed_from": str(resume) if resume else None,
    }
    if module.diverged:
        log.warning("training diverged (non-finite loss) in epoch %d", trainer.current_epoch)
        fields.update(status="diverged", test_acc=None, test_acc5=None)
    else:
        trainer.test(module, datamodule=datamodule, verbose=False)
        final = last_metrics(module, "test")
        fields.update(
            test_acc=final.get("test/acc"), test_acc5=final.get("test/acc5"), test_loss=final.get("test/loss")
        )
        if checkpoint is not None and checkpoint.best_model_path:
            fields["best_val_acc"] = float(checkpoint.best_model_score)
            trainer.test(module, datamodule=datamodule, ckpt_path=checkpoint.best_model_path, verbose=False)
            best = last_metrics(module, "test")
            fields.update(test_acc_at_best_val=best.get("test/acc"), test_acc5_at_best_val=best.get("test/acc5"))
    val = last_metrics(module, "val")
    fields.setdefault("best_val_acc", max((h["val/acc"] for h in module.history if h["stage"] == "val"), default=None))
    fields["final_val_acc"] = val.get("val/acc")
    fields["peak_mem_mb"] = round(peak_memory_mb(module.device), 1)
    fields["device"] = device_name(module.device)
    fields["history"] = [h for h in module.history if h["stage"] != "test"]
    fields.update(method_context.fields)
    ctx.is_main_process = trainer.is_global_zero
    return TaskResult(fields)
