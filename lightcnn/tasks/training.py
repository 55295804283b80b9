"""The training behind ``task=train``: data → model → method → Lightning fit/test → profile → record fields."""

from __future__ import annotations

import copy
import logging
import math
import resource
import signal
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException

from lightcnn.config import Config
from lightcnn.data.datamodule import ImageDataModule
from lightcnn.data.datasets import training_images
from lightcnn.engine.callbacks import RebuildsArchitecture
from lightcnn.engine.checkpoint_io import CHECKPOINT_DIR, RunInterrupted, load_checkpoint
from lightcnn.engine.checkpointing import epoch_checkpoint, received_signal
from lightcnn.engine.compile_cache import discard_named_objects
from lightcnn.engine.loggers import log_results, make_loggers
from lightcnn.engine.module import LitClassifier
from lightcnn.engine.precision import device_type, training_precision
from lightcnn.engine.profiling import count_params, model_fields
from lightcnn.engine.trainer import check_extra, make_trainer
from lightcnn.environment import device_name
from lightcnn.errors import ConfigValueError
from lightcnn.methods import MethodContext, apply_method
from lightcnn.models import build_model
from lightcnn.record import Status
from lightcnn.tasks.base import RunContext, TaskResult
from lightcnn.tasks.profile import before_method

log = logging.getLogger(__name__)


def peak_memory_mb(device: torch.device) -> float:
    """Peak accelerator memory allocated since :func:`reset_peak_memory`, or the process's peak
    resident memory on the CPU (the kernel keeps no resettable peak: it covers the whole process)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def reset_peak_memory(device: torch.device) -> None:
    """Start the accelerator's peak from here (the method's own use before fitting left out)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


FORKING_STRATEGIES = ("ddp_fork", "ddp_notebook")


def check_precision_before_fork(tcfg) -> None:
    """``precision=auto`` asks the GPU whether it runs bf16, which initialises CUDA in this process;
    processes forked after that cannot use CUDA (ddp_fork, ddp_notebook): refuse, naming the fix."""
    forking = str(tcfg.strategy) in FORKING_STRATEGIES
    if tcfg.precision == "auto" and forking and device_type(tcfg.accelerator) == "cuda":
        allowed = (f"an explicit precision (bf16-mixed or 32) with trainer.strategy={tcfg.strategy}: "
                   "deciding auto initialises CUDA before the fork")  # fmt: skip
        raise ConfigValueError("trainer.precision", "auto", allowed, full_key=True)


def training_processes(tcfg) -> int:
    """How many processes train (DDP ranks on this node), as the method must know before Lightning starts them."""
    if not str(tcfg.strategy).startswith("ddp"):
        return 1
    if isinstance(tcfg.devices, int):
        return tcfg.devices
    if isinstance(tcfg.devices, list | tuple):
        return len(tcfg.devices)
    return max(1, torch.cuda.device_count())  # "auto": every GPU (one CPU process without one)


def last_metrics(module: LitClassifier, stage: str) -> dict[str, float]:
    entries = [h for h in module.history if h["stage"] == stage]
    return entries[-1] if entries else {}


def check_batches(cfg: Config, datamodule: ImageDataModule) -> None:
    """Training drops the last partial batch: a training split smaller than one batch trains nothing."""
    train_idx, _ = datamodule.split_indices()
    if len(train_idx) < cfg.trainer.batch_size:
        raise ConfigValueError(
            "trainer.batch_size",
            cfg.trainer.batch_size,
            f"at most the {len(train_idx)} training images of this split (dataset.train_subset, "
            "dataset.val_fraction): a run must train at least one full batch",
        )


def fit_to_checkpoint(module: LitClassifier, path: Path, callbacks: list) -> bool:
    """Whether the checkpoint's weights have this model's shapes, after rebuilding the model's
    architecture where it can (the only case that changes ``module``). A run that pruned during
    training checkpoints a smaller architecture than the one it starts from: the callbacks that
    pruned (:class:`~lightcnn.engine.callbacks.RebuildsArchitecture`) rebuild it on a copy of the net from their
    checkpointed state, and the module takes the copy when its shapes are the checkpoint's."""
    checkpoint = load_checkpoint(path)

    def fits(state: dict) -> bool:
        return checkpoint["state_dict"].keys() == state.keys() and all(
            checkpoint["state_dict"][k].shape == v.shape for k, v in state.items()
        )

    if fits(module.state_dict()):
        return True
    states = checkpoint.get("callbacks") or {}
    rebuilders = [c for c in callbacks if isinstance(c, RebuildsArchitecture) and c.state_key in states]
    if not rebuilders:
        return False
    net = copy.deepcopy(module.net)
    for callback in rebuilders:
        callback.restore_architecture(net, states[callback.state_key])
    others = {k: v for k, v in module.state_dict().items() if not k.startswith("net.")}
    if not fits({**others, **{f"net.{k}": v for k, v in net.state_dict().items()}}):
        return False
    module.net = net
    return True


