"""Where each real data set lives on disk (torchvision's layout) and where it comes from."""

from __future__ import annotations

from dataclasses import dataclass

from lightcnn.registry import Registry


@dataclass(frozen=True)
class Archive:
    """One official download: its URL, MD5 and the path (under ``data_dir``) it is saved to."""

    url: str
    md5: str
    target: str
    extract: bool = False  # a tar archive unpacked into data_dir, then deleted


@dataclass(frozen=True)
class DatasetSource:
    name: str
    channels: int
    image_size: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train_files: tuple[str, ...]  # paths under data_dir (IDX: ".gz" optional)
    test_files: tuple[str, ...]
    archives: tuple[Archive, ...]
    fmt: str  # "cifar" or "idx"
    train_images: int = 60_000  # size of the official training set (MNIST and Fashion-MNIST)

    @property
    def files(self) -> tuple[str, ...]:
        return self.train_files + self.test_files


def _idx_source(name: str, folder: str, base_url: str, md5s: dict[str, str], mean: float, std: float) -> DatasetSource:
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    paths = tuple(f"{folder}/raw/{stem}" for stem in stems)
    archives = tuple(Archive(f"{base_url}{stem}.gz", md5s[stem], f"{folder}/raw/{stem}.gz") for stem in stems)
    return DatasetSource(name, 1, 28, 10, (mean,), (std,), paths[:2], paths[2:], archives, "idx")


CIFAR10 = DatasetSource(
    name="cifar10",
    channels=3,
    image_size=32,
    num_classes=10,
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
    train_files=tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)),
    test_files=("cifar-10-batches-py/test_batch",),
    archives=(
        Archive(
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            "c58f30108f718f92721af3b95e74349a",
            "cifar-10-python.tar.gz",
            extract=True,
        ),
    ),
    fmt="cifar",
    train_images=50_000,
)

MNIST = _idx_source(
    "mnist",
    "MNIST",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    {
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    0.1307,
    0.3081,
)

FASHION_MNIST = _idx_source(
    "fashion_mnist",
    "FashionMNIST",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    {
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    0.2860,
    0.3530,
)

# the real data sets by name (dataset=synthetic is generated from its config, not read)
SOURCES: Registry[DatasetSource] = Registry("dataset.name")
for _real in (CIFAR10, MNIST, FASHION_MNIST):
    SOURCES.add(_real.name, _real)
