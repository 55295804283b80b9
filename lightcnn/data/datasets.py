"""Load a configured data set into memory as uint8 tensors, with its input spec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lightcnn.config import DatasetConfig, InputSpec, SyntheticDatasetConfig
from lightcnn.data.formats import find_idx_file, read_cifar_batch, read_idx_pair
from lightcnn.data.sources import SOURCES, DatasetSource
from lightcnn.data.synthetic import make_synthetic
from lightcnn.errors import ConfigValueError, DataError

SYNTHETIC_MEAN, SYNTHETIC_STD = 0.5, 0.25


@dataclass
class ImageData:
    """A data set in memory: uint8 images ``(N, C, H, W)``, int64 labels, and how to normalise."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int

    @property
    def spec(self) -> InputSpec:
        _, channels, height, width = self.train_x.shape
        return InputSpec(channels, height, width, self.num_classes)


def dataset_names() -> list[str]:
    return sorted([*SOURCES.names(), "synthetic"])


def _source(name: str) -> DatasetSource:
    if name not in SOURCES:
        raise ConfigValueError("dataset.name", name, "one of " + ", ".join(dataset_names()))
    return SOURCES.get(name).target


def input_spec(cfg: DatasetConfig) -> InputSpec:
    """Image shape and class count of a data set, known without reading it."""
    if isinstance(cfg, SyntheticDatasetConfig):
        return InputSpec(cfg.channels, cfg.image_size, cfg.image_size, cfg.num_classes)
    source = _source(cfg.name)
    return InputSpec(source.channels, source.image_size, source.image_size, source.num_classes)


def training_images(cfg: DatasetConfig) -> int:
    """How many images one training epoch sees (subset and validation split applied), without
    reading the data."""
    total = cfg.num_train if isinstance(cfg, SyntheticDatasetConfig) else _source(cfg.name).train_images
    total = min(total, cfg.train_subset or total)
    return total - int(round(cfg.val_fraction * total))


def missing_files(source: DatasetSource, data_dir: Path) -> list[Path]:
    """The files of ``source`` that are not under ``data_dir`` (IDX files may be gzipped)."""
    missing = []
    for rel in source.files:
        path = data_dir / rel
        present = find_idx_file(path.parent, path.name) if source.fmt == "idx" else (path if path.is_file() else None)
        if present is None:
            missing.append(path)
    return missing


def _read_real(source: DatasetSource, data_dir: Path) -> tuple[np.ndarray, ...]:
    try:
        return _read_files(source, data_dir)
    except DataError as err:  # the readers know a file, not its data set: the hint gets the command
        command = f"lightcnn task=download dataset={source.name} data_dir={data_dir}"
        raise DataError(str(err).replace("lightcnn task=download dataset=...", command)) from None


def _read_files(source: DatasetSource, data_dir: Path) -> tuple[np.ndarray, ...]:
    missing = missing_files(source, data_dir)
    if missing:
        listed = ", ".join(str(p) + (" (or .gz)" if source.fmt == "idx" else "") for p in missing)
        raise DataError(
            f"dataset {source.name}: missing {listed}; run `lightcnn task=download dataset={source.name} "
            f"data_dir={data_dir}` or copy the official files there"
        )
    if source.fmt == "cifar":
        parts = [read_cifar_batch(data_dir / rel, source.num_classes) for rel in source.files]
        train = parts[: len(source.train_files)]
        train_x = np.concatenate([x for x, _ in train])
        train_y = np.concatenate([y for _, y in train])
        test_x, test_y = parts[-1]
        return train_x, train_y, test_x, test_y
    paths = [data_dir / rel for rel in source.files]
    found = [find_idx_file(p.parent, p.name) for p in paths]
    train_x, train_y = read_idx_pair(found[0], found[1], source.num_classes)
    test_x, test_y = read_idx_pair(found[2], found[3], source.num_classes)
    return train_x, train_y, test_x, test_y


def load_dataset(cfg: DatasetConfig, data_dir: Path) -> ImageData:
    """Read (or generate) the data set of ``cfg``; subsets are taken here."""
    if isinstance(cfg, SyntheticDatasetConfig):
        arrays = make_synthetic(cfg.num_train, cfg.num_test, cfg.channels, cfg.image_size, cfg.num_classes, cfg.noise)
        mean, std = (SYNTHETIC_MEAN,) * cfg.channels, (SYNTHETIC_STD,) * cfg.channels
        num_classes = cfg.num_classes
    else:
        source = _source(cfg.name)
        arrays = _read_real(source, data_dir)
        mean, std, num_classes = source.mean, source.std, source.num_classes
    if not cfg.normalize:
        mean, std = (0.0,) * len(mean), (1.0,) * len(std)
    train_x, train_y, test_x, test_y = (torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
    for key, subset, images in (("train_subset", cfg.train_subset, train_x), ("test_subset", cfg.test_subset, test_x)):
        if subset is not None and subset > len(images):  # a silent cap would run less than the record says
            raise ConfigValueError(f"dataset.{key}", subset, f"at most the {len(images):,} images of {cfg.name}'s "
                                   f"{key.split('_')[0]} set (null: all of them)", full_key=True)  # fmt: skip
    if cfg.train_subset is not None:
        train_x, train_y = train_x[: cfg.train_subset], train_y[: cfg.train_subset]
    if cfg.test_subset is not None:
        test_x, test_y = test_x[: cfg.test_subset], test_y[: cfg.test_subset]
    return ImageData(train_x, train_y, test_x, test_y, tuple(mean), tuple(std), num_classes)
