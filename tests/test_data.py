import gzip
import os
import pickle
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_cifar, write_idx, write_idx_dataset

from lightcnn.config import AugmentConfig, DatasetConfig, SyntheticDatasetConfig
from lightcnn.data.datamodule import DeviceBatches, ImageDataModule
from lightcnn.data.datasets import load_dataset
from lightcnn.data.download import download, md5sum
from lightcnn.data.formats import read_cifar_batch, read_idx
from lightcnn.data.sources import Archive, DatasetSource
from lightcnn.errors import DataError

# ------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_idx_round_trip_plain_and_gzipped(tmp_path, name):
    array = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    write_idx(tmp_path / name, array)
    np.testing.assert_array_equal(read_idx(tmp_path / name), array)


def test_truncated_idx_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.zeros((5, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: holds 3,836 bytes but its header \(5, 28, 28\)"):
        read_idx(path)


def test_truncated_gzip_and_bad_magic(tmp_path):
    gz = tmp_path / "t.gz"
    write_idx(gz, np.zeros((50, 28, 28), np.uint8))
    gz.write_bytes(gz.read_bytes()[:40])
    with pytest.raises(DataError, match=r"t.gz: cannot be read"):
        read_idx(gz)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x12\x34\x08\x01" + bytes(8))
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(bad)


def test_cifar_batch_reads_official_layout(tmp_path):
    folder = write_cifar(tmp_path, per_batch=7)
    images, labels = read_cifar_batch(folder / "data_batch_1")
    assert images.shape == (7, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [0, 1, 2, 3, 4, 5, 6]


def test_corrupt_cifar_batch(tmp_path):
    folder = write_cifar(tmp_path, per_batch=4)
    (folder / "test_batch").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"test_batch: cannot be unpickled"):
        read_cifar_batch(folder / "test_batch")
    with open(folder / "data_batch_2", "wb") as handle:
        pickle.dump({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 12]}, handle)
    with pytest.raises(DataError, match=r"data_batch_2: labels outside 0..9"):
        read_cifar_batch(folder / "data_batch_2")


class Planted:
    """An object whose unpickling would run a command."""

    def __reduce__(self):
        return (os.system, ("touch planted",))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_a_cifar_batch_that_carries_code_is_refused_not_run(tmp_path, protocol, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": Planted()}, protocol=protocol))
    with pytest.raises(DataError, match=r"data_batch_1: cannot be unpickled \(refused global (posix|os)\.system"):
        read_cifar_batch(path)
    assert not (tmp_path / "planted").exists()
    # the official layout (numpy arrays, bytes keys, lists) still loads at every protocol
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 4]}, protocol=protocol))
    assert read_cifar_batch(path)[1].tolist() == [3, 4]


# ------------------------------------------------------------------------------------------ datasets


def test_load_cifar_and_mnist_layouts(tmp_path):
    write_cifar(tmp_path, per_batch=6)
    write_idx_dataset(tmp_path, "MNIST", n_train=12, n_test=5, gz=True)
    write_idx_dataset(tmp_path, "FashionMNIST", n_train=8, n_test=4, gz=False)
    cifar = load_dataset(DatasetConfig(name="cifar10"), tmp_path)
    assert cifar.train_x.shape == (30, 3, 32, 32) and cifar.test_x.shape == (6, 3, 32, 32)
    mnist = load_dataset(DatasetConfig(name="mnist", train_subset=10), tmp_path)
    assert mnist.train_x.shape == (10, 1, 28, 28) and mnist.test_y.tolist() == [0, 1, 2, 3, 4]
    fashion = load_dataset(DatasetConfig(name="fashion_mnist"), tmp_path)
    assert fashion.spec.channels == 1 and len(fashion.train_y) == 8


