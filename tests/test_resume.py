"""Exact resume: a run killed at any point and run again gives the record of the uninterrupted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from conftest import ROOT, compose_overrides

from lightcnn.runner import execute

# 3 epochs of 3 batches, a validation split (best-epoch selection) and per-epoch test curves
CONFIG = [
    "dataset=synthetic",
    "dataset.num_train=128",
    "dataset.num_test=64",
    "dataset.val_fraction=0.25",
    "dataset.augment.crop_padding=2",
    "dataset.augment.hflip=true",
    "model=resnet",
    "model.depth=20",
    "profile=smoke",
    "trainer.checkpoint=true",  # what resume continues from (smoke keeps none unless asked)
    "trainer.accelerator=cpu",
    "trainer.limit_train_batches=null",
    "trainer.limit_eval_batches=null",
    "trainer.batch_size=32",
    "trainer.max_epochs=3",
    "trainer.schedule=cosine",
    "trainer.test_every_epoch=true",
    "trainer.progress_bar=false",
    "seed=5",
]
COMPARED = ("history", "best_val_acc", "final_val_acc", "test_acc", "test_acc5", "test_acc_at_best_val", "epochs")


def run_in_process(compose, results: Path, name: str, *extra: str, config: list[str] = CONFIG) -> dict:
    overrides = [*config, f"results_dir={results}", *extra]
    run_dir = results / name
    run_dir.mkdir(parents=True)
    return execute(compose(*overrides), run_dir, overrides).record


def killed_run(
    results: Path, point: str, signal_name: str, *extra: str, config: list[str] = CONFIG
) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "helpers" / "kill_run.py"),
            point,
            signal_name,
            *config,
            f"results_dir={results}",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def killed_dir_of(results: Path, point: str, signal_name: str = "KILL", **config) -> Path:
    """Kill a run at ``point`` and return its directory (the only run under ``results``)."""
    killed_run(results, point, signal_name, **config)
    (run_dir,) = [p.parent for p in results.rglob("run.json")]
    return run_dir


def assert_same_record(resumed: dict, uninterrupted: dict) -> None:
    for key in COMPARED:
        assert resumed[key] == uninterrupted[key], key


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return run_in_process(compose_overrides, tmp_path_factory.mktemp("whole") / "results", "whole")


@pytest.mark.parametrize(
    ("point", "signal_name"),
    [
        pytest.param("batch:1:1", "KILL", id="sigkill-mid-epoch"),
        pytest.param("epoch:2", "KILL", id="sigkill-between-epochs", marks=pytest.mark.slow),
        pytest.param("test", "KILL", id="sigkill-during-test", marks=pytest.mark.slow),
        pytest.param("batch:1:0", "TERM", id="sigterm-mid-epoch", marks=pytest.mark.slow),
    ],
)
def test_killed_run_resumes_to_the_uninterrupted_record(compose, tmp_path, uninterrupted, point, signal_name):
    results = tmp_path / "results"
    killed = killed_run(results, point, signal_name)
    run_dirs = [p.parent for p in results.rglob("run.json")]
    assert len(run_dirs) == 1, killed.stderr[-2000:]
    (killed_dir,) = run_dirs
    if signal_name == "KILL":
        assert killed.returncode == -9 and not (killed_dir / "result.json").exists()
    else:  # SIGTERM: the step finishes, the record says interrupted, the exit code says which signal
        assert killed.returncode == 128 + 15, killed.stderr[-2000:]
        assert json.loads((killed_dir / "result.json").read_text())["status"] == "interrupted"
        assert json.loads(killed.stdout.splitlines()[-1])["status"] == "interrupted"
    assert (killed_dir / "checkpoints" / "last.ckpt").is_file()
    # the checkpoint carries the training time up to it; say it was 1000 s to see it counted
    checkpoint = torch.load(killed_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert 0 < checkpoint["callbacks"]["EpochCheckpoint"]["train_time_s"] < 300
    checkpoint["callbacks"]["EpochCheckpoint"]["train_time_s"] = 1000.0
    # and that the epochs before it trained 200,000 images in 100 s: the rate covers every attempt
    assert checkpoint["callbacks"]["Throughput"]["images"] > 0
    checkpoint["callbacks"]["Throughput"].update(images=200_000, train_time_s=100.0)
    torch.save(checkpoint, killed_dir / "checkpoints" / "last.ckpt")

    resumed = run_in_process(compose, results, "again")
    assert not (results / "again").exists()  # continued in the killed run's directory
    assert json.loads((killed_dir / "result.json").read_text())["run_id"] == resumed["run_id"]
    assert resumed["status"] == "ok" and resumed["resumed_from"] == str(killed_dir / "checkpoints" / "last.ckpt")
    assert 1000 < resumed["train_time_s"] < 1300  # the attempts before the checkpoint, then this one
    attempt = resumed["images_per_s_last_attempt"]  # None when killed during the test: this attempt trained nothing
    assert 1000 < resumed["images_per_s"] <= 2000 + (attempt or 0)  # (200,000 + n) / (100 + t), t ≤ 100
    assert_same_record(resumed, uninterrupted)


@pytest.mark.slow
def test_corrupt_checkpoint_falls_back_to_the_previous_one(compose, tmp_path, uninterrupted):
    results = tmp_path / "results"
    killed_dir = killed_dir_of(results, "epoch:2")
    last = killed_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # truncated, as after a full disk
    resumed = run_in_process(compose, results, "again")
    assert resumed["resumed_from"] == str(killed_dir / "checkpoints" / "last.prev.ckpt")
    assert len(resumed["resume_notes"]) == 1 and "unreadable checkpoint" in resumed["resume_notes"][0]
    assert (killed_dir / "checkpoints" / "last.ckpt.corrupt").exists()
    assert_same_record(resumed, uninterrupted)


@pytest.mark.slow
def test_no_intact_checkpoint_starts_again_in_the_same_directory(compose, tmp_path, uninterrupted):
    results = tmp_path / "results"
    killed_dir = killed_dir_of(results, "epoch:1")
    (killed_dir / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    resumed = run_in_process(compose, results, "again")
    assert resumed["resumed_from"] is None
    assert resumed["resume_notes"][-1] == "no intact training checkpoint: training starts again from its first epoch"
    assert (
        not (killed_dir.parent / "again").exists()
        and resumed["run_id"] == json.loads((killed_dir / "run.json").read_text())["run_id"]
    )  # started again in the same directory, under the same run id
    assert_same_record(resumed, uninterrupted)


# HRank one conv at a time (template_cnn has three): conv 1 goes at epoch 0, conv 2 at 1, conv 3 at 2
LAYERWISE = [*(o for o in CONFIG if not o.startswith(("model", "trainer.max_epochs"))), "model=template_cnn",
             "method=prune_hrank", "method.mode=layerwise", "method.layer_epochs=1", "method.batches=1",
             "method.batch_size=16", "trainer.max_epochs=4"]  # fmt: skip


def test_a_run_that_prunes_during_training_resumes_in_its_pruned_architecture(compose, tmp_path):
    whole = run_in_process(compose, tmp_path / "whole", "whole", config=LAYERWISE)
    results = tmp_path / "results"
    killed_dir = killed_dir_of(results, "batch:2:1", config=LAYERWISE)  # from the end of epoch 1: conv 3 to go
    state = torch.load(killed_dir / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]["PruningSchedule"]
    assert [(epoch, index) for epoch, index, _ in state["pruned"]] == [(0, 0), (1, 1)] and len(state["scores"]) == 3
    resumed = run_in_process(compose, results, "again", config=LAYERWISE)
    assert resumed["resumed_from"] == str(killed_dir / "checkpoints" / "last.ckpt") and resumed["resume_notes"] == []
    assert_same_record(resumed, whole)  # the third conv went on the ranks of the unpruned net, as in one go
    assert (resumed["params"], resumed["flops"]) == (whole["params"], whole["flops"])


class Planted:
    def __reduce__(self):
        return (os.system, ("touch planted",))


@pytest.mark.parametrize("key", ["resume", "method.pretrained"])
def test_a_checkpoint_that_carries_code_is_refused_in_one_line(compose, tmp_path, monkeypatch, key):
    from lightcnn.errors import UserError

    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": Planted()}, evil)
    extra = [f"{key}={evil}"] + (["method=prune_hrank"] if key.startswith("method") else [])
    with pytest.raises(UserError, match=r"evil.ckpt: the checkpoint carries code \(posix.system\); refused"):
        run_in_process(compose, tmp_path / "results", "evil", *extra)
    assert not (tmp_path / "planted").exists() and not (tmp_path / "results" / "evil").exists()


@pytest.mark.slow
def test_a_resumed_run_keeps_the_earlier_rows_of_metrics_csv(compose, tmp_path):
    import csv

    results = tmp_path / "results"
    killed_dir = killed_dir_of(results, "epoch:2")
    before = list(csv.DictReader(open(killed_dir / "metrics.csv")))
    assert {row["epoch"] for row in before} == {"0", "1"}
    with warnings.catch_warnings(record=True) as caught:  # no "previous log files will be deleted": they are kept
        warnings.simplefilter("always")
        run_in_process(compose, results, "again")
    assert not [w for w in caught if "Previous log files" in str(w.message)]
    after = list(csv.DictReader(open(killed_dir / "metrics.csv")))
    assert {row["epoch"] for row in after} >= {"0", "1", "2"} and len(after) > len(before)
    assert [row["train/acc"] for row in after[: len(before)]] == [row["train/acc"] for row in before]


def relabelled(path: Path, target: Path, location: str) -> Path:
    """A copy of a torch checkpoint whose tensors claim to live on ``location`` (e.g. a GPU this
    machine does not have): the storage locations in its pickle are rewritten, nothing else."""
    import pickletools
    import struct
    import zipfile

    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as copy:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("/data.pkl"):
                ops = list(pickletools.genops(data))
                edits = []
                for i, (_op, arg, pos) in enumerate(ops):
                    # a storage's persistent id: (b"storage", type, key, location, numel) then BINPERSID
                    if arg == "cpu" and any(o.name == "BINPERSID" for o, _, _ in ops[i + 1 : i + 6]):
                        edits.append((pos, ops[i + 1][2], b"X" + struct.pack("<I", len(location)) + location.encode()))
                for start, end, new in reversed(edits):
                    data = data[:start] + new + data[end:]
                assert edits, "no storage location found"
            copy.writestr(info, data)
    return target


def test_a_checkpoint_written_on_another_device_resumes_here(compose, tmp_path):
    """A run checkpointed on a GPU continues on a machine without one: the checkpoint's tensors
    are read onto the CPU and Lightning moves weights and optimizer state to this run's device."""
    config = [*(o for o in CONFIG if not o.startswith("trainer.max_epochs")), "trainer.max_epochs=1"]
    first = run_in_process(compose, tmp_path / "a", "first", config=config)
    saved = Path(first["run_dir"] if "run_dir" in first else tmp_path / "a" / "first") / "checkpoints" / "last.ckpt"
    gpu = relabelled(saved, tmp_path / "gpu.ckpt", "cuda:0")
    with pytest.raises(RuntimeError, match="CUDA"):  # what Lightning's own loader does with it here
        torch.load(gpu, weights_only=True)
    config = [*(o for o in CONFIG if not o.startswith("trainer.max_epochs")), "trainer.max_epochs=2"]
    resumed = run_in_process(compose, tmp_path / "b", "resumed", f"resume={gpu}", config=config)
    assert resumed["status"] == "ok" and resumed["resumed_from"] == str(gpu) and resumed["epochs"] == 2
