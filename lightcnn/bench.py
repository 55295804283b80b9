"""Training-throughput benchmark: lightcnn's path against a plain PyTorch reference loop.

    python -m lightcnn.bench [--model resnet --depth 56 --set alpha=0.25] [--precision 32,auto] [--batch-size 128]

Both train the same model on the same synthetic CIFAR-shaped uint8 data with random crop
(pad 4) + horizontal flip, for ``--warmup`` untimed steps and then ``--steps`` timed steps, in
the same process, on the same device:

* reference: a map-style ``Dataset`` whose ``__getitem__`` crops and flips one image, a
  ``DataLoader`` (shuffle, ``--ref-workers`` worker processes) and a hand-written SGD loop;
* lightcnn: the device-resident data module (batch-wise augmentation on the device) and the
  Lightning module and trainer used by ``task=train``.

Without ``--model`` it measures ResNet-56, Oct-ResNet-56 (α=0.25) and MobileNet, each at float32
and at ``trainer.precision=auto`` (resolved for this device and model), against the float32
reference loop. One JSON object per model and precision is printed (``ours_images_per_s``,
``reference_images_per_s``, ``ratio`` = ours / reference, ``precision_used``), then a Markdown
table of them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader, Dataset

from lightcnn.config import COMPILE_MODES, PRECISIONS, AugmentConfig, DatasetConfig, TrainerConfig
from lightcnn.data.datasets import ImageData
from lightcnn.engine.devices import synchronize
from lightcnn.engine.precision import training_precision
from lightcnn.environment import device_name
from lightcnn.errors import UserError, fail
from lightcnn.models import InputSpec, build_model, model_config
from lightcnn.step_timing import training_images_per_s

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
PAD = 4


class CropFlipDataset(Dataset):
    """Per-sample transforms, as a torchvision pipeline does: pad + random crop, flip, normalise."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels
        self.mean = np.asarray(MEAN, np.float32)[:, None, None]
        self.std = np.asarray(STD, np.float32)[:, None, None]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = np.pad(self.images[index], ((0, 0), (PAD, PAD), (PAD, PAD)))
        top, left = np.random.randint(0, 2 * PAD + 1, size=2)
        image = image[:, top : top + 32, left : left + 32]
        if np.random.rand() < 0.5:
            image = image[:, :, ::-1]
        image = (image.astype(np.float32) / 255.0 - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(image)), int(self.labels[index])


def make_data(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, count).astype(np.int64)