def test_missing_files_listed_in_one_message(tmp_path):
    write_idx_dataset(tmp_path, "MNIST")
    (tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as info:
        load_dataset(DatasetConfig(name="mnist"), tmp_path)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte (or .gz)" in message and "train-images" not in message
    assert "lightcnn task=download dataset=mnist" in message


def test_synthetic_is_fixed_and_learnable_shape():
    cfg = SyntheticDatasetConfig(num_train=40, num_test=20, channels=1, image_size=12, num_classes=4)
    a, b = load_dataset(cfg, Path(".")), load_dataset(cfg, Path("."))
    assert torch.equal(a.train_x, b.train_x) and a.train_x.shape == (40, 1, 12, 12)
    assert sorted(a.train_y.unique().tolist()) == [0, 1, 2, 3]
    # class prototypes: images of one class are closer to each other than to another class
    x = a.train_x.float().flatten(1)
    same = (x[a.train_y == 0][0] - x[a.train_y == 0][1]).norm()
    other = (x[a.train_y == 0][0] - x[a.train_y == 1][0]).norm()
    assert same < other


# ------------------------------------------------------------------------------------------ batches


def test_device_batches_cover_shards_disjointly():
    images = torch.arange(103).view(103, 1, 1, 1)
    labels = torch.arange(103)
    seen = []
    for rank in range(2):
        batches = DeviceBatches(images, labels, 10, shuffle=True, drop_last=True, seed=3, rank=rank, world_size=2)
        got = [b[1] for b in batches]
        assert len(got) == len(batches) == 5 and all(len(b) == 10 for b in got)
        seen.append(torch.cat(got))
    assert not set(seen[0].tolist()) & set(seen[1].tolist())


def test_device_batches_eval_keeps_every_sample_in_order():
    labels = torch.arange(25)
    batches = DeviceBatches(labels.view(25, 1, 1, 1), labels, 10)
    assert len(batches) == 3
    assert torch.cat([b[1] for b in batches]).tolist() == list(range(25))


def test_shuffle_depends_on_seed_and_epoch():
    labels = torch.arange(50)

    def order(seed, epoch):
        batches = DeviceBatches(
            labels.view(50, 1, 1, 1), labels, 50, shuffle=True, drop_last=True, seed=seed, epoch=lambda: epoch
        )
        return next(iter(batches))[1].tolist()

    assert order(0, 0) == order(0, 0)
    assert order(0, 0) != order(0, 1) and order(0, 0) != order(1, 0)


def test_datamodule_val_split_and_batch_transform():
    cfg = SyntheticDatasetConfig(num_train=100, num_test=30, val_fraction=0.2, augment=AugmentConfig(crop_padding=4))
    dm = ImageDataModule(cfg, None, batch_size=16, eval_batch_size=64, seed=0)
    dm.setup("fit")
    assert dm.num_train == 80 and len(dm.splits["val"][1]) == 20 and len(dm.splits["test"][1]) == 30
    x, _ = next(iter(dm.train_dataloader()))
    assert x.dtype == torch.uint8
    out = dm.transform(x, train=False)
    assert out.dtype == torch.float32 and out.shape == (16, 3, 32, 32)
    # the split is seeded: the same seed holds out the same images
    dm2 = ImageDataModule(cfg, None, batch_size=16, eval_batch_size=64, seed=0)
    dm2.setup("fit")
    assert torch.equal(dm.splits["val"][0], dm2.splits["val"][0])


# ------------------------------------------------------------------------------------------ download


def _source(tmp_path, archives):
    return DatasetSource("toy", 1, 28, 10, (0.5,), (0.5,), ("TOY/raw/a",), ("TOY/raw/b",), tuple(archives), "idx")


def test_download_verifies_checksum(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    for stem in ("a", "b"):
        with gzip.open(served / f"{stem}.gz", "wb") as handle:
            handle.write(b"payload " + stem.encode())
    archives = [Archive((served / f"{s}.gz").as_uri(), md5sum(served / f"{s}.gz"), f"TOY/raw/{s}.gz") for s in "ab"]
    data_dir = tmp_path / "data"
    files = download(_source(tmp_path, archives), data_dir, progress=False)
    assert (data_dir / "TOY/raw/a.gz").read_bytes() == (served / "a.gz").read_bytes()
    assert [f.name for f in files] == ["a", "b"]

    wrong = [Archive(archives[0].url, "0" * 32, "TOY2/raw/a.gz")]
    source = DatasetSource("toy2", 1, 28, 10, (0.5,), (0.5,), ("TOY2/raw/a",), (), tuple(wrong), "idx")
    with pytest.raises(DataError, match="checksum mismatch"):
        download(source, data_dir, progress=False)
    assert not list((data_dir / "TOY2/raw").glob("*"))  # nothing half-written


def test_offline_download_names_each_missing_file(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    archives = [Archive(f"https://example.invalid/{s}.gz", "0" * 32, f"TOY/raw/{s}.gz") for s in "ab"]
    with pytest.raises(DataError) as info:
        download(_source(tmp_path, archives), tmp_path, progress=False)
    message = str(info.value)
    assert message.count("\n") == 0
    for stem in "ab":
        assert f"{tmp_path}/TOY/raw/{stem}" in message and f"https://example.invalid/{stem}.gz" in message
    assert "Temporary failure in name resolution" in message
    assert not (tmp_path / "TOY").exists()  # no empty folders left behind


def test_a_subset_larger_than_the_set_is_refused_not_capped(run_config):
    from lightcnn.errors import ConfigValueError

    with pytest.raises(ConfigValueError, match=r"dataset.train_subset=100000 is not allowed: at most the 512 images"):
        run_config("dataset=synthetic", "profile=smoke", "dataset.train_subset=100000", "trainer.accelerator=cpu")


def test_a_corrupt_file_names_the_command_that_fetches_its_data_set_again(tmp_path):
    folder = write_cifar(tmp_path, per_batch=4)
    (folder / "test_batch").write_bytes(b"garbage")
    with pytest.raises(DataError) as info:
        load_dataset(DatasetConfig(name="cifar10"), tmp_path)
    assert f"run `lightcnn task=download dataset=cifar10 data_dir={tmp_path}`" in str(info.value)
    assert "dataset=..." not in str(info.value)
