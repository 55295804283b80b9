"""The device-resident data module.

The whole training set lives on the accelerator as one uint8 tensor. Batches are index slices
of it (no DataLoader, no collation, no worker processes); augmentation and normalisation run
batch-wise on the device in ``on_after_batch_transfer``. Under DDP each rank takes every
``world_size``-th index of the same seeded permutation, so the shards are disjoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytorch_lightning as pl
import torch

from lightcnn.config import DatasetConfig
from lightcnn.data.augment import normalize, random_hflip, random_translate
from lightcnn.data.datasets import ImageData, input_spec, load_dataset

Batch = tuple[torch.Tensor, torch.Tensor]


class DeviceBatches:
    """Batches of ``(uint8 images, labels)`` sliced from tensors already on the device."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        epoch: Callable[[], int] = lambda: 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.seed, self.epoch, self.rank, self.world_size = seed, epoch, rank, world_size

    def _shard_size(self) -> int:
        n = len(self.labels)
        # training shards are cut to equal size so every rank runs the same number of steps
        return n // self.world_size if self.drop_last else len(range(self.rank, n, self.world_size))

    def __len__(self) -> int:
        size = self._shard_size()
        return size // self.batch_size if self.drop_last else -(-size // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.labels)
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch())
            order = torch.randperm(n, generator=gen).to(self.labels.device)
        else:
            order = torch.arange(n, device=self.labels.device)
        order = order[self.rank :: self.world_size][: self._shard_size()]
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.images[index], self.labels[index]


class ImageDataModule(pl.LightningDataModule):
    """Serves a configured data set from device memory; augments and normalises on the device."""

    def __init__(
        self,
        cfg: DatasetConfig,
        data_dir: Path | None,
        batch_size: int,
        eval_batch_size: int,
        seed: int = 0,
        data: ImageData | None = None,
    ) -> None:
        """``data`` given: serve it instead of reading ``cfg``'s data set from ``data_dir``."""
        super().__init__()
        self.cfg, self.data_dir, self.seed = cfg, Path(data_dir) if data_dir else None, seed
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.data = data
        self._moment_cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}
        self.eval_splits: list[str] = ["val"] if cfg.val_fraction > 0 else []  # splits of the validation loop
        self.spec = data.spec if data is not None else input_spec(cfg)
        self.max_shift = cfg.augment.max_shift_px(self.spec.height)
        self.splits: dict[str, Batch] = {}

    # ---------------------------------------------------------------- setup

    def load(self) -> ImageData:
        """Read the data set once (raises DataError for missing or corrupt files)."""
        if self.data is None:
            self.data = load_dataset(self.cfg, self.data_dir)
        return self.data

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        data = self.load()
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        train_x, train_y = data.train_x, data.train_y
        train_idx, val_idx = self.split_indices()
        if len(val_idx):
            self.splits["val"] = (train_x[val_idx].to(device), train_y[val_idx].to(device))
            train_x, train_y = train_x[train_idx], train_y[train_idx]
        self.splits["train"] = (train_x.to(device), train_y.to(device))
        self.splits["test"] = (data.test_x.to(device), data.test_y.to(device))

    def split_indices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(train, validation) indices into the training set: a seeded ``val_fraction`` held out."""
        count = len(self.load().train_y)
        val_count = int(round(self.cfg.val_fraction * count))
        if not val_count:
            return torch.arange(count), torch.arange(0)
        order = torch.randperm(count, generator=torch.Generator().manual_seed(self.seed))
        return order[val_count:], order[:val_count]

    @property
    def has_val(self) -> bool:
        return self.cfg.val_fraction > 0

    @property
    def num_train(self) -> int:
        return len(self.splits["train"][1])

    # ---------------------------------------------------------------- loaders

    def _rank_world(self) -> tuple[int, int]:
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def _batches(self, split: str, train: bool) -> DeviceBatches:
        rank, world = self._rank_world()
        images, labels = self.splits[split]
        return DeviceBatches(
            images,
            labels,
            self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            drop_last=train,
            seed=self.seed,
            epoch=lambda: self.trainer.current_epoch if self.trainer is not None else 0,
            rank=rank,
            world_size=world,
        )

    def train_dataloader(self) -> DeviceBatches:
        return self._batches("train", train=True)

    def val_dataloader(self) -> list[DeviceBatches]:
        """One loader per name in ``eval_splits`` (``val``, and ``test`` for per-epoch curves)."""
        return [self._batches(split, train=False) for split in self.eval_splits]

    def test_dataloader(self) -> DeviceBatches:
        return self._batches("test", train=False)

    # ---------------------------------------------------------------- on-device transforms

    def transform(self, images: torch.Tensor, train: bool) -> torch.Tensor:
        """uint8 batch → (augmented if ``train``) normalised float batch."""
        if train:
            images = random_translate(images, self.max_shift)
            if self.cfg.augment.hflip:
                images = random_hflip(images)
        return normalize(images, *self._moments(images.device))

    def _moments(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std as ``(1, C, 1, 1)`` tensors on ``device``, made once (not per batch)."""
        if device not in self._moment_cache:
            self._moment_cache[device] = tuple(
                torch.tensor(v, device=device, dtype=torch.float32).view(1, -1, 1, 1)
                for v in (self.data.mean, self.data.std)
            )
        return self._moment_cache[device]

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        images, labels = batch
        training = self.trainer is not None and self.trainer.training
        return self.transform(images, train=training), labels
