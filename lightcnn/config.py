"""Structured configs: the schema of every config group, and its validation.

Hydra composes ``conf/*.yaml`` on top of these dataclasses, so unknown keys and wrong types
are rejected while the config is composed. Ranges are checked in each dataclass's
``__post_init__``, which runs when :func:`validate` turns the composed config into objects —
the first thing every task does, before any work starts.

Model and method schemas live next to their builders (``lightcnn.models``,
``lightcnn.methods``); :func:`lightcnn.registration.register_configs` puts every schema in the
ConfigStore group ``schema/<group>``, and a YAML option extends its schema with
``defaults: [/schema/model/resnet@_here_, _self_]``. This module imports neither torch nor any
other part of lightcnn but :mod:`lightcnn.errors`: it is the bottom layer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf

from lightcnn.errors import ConfigValueError, UserError

# --------------------------------------------------------------------------------------------
# small checks used by every schema


def option(default: Any = dataclasses.MISSING, help: str = "", *, factory: Callable[[], Any] | None = None) -> Any:  # noqa: A002
    """A config field with its description, ``field(metadata={"help": ...})`` as dataclass-based
    command lines keep it: ``depth: int = option(56, "6n + 2")``; ``factory`` makes a mutable
    default. ``lightcnn --help GROUP=OPTION`` and docs/options.md show the description."""
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def field_help(kind: type) -> dict[str, str]:
    """Each field of dataclass ``kind`` with its description (:func:`option`), inherited ones included."""
    return {f.name: f.metadata["help"] for f in dataclasses.fields(kind) if f.metadata.get("help")}


def require(ok: bool, key: str, value: Any, allowed: str) -> None:
    """Raise :class:`ConfigValueError` for ``key`` unless ``ok``."""
    if not ok:
        raise ConfigValueError(key, value, allowed)


def require_choice(key: str, value: Any, choices: tuple) -> None:
    require(value in choices, key, value, "one of " + ", ".join(map(str, choices)))


# --------------------------------------------------------------------------------------------
# dataset


@dataclass(frozen=True)
class InputSpec:
    """What a model is built for: image channels and size, and the number of classes."""

    channels: int
    height: int
    width: int
    num_classes: int


@dataclass
class AugmentConfig:
    """Batch-wise augmentation of training images, run on the accelerator.

    ``crop_padding`` (pixels) and ``shift_fraction`` (of the image side) both describe a random
    translation with zero fill: a random crop after padding by p pixels is a shift by up to ±p.
    When both are set, the larger shift wins.
    """

    crop_padding: int = option(0, "pad by p pixels, then crop at random: a random shift by up to ±p")
    shift_fraction: float = option(0.0, "a random shift by up to this fraction of the side (zero fill)")
    hflip: bool = option(False, "random horizontal flips")

    def __post_init__(self) -> None:
        require(self.crop_padding >= 0, "augment.crop_padding", self.crop_padding, "an integer >= 0")
        require(
            0.0 <= self.shift_fraction < 0.5, "augment.shift_fraction", self.shift_fraction, "a fraction in [0, 0.5)"
        )

    def max_shift_px(self, image_size: int) -> int:
        """The largest translation in pixels for an image of side ``image_size``."""
        return max(self.crop_padding, round(self.shift_fraction * image_size))


@dataclass
class DatasetConfig:
    name: str = MISSING
    val_fraction: float = option(0.0, "held out of the training set (seeded) for model selection")
    train_subset: int | None = option(None, "use only the first N training images (smoke runs)")
    test_subset: int | None = option(None, "use only the first N test images")
    augment: AugmentConfig = option(factory=AugmentConfig, help="crop_padding (pixels), shift_fraction, hflip")
    normalize: bool = option(True, "(x/255 − mean)/std per channel; false: x/255 in [0, 1] (as Chainer feeds images)")

    def __post_init__(self) -> None:
        require(0.0 <= self.val_fraction < 1.0, "val_fraction", self.val_fraction, "a fraction in [0, 1)")
        for key in ("train_subset", "test_subset"):
            value = getattr(self, key)
            require(value is None or value > 0, key, value, "null or an integer > 0")


@dataclass
class SyntheticDatasetConfig(DatasetConfig):
    """A small generated, learnable data set: one smooth random prototype per class plus noise."""

    name: str = "synthetic"
    num_train: int = option(512, "training images generated")
    num_test: int = option(256, "test images generated")
    channels: int = option(3, "3: CIFAR-shaped; 1 with image_size=28: MNIST-shaped")
    image_size: int = option(32, "side in pixels")
    num_classes: int = option(10, "classes (one learnable pattern each)")
    noise: float = option(0.35, "std of the per-pixel noise, relative to the prototype contrast")

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("num_train", "num_test", "channels", "num_classes"):
            require(getattr(self, key) > 0, key, getattr(self, key), "an integer > 0")
        require(self.image_size >= 8, "image_size", self.image_size, "an integer >= 8")
        require(self.noise >= 0, "noise", self.noise, "a number >= 0")


# --------------------------------------------------------------------------------------------
# model and method (subclassed next to their builders)


@dataclass
class ModelConfig:
    name: str = MISSING


@dataclass
class MethodConfig:
    name: str = MISSING


# --------------------------------------------------------------------------------------------
# trainer

PRECISIONS = ("auto", "32", "32-true", "bf16-mixed", "16-mixed", "tf32")
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune")
SCHEDULES = ("step", "cosine", "constant")


@dataclass
class TrainerConfig:
    """Lightning trainer, optimiser (SGD with momentum) and learning-rate schedule."""

    accelerator: str = option("auto", "Lightning's: auto | cpu | gpu | cuda | mps")
    devices: Any = option(1, "devices per node (an integer or auto); more than 1 needs trainer=ddp")
    strategy: str = option("auto", "Lightning's: auto | ddp | ddp_spawn | ddp_fork ...")
    num_nodes: int = option(1, "machines (SLURM: one task per device)")
    precision: str = option(
        "auto",
        "auto: bf16 autocast where the device computes bf16 in hardware, else float32; or 32 | bf16-mixed | 16-mixed "
        "| tf32 (CUDA)",
    )
    max_epochs: int = option(1, "training epochs (a method's own epochs, e.g. retrain_epochs, count within)")
    limit_train_batches: int | None = option(None, "batches per epoch (smoke runs); null = all")
    limit_eval_batches: int | None = option(None, "validation and test batches (smoke runs); null = all")
    batch_size: int = option(128, "training images per step (per device under DDP)")
    eval_batch_size: int = option(1000, "images per validation or test step")
    lr: float = option(0.1, "peak SGD learning rate")
    momentum: float = option(0.9, "SGD momentum")
    nesterov: bool = option(False, "Nesterov momentum")
    weight_decay: float = option(1e-4, "L2 penalty of SGD (every parameter)")
    schedule: str = option("step", "step (gamma at milestones) | cosine (to 0 at max_epochs) | constant")
    milestones: list[int] = option(factory=lambda: [82, 123], help="epochs, for schedule=step")
    gamma: float = option(0.1, "lr factor at each milestone, for schedule=step")
    warmup_epochs: int = option(0, "epochs at lr * warmup_factor before the schedule starts")
    warmup_factor: float = option(0.1, "lr multiplier during the warm-up epochs")
    compile: str = option("none", "torch.compile mode for the network")
    channels_last: bool | None = option(None, "NHWC activations; null = the model's preference")
    test_every_epoch: bool = option(False, "also evaluate the test set after each epoch (curves only, never selection)")
    progress_bar: bool = option(
        True, "a live bar on stderr when it is a terminal; plain epoch and step lines otherwise"
    )
    log_every_n_steps: int = option(50, "steps between training-loss rows of the loggers")
    checkpoint: bool = option(True, "last.ckpt every epoch (resume) and the best-on-validation checkpoint")
    extra: dict[str, Any] = option(
        factory=dict,
        help="any other pytorch_lightning.Trainer argument: +trainer.extra.gradient_clip_val=1.0 (Hydra adds keys "
        "with +) (checked against the Trainer's signature before any work)",
    )

    def __post_init__(self) -> None:
        self.precision = str(self.precision)
        require_choice("precision", self.precision, PRECISIONS)
        require_choice("compile", self.compile, COMPILE_MODES)
        require_choice("schedule", self.schedule, SCHEDULES)
        require(
            self.devices == "auto" or (isinstance(self.devices, int) and self.devices >= 1),
            "devices",
            self.devices,
            "an integer >= 1 or 'auto'",
        )
        for key in ("max_epochs", "batch_size", "eval_batch_size", "num_nodes", "log_every_n_steps"):
            require(getattr(self, key) >= 1, key, getattr(self, key), "an integer >= 1")
        for key in ("limit_train_batches", "limit_eval_batches"):
            value = getattr(self, key)
            require(value is None or value >= 1, key, value, "null or an integer >= 1")
        require(self.lr > 0, "lr", self.lr, "a number > 0")
        require(0 <= self.momentum < 1, "momentum", self.momentum, "a number in [0, 1)")
        require(self.weight_decay >= 0, "weight_decay", self.weight_decay, "a number >= 0")
        require(0 < self.gamma <= 1, "gamma", self.gamma, "a number in (0, 1]")
        require(self.warmup_epochs >= 0, "warmup_epochs", self.warmup_epochs, "an integer >= 0")
        require(0 < self.warmup_factor <= 1, "warmup_factor", self.warmup_factor, "a number in (0, 1]")
        require(
            list(self.milestones) == sorted(set(self.milestones)) and all(m >= 1 for m in self.milestones),
            "milestones",
            list(self.milestones),
            "strictly increasing epochs >= 1",
        )


# --------------------------------------------------------------------------------------------
# task


@dataclass
class TaskConfig:
    name: str = MISSING


# --------------------------------------------------------------------------------------------
# logger

LOGGERS = ("csv", "tensorboard", "mlflow")


@dataclass
class LoggerConfig:
    """Where a training run's metrics go besides ``metrics.csv`` (always written): nowhere else
    (``csv``), TensorBoard events in the run directory (the config with the record's results in
    its HParams tab), or an MLflow run with the config as parameters, every metric, the record's
    results, and the resolved config, ``result.json`` and ``metrics.csv`` as artifacts."""

    name: str = "csv"
    tracking_uri: str = option("sqlite:///${results_dir}/mlflow.db", "mlflow: the tracking store")
    experiment_name: str = option("lightcnn", "mlflow: the experiment runs are filed under")
    artifact_location: str = option("${results_dir}/mlartifacts", "mlflow: where a new experiment keeps run files")

    def __post_init__(self) -> None:
        require_choice("name", self.name, LOGGERS)


# --------------------------------------------------------------------------------------------
# root

GROUPS = ("dataset", "model", "method", "trainer", "task", "logger")
# Keys that say where things are or how a run is observed, not what is computed: left out of
# the config hash, so moving the data or hiding the progress bar does not make a new config.
RUNTIME_KEYS = (
    "data_dir",
    "results_dir",
    "skip_existing",
    "resume",
    "trainer.progress_bar",
    "trainer.log_every_n_steps",
    "trainer.checkpoint",
    "task.print_table",
    "logger",
)


@dataclass
class Config:
    dataset: DatasetConfig = option(MISSING, "the data set (dataset=NAME)")
    model: ModelConfig = option(MISSING, "the network (model=NAME)")
    method: MethodConfig = option(MISSING, "the compression method (method=NAME; none: the model as built)")
    trainer: TrainerConfig = option(MISSING, "Lightning trainer, optimiser and schedule (trainer=default | ddp)")
    task: TaskConfig = option(MISSING, "what the run does (task=train | profile | latency | ...)")
    logger: LoggerConfig = option(factory=LoggerConfig, help="where metrics go besides the record (logger=NAME)")
    profile: str = option("quick", "the size of the schedules (profile=smoke | quick | cpu | paper)")
    seed: int = option(0, "seeds the weights, the data order and the augmentation")
    data_dir: str = option("./data", "where the data sets are (or are downloaded to)")
    results_dir: str = option("./results", "where run directories and records go")
    skip_existing: bool = option(True, "skip a run whose config already has an ok record")
    resume: str = option("auto", "auto: resume an interrupted run of this config; never; or a checkpoint path")

    def __post_init__(self) -> None:
        require(self.seed >= 0, "seed", self.seed, "an integer >= 0")


def unknown_keys(node: DictConfig, prefix: str = "") -> list[tuple[str, list[str]]]:
    """Keys added (with ``+key=…``) to a structured node that its dataclass does not have."""
    found = []
    kind = OmegaConf.get_type(node)
    allowed = [f.name for f in dataclasses.fields(kind)] if dataclasses.is_dataclass(kind) else None
    for key in node.keys():
        full = f"{prefix}{key}"
        if allowed is not None and key not in allowed and full != "hydra":
            found.append((full, allowed))
        child = node._get_node(key)
        if isinstance(child, DictConfig) and full != "hydra" and not child._is_missing() and not child._is_none():
            found += unknown_keys(child, f"{full}.")
    return found


def non_finite(data: Any, prefix: str = "") -> tuple[str, float] | None:
    """The first number in ``data`` (nested dicts and lists) that is NaN or infinite."""
    if isinstance(data, float) and not math.isfinite(data):
        return prefix, data
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = non_finite(value, f"{prefix}.{key}" if prefix else str(key))
        if found:
            return found
    return None


def validate(cfg: DictConfig) -> Config:
    """Check every key and range of the composed config and return it as typed objects.

    Raises :class:`UserError` for a key the schema does not have and
    :class:`ConfigValueError` naming the full key (``model.depth``) for a value out of range
    (no number anywhere may be NaN or infinite).
    """
    unknown = unknown_keys(cfg)
    if unknown:
        key, allowed = unknown[0]
        raise UserError(f"{key}: unknown key; allowed keys here: {', '.join(allowed)}")
    container = OmegaConf.to_container(cfg, resolve=True)
    container.pop("hydra", None)
    bad = non_finite(container)
    if bad:
        raise ConfigValueError(bad[0], bad[1], "a finite number")
    for group in GROUPS:
        try:
            OmegaConf.to_object(cfg[group])
        except ConfigValueError as err:
            raise err.with_prefix(group) from None
    return OmegaConf.to_object(cfg)


def without_empty_mappings(data: Any) -> Any:
    """``data`` without keys whose value is an empty mapping: an option key that holds nothing
    (``trainer.extra: {}``) hashes as if it did not exist, so adding one to a schema keeps the
    hashes of every earlier record."""
    if isinstance(data, dict):
        return {k: without_empty_mappings(v) for k, v in data.items() if v != {}}
    return data


def config_hash(cfg: DictConfig | dict) -> str:
    """A short stable hash of the resolved config without its runtime keys (``RUNTIME_KEYS``)
    and empty mappings."""
    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else json.loads(json.dumps(cfg))
    data.pop("hydra", None)
    for key in RUNTIME_KEYS:
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    text = json.dumps(without_empty_mappings(data), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