def reference_images_per_s(model, images, labels, args, device) -> float:
    loader = DataLoader(
        CropFlipDataset(images, labels),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.ref_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.ref_workers > 0,
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    model.train()
    done, start = 0, 0.0
    while done < args.warmup + args.steps:
        for x, y in loader:
            if done == args.warmup:
                synchronize(device)
                start = time.perf_counter()
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done == args.warmup + args.steps:
                break
    synchronize(device)
    return args.steps * args.batch_size / (time.perf_counter() - start)


def ours_images_per_s(model, images, labels, args, device) -> float:
    tcfg = TrainerConfig(
        accelerator=device.type,
        max_epochs=1,
        batch_size=args.batch_size,
        lr=0.1,
        weight_decay=1e-4,
        schedule="constant",
        precision=args.precision,
        compile=args.compile,
        channels_last=args.channels_last,
        progress_bar=False,
        checkpoint=False,
    )
    dcfg = DatasetConfig(name="bench", augment=AugmentConfig(crop_padding=PAD, hflip=True))
    data = ImageData(
        torch.from_numpy(images),
        torch.from_numpy(labels),
        torch.from_numpy(images[:10]),
        torch.from_numpy(labels[:10]),
        MEAN,
        STD,
        num_classes=10,
    )
    return training_images_per_s(model, tcfg, dcfg, data, args.warmup, args.steps)


# what ``make bench`` measures: the CIFAR ResNet, the Octave ResNet and the depthwise MobileNet
SUITE = (("resnet", {"depth": 56}), ("oct_resnet", {"depth": 56, "alpha": 0.25}), ("mobilenet", {}))


def lightning_precision(value: str) -> str:
    return {"32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}.get(value, value)


def bench_model(name: str, values: dict, precisions: list[str], args, device) -> list[dict]:
    """The reference loop once, then lightcnn at each precision (``auto`` resolved for this device
    and model; a precision that resolves to one already measured reuses that measurement)."""
    images, labels = make_data(args.batch_size * (args.warmup + args.steps))
    spec = InputSpec(3, 32, 32, 10)
    cfg = model_config(name, **values)
    torch.manual_seed(0)
    reference = reference_images_per_s(build_model(cfg, spec).to(device), images, labels, args, device)
    measured: dict[str, float] = {}
    rows = []
    for requested in precisions:
        torch.manual_seed(0)
        net = build_model(cfg, spec)
        resolved = lightning_precision(training_precision(requested, device.type, net))
        if resolved not in measured:
            args.precision = resolved
            measured[resolved] = ours_images_per_s(net, images, labels, args, device)
        ours = measured[resolved]
        rows.append({
            "model": name,
            "model_config": values,
            "device": device_name(device),
            "batch_size": args.batch_size,
            "timed_steps": args.steps,
            "precision": requested,
            "precision_used": resolved,
            "compile": args.compile,
            "reference_workers": args.ref_workers,
            "ours_images_per_s": round(ours, 1),
            "reference_images_per_s": round(reference, 1),
            "ratio": round(ours / reference, 3),
        })  # fmt: skip
    return rows


def markdown(rows: list[dict]) -> str:
    """One line per model: the reference loop, then lightcnn at each precision with its ratio."""
    precisions = list(dict.fromkeys(r["precision"] for r in rows))
    head = "| model | reference loop (img/s) | " + " | ".join(f"lightcnn {p} (img/s, ×ref)" for p in precisions) + " |"
    lines = [head, "|" + "---|" * (2 + len(precisions))]
    for model in dict.fromkeys((r["model"], json.dumps(r["model_config"])) for r in rows):
        mine = [r for r in rows if (r["model"], json.dumps(r["model_config"])) == model]
        label = model[0] + "".join(f" {k}={v}" for k, v in mine[0]["model_config"].items())
        cells = [f"{r['ours_images_per_s']:.0f}, {r['ratio']:.2f}× ({r['precision_used']})" for r in mine]
        lines.append(f"| {label} | {mine[0]['reference_images_per_s']:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def checked_arguments(args: argparse.Namespace) -> tuple[torch.device, list[str], list[tuple[str, dict]]]:
    """The device, the precisions and the (model, model keys) to measure, every one checked before
    anything is timed: a bad value raises :class:`UserError` naming the option, the value and what
    is allowed (no traceback, no table half measured)."""
    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise UserError(f"--device={args.device!r} is not allowed: cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device={args.device!r} is not allowed: this machine has no CUDA GPU (torch "
                        f"{torch.__version__}); use --device cpu")  # fmt: skip
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    for value in precisions:
        if lightning_precision(value) not in PRECISIONS:
            raise UserError(
                f"--precision={value!r} is not allowed: one or more of {', '.join(PRECISIONS)}, comma-separated "
                "(32, 16 and bf16 are short for 32-true, 16-mixed and bf16-mixed)"
            )
    if not precisions:
        raise UserError(f"--precision={args.precision!r} is not allowed: at least one precision")
    if args.compile not in COMPILE_MODES:
        raise UserError(f"--compile={args.compile!r} is not allowed: one of {', '.join(COMPILE_MODES)}")
    for name, value in (("--batch-size", args.batch_size), ("--steps", args.steps)):
        if value < 1:
            raise UserError(f"{name}={value} is not allowed: at least 1")
    bad = [item for item in args.set if "=" not in item]
    if bad:
        raise UserError(f"--set {bad[0]!r} is not allowed: KEY=VALUE (alpha=0.25)")
    extra = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    if args.model is None:
        suite = [(name, {**values, **extra}) for name, values in SUITE]
    else:
        suite = [(args.model, {**({"depth": args.depth} if args.depth else {}), **extra})]
    for name, values in suite:
        model_config(name, **values)  # an unknown model or key, a value out of range
    return device, precisions, suite


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=None, help="one registered model (default: ResNet-56, Oct-ResNet-56, MobileNet)"
    )
    parser.add_argument("--depth", type=int, default=None, help="model.depth")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="another model key (alpha=0.25)"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--ref-workers",
        type=int,
        default=None,
        help="DataLoader workers of the reference (default: 2 on a CPU, which the workers share with the "
        "training; min(8, CPU cores) on a GPU, so the reference is not starved of data)",
    )
    parser.add_argument(
        "--precision", default="32,auto", help="lightcnn's precisions, comma-separated (32, auto, bf16-mixed)"
    )
    parser.add_argument("--compile", default="none", help="lightcnn's torch.compile mode")
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="NHWC (default: the model's choice)",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")  # the reference loop's (Lightning's are held back by the measurement)
    try:
        device, precisions, suite = checked_arguments(args)
    except UserError as err:
        fail(str(err))
    if args.ref_workers is None:
        args.ref_workers = min(8, os.cpu_count() or 1) if device.type == "cuda" else 2
    rows = []
    for name, values in suite:
        for row in bench_model(name, values, precisions, args, device):
            print(json.dumps(row), flush=True)
            rows.append(row)
    print(markdown(rows), flush=True)
    return rows


if __name__ == "__main__":
    main()
