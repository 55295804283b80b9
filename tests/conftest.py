"""Shared fixtures: the command-line runner, an in-process config composer, tiny data files."""

from __future__ import annotations

import os

# The tests' models are tiny: one thread per process. With a thread per core, OpenMP's threads wait
# on each other, and on a machine whose cores another job is using (a training beside the tests)
# that waiting dominates: the default suite took 993 s with two threads and 216 s with one on this
# project's 2-core CPU while a training ran. Set before torch is imported; subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import gzip  # noqa: E402
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lightcnn.record import record_problems

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["dataset=synthetic", "profile=smoke", "trainer.progress_bar=false", "trainer.accelerator=cpu"]


class Run:
    """A finished command: return code, stdout, stderr, and its record (the last stdout line)."""

    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.returncode, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr

    @property
    def record(self) -> dict:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert lines, f"no output; stderr:\n{self.stderr[-3000:]}"
        record = json.loads(lines[-1])
        assert not record_problems(record), record_problems(record)
        return record


def run_command(script: str, args: list[str], cwd: Path, timeout: float = 300) -> Run:
    proc = subprocess.run(
        [str(BIN / script), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    return Run(proc)


@pytest.fixture
def lightcnn(tmp_path):
    """Run ``lightcnn ARGS`` in ``tmp_path`` (results under ``tmp_path/results``)."""

    def run(*args: str, timeout: float = 300) -> Run:
        return run_command("lightcnn", list(args), tmp_path, timeout)

    return run


@pytest.fixture
def lightcnn_in_process(tmp_path, monkeypatch, capfd):
    """Run ``lightcnn ARGS`` in this process (no interpreter start: for commands that stop early,
    like refused input); same exit code, stdout and stderr as the command."""
    from hydra.core.global_hydra import GlobalHydra

    from lightcnn import cli

    def run(*args: str) -> Run:
        GlobalHydra.instance().clear()  # the app initialises Hydra itself, as the command does
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "argv", ["lightcnn", *map(str, args)])
        monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
        capfd.readouterr()
        try:
            cli.main()
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        finally:
            GlobalHydra.instance().clear()
        out, err = capfd.readouterr()
        return Run(subprocess.CompletedProcess(args, code, out, err))

    return run


def compose_overrides(*overrides: str):
    """Compose the Hydra config in-process, as the app would, from a list of overrides."""
    from lightcnn.composition import compose_config

    return compose_config(list(overrides))


@pytest.fixture
def compose():
    return compose_overrides


# ------------------------------------------------------------------------------------------ data files


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (gzipped when ``path`` ends in .gz) holding a uint8 array."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


def write_idx_dataset(root: Path, folder: str, n_train: int = 60, n_test: int = 20, gz: bool = True) -> Path:
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n) % 10)
    return raw


def write_cifar(root: Path, per_batch: int = 20) -> Path:
    """A tiny CIFAR-10 in the official layout (bytes keys, as the official pickles have)."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": list(np.arange(per_batch) % 10),
            b"batch_label": name.encode(),
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)
    return folder


@pytest.fixture
def run_config(compose, tmp_path):
    """Compose ``overrides`` and run them in-process through the runner; returns the record.

    Results go under ``tmp_path/results/<name>``; existing records are never reused.
    """
    from lightcnn.runner import execute

    def run(*overrides: str, name: str = "run") -> dict:
        results = tmp_path / "results"
        overrides = (*overrides, f"results_dir={results}", "skip_existing=false", "trainer.progress_bar=false")
        run_dir = results / name
        run_dir.mkdir(parents=True)
        record = execute(compose(*overrides), run_dir, overrides).record
        assert (run_dir / "result.json").exists()
        assert not record_problems(record), record_problems(record)
        return record

    return run
