"""Readers for the standard on-disk formats: CIFAR-10 python pickles and IDX (MNIST family).

Each reader checks what it reads (magic numbers, shapes, sizes, label ranges) and raises
:class:`DataError` naming the file and what is wrong, so a truncated or corrupt download gives
one clear line instead of a stack trace deep inside numpy.
"""

from __future__ import annotations

import gzip
import pickle
import zlib
from pathlib import Path

import numpy as np

from lightcnn.errors import DataError

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
CORRUPT_HINT = "delete it and run `lightcnn task=download dataset=...` or copy the official file again"


def find_idx_file(directory: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in ``directory``, preferring the uncompressed file."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot be read ({err}); {CORRUPT_HINT}") from None


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (``magic = 0 0 dtype ndim``, big-endian int32 dims, then the data)."""
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number); {CORRUPT_HINT}")
    dtype, ndim = np.dtype(IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header; {CORRUPT_HINT}")
    shape = tuple(int(d) for d in np.frombuffer(data, ">i4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DataError(
            f"{path}: holds {len(data):,} bytes but its header {shape} says {expected:,} (truncated or corrupt); "
            f"{CORRUPT_HINT}"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx_pair(images_path: Path, labels_path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 1, H, W)`` uint8 and labels ``(N,)`` int64 from an IDX image/label pair."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{images_path}: expected uint8 images of shape (N, H, W), found {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path.name}")
    return images[:, None], _checked_labels(labels_path, labels, num_classes)


# the globals a CIFAR-10 batch pickle (Python 2 or 3, numpy 1 or 2) refers to: arrays, dtypes, bytes
CIFAR_GLOBALS = {
    *((f"numpy.{core}.multiarray", name) for core in ("core", "_core") for name in ("_reconstruct", "scalar")),
    *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class DataUnpickler(pickle.Unpickler):
    """Unpickles plain containers, numbers, strings and numpy arrays only: a data file that
    names any other global (a function to call) is refused instead of run."""

    def find_class(self, module: str, name: str):
        if (module, name) not in CIFAR_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name} (a data file may hold arrays only)")
        return super().find_class(module, name)


def read_cifar_batch(path: Path, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64 from one CIFAR-10 pickle."""
    try:
        with open(path, "rb") as handle:
            batch = DataUnpickler(handle, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as err:
        raise DataError(f"{path}: cannot be unpickled ({err}); {CORRUPT_HINT}") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR batch (a {type(batch).__name__}); {CORRUPT_HINT}")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: not a CIFAR batch (no 'data' and 'labels'); {CORRUPT_HINT}")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise DataError(f"{path}: expected uint8 data (N, 3072) with N labels, found {data.dtype} {data.shape}")
    return data.reshape(-1, 3, 32, 32), _checked_labels(path, labels, num_classes)


def _checked_labels(path: Path, labels: np.ndarray, num_classes: int) -> np.ndarray:
    labels = labels.astype(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"{path}: labels outside 0..{num_classes - 1} (found {labels.min()}..{labels.max()})")
    return labels