def finite_weights(module: LitClassifier) -> bool:
    return all(torch.isfinite(p).all().item() for p in module.net.parameters())


@dataclass
class Training:
    """What one training run is made of, built before Lightning starts."""

    datamodule: ImageDataModule
    module: LitClassifier
    method_context: MethodContext
    shape: tuple[int, int, int]
    size_fields: dict
    precision: str
    loggers: list
    trainer: pl.Trainer
    throughput: object
    checkpoint: object


def plan_line(cfg: Config, precision: str) -> str:
    """``resnet on cifar10 (47,500 training images), 30 epochs of batch 128, on cpu, …``."""
    tcfg = cfg.trainer
    epochs = f"{tcfg.max_epochs} epoch{'s' if tcfg.max_epochs != 1 else ''}"
    batches = tcfg.limit_train_batches  # smoke: a few batches of the set, not all of it
    steps = (
        f"{batches} batch{'es' if batches != 1 else ''} of {tcfg.batch_size}" if batches else f"batch {tcfg.batch_size}"
    )
    threads = torch.get_num_threads()
    return (f"{cfg.model.name} on {cfg.dataset.name} ({training_images(cfg.dataset):,} training images), "
            f"{epochs} of {steps}, on {device_type(tcfg.accelerator)}, {precision}, "
            f"{threads} CPU thread{'s' if threads != 1 else ''}")  # fmt: skip


def build_training(cfg: Config, ctx: RunContext) -> Training:
    """Data (missing or corrupt data fails first), the model with its method, the Lightning module,
    loggers and trainer."""
    tcfg = cfg.trainer
    datamodule = ImageDataModule(cfg.dataset, ctx.data_dir, tcfg.batch_size, tcfg.eval_batch_size, cfg.seed)
    datamodule.load()
    check_batches(cfg, datamodule)
    spec = datamodule.spec
    shape = (spec.channels, spec.height, spec.width)
    baseline = Path(ctx.dependency["checkpoint"]) if ctx.dependency else None
    method_context = MethodContext(datamodule=datamodule, input_shape=shape, find_baseline=lambda: baseline,
                                   checkpoint_dir=ctx.run_dir / CHECKPOINT_DIR,
                                   processes=training_processes(tcfg))  # fmt: skip
    net = apply_method(build_model(cfg.model, spec), cfg.method, method_context)
    size_fields, _ = model_fields(net, shape)  # before training: a model fvcore cannot trace fails early
    method_context.fields.update(before_method(cfg, spec, shape))
    module = LitClassifier(net, tcfg)
    if tcfg.test_every_epoch:
        datamodule.eval_splits.append("test")
    module.val_stages = ["epoch_test" if split == "test" else split for split in datamodule.eval_splits]
    precision = training_precision(tcfg.precision, tcfg.accelerator, net)
    loggers = make_loggers(ctx.run_dir, cfg.logger, ctx.run_id, ctx.config_container)
    trainer, throughput, checkpoint = make_trainer(
        tcfg, ctx.run_dir, datamodule.has_val, bool(datamodule.eval_splits), method_context.callbacks, precision,
        loggers, plan_line(cfg, precision),
    )  # fmt: skip
    return Training(datamodule, module, method_context, shape, size_fields, precision, loggers, trainer, throughput,
                    checkpoint)  # fmt: skip


def resume_point(ctx: RunContext, run: Training) -> Path | None:
    """The checkpoint to continue from (None: start), with the notes on why another was not used."""
    resume = ctx.resume_from
    if resume is not None and not fit_to_checkpoint(run.module, resume, run.method_context.callbacks):
        ctx.resume_notes.append(f"{resume} holds another architecture than this run builds: started again")
        resume = None
    for note in ctx.resume_notes:
        log.warning("%s", note)
    if resume is not None:
        log.info("resuming from %s", resume)
    return resume


def fit(run: Training, resume: Path | None, compile_mode: str) -> dict:
    """Lightning's fit; an interruption (our stop after the step, Lightning's own on SIGTERM, or
    any failure once a signal came) becomes the fields of an interrupted run."""
    try:
        run.trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=resume, weights_only=True)
    except (Exception, SIGTERMException) as stop:  # Lightning's SIGTERMException is a SystemExit
        # a signal sent to the process group also ends the run's children (the inductor's C++ compiler, data workers)
        stopped = isinstance(stop, (RunInterrupted, SIGTERMException))
        signum = getattr(stop, "signum", None) or (signal.SIGTERM if stopped else received_signal(run.trainer))
        if not stopped and compile_mode != "none":
            discard_named_objects(stop)  # what a killed g++ left half-written
        if signum is None:
            raise
        message = (str(stop).splitlines() or [""])[0][:200]  # a message may be empty
        cause = "" if stopped else f" ({type(stop).__name__} in the step it ended: {message})"
        name = signal.Signals(signum).name
        log.warning("stopped by %s%s: run the same config again to resume", name, cause)
        return {"status": Status.INTERRUPTED, "error": f"interrupted by {name}{cause}", "exit_code": 128 + signum}
    return {}


def fit_and_test(cfg: Config, ctx: RunContext) -> TaskResult:
    tcfg = cfg.trainer
    check_extra(tcfg.extra)
    check_precision_before_fork(tcfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    run = build_training(cfg, ctx)
    module, trainer = run.module, run.trainer
    resume = resume_point(ctx, run)
    fields = {"resumed_from": str(resume) if resume else None, "resume_notes": list(ctx.resume_notes),
              "precision": run.precision}  # fmt: skip
    trained_on = trainer.strategy.root_device  # the module is back on the CPU once Lightning tears down
    reset_peak_memory(trained_on)
    stopped = fit(run, resume, tcfg.compile)
    exit_code = stopped.pop("exit_code", 0)
    fields.update(stopped)
    size_fields = run.size_fields
    if count_params(module.net) != (size_fields["params"], size_fields["trainable_params"]):
        size_fields, _ = model_fields(module.net, run.shape)  # the method changed the architecture during training
    fields.update(
        **size_fields,
        epochs=trainer.current_epoch,
        train_time_s=round(epoch_checkpoint(trainer).train_time_s(), 3),  # every attempt's, up to its checkpoint
        images_per_s=run.throughput.images_per_s,  # every attempt's, as train_time_s
    )
    if resume:
        fields["images_per_s_last_attempt"] = run.throughput.attempt_images_per_s
    if exit_code:
        pass
    elif module.diverged or not finite_weights(module):
        log.warning("training diverged (non-finite loss or weights) in epoch %d", trainer.current_epoch)
        fields.update(
            status=Status.DIVERGED, error="non-finite training loss or weights", test_acc=None, test_acc5=None
        )
    else:
        evaluate_test(trainer, module, run.datamodule, run.checkpoint, fields)
    val = last_metrics(module, "val")
    fields.setdefault("best_val_acc", max((h["val/acc"] for h in module.history if h["stage"] == "val"), default=None))
    fields["final_val_acc"] = val.get("val/acc")
    fields["peak_mem_mb"] = round(peak_memory_mb(trained_on), 1)
    fields["device"] = device_name(trained_on)
    if trained_on.type == "cpu":  # a job beside another trains with part of the cores (reproduce --jobs)
        fields["cpu_threads"] = torch.get_num_threads()
    fields["history"] = [h for h in module.history if h["stage"] != "test"]
    fields.update(run.method_context.fields)
    ctx.is_main_process = trainer.is_global_zero
    return TaskResult(fields, exit_code=exit_code, on_record=partial(log_results, run.loggers, ctx.run_dir))


def evaluate_test(trainer: pl.Trainer, module: LitClassifier, datamodule, checkpoint, fields: dict) -> None:
    """Test the final weights and, with a validation split, the best-on-validation checkpoint."""
    trainer.test(module, datamodule=datamodule, verbose=False)
    final = last_metrics(module, "test")
    fields.update(test_acc=final.get("test/acc"), test_acc5=final.get("test/acc5"), test_loss=final.get("test/loss"))
    if fields["test_loss"] is None or not math.isfinite(fields["test_loss"]):
        fields.update(status=Status.DIVERGED, error=f"test loss is {fields['test_loss']}")
        return
    if checkpoint is not None and checkpoint.best_model_path and checkpoint.best_model_score is not None:
        fields["best_val_acc"] = float(checkpoint.best_model_score)
        trainer.test(
            module, datamodule=datamodule, ckpt_path=checkpoint.best_model_path, verbose=False, weights_only=True
        )
        best = last_metrics(module, "test")
        fields.update(test_acc_at_best_val=best.get("test/acc"), test_acc5_at_best_val=best.get("test/acc5"))
    elif datamodule.has_val:
        log.info("test_acc_at_best_val not measured: trainer.checkpoint=false keeps no weights of the best "
                 "validation epoch (trainer.checkpoint=true measures it)")  # fmt: skip
