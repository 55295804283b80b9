"""In-process runs through the runner (compose → validate → task → record) on synthetic data."""

import json

import pytest
import torch

from lightcnn.config import TrainerConfig
from lightcnn.engine.module import LitClassifier, topk_hits
from lightcnn.runner import execute

FAST = [
    "dataset=synthetic",
    "dataset.num_train=128",
    "dataset.num_test=64",
    "model.depth=20",
    "profile=smoke",
    "trainer.progress_bar=false",
    "trainer.accelerator=cpu",
    "trainer.limit_train_batches=null",
    "trainer.limit_eval_batches=null",
    "trainer.max_epochs=2",
    "skip_existing=false",
    "resume=never",
]


def run(compose, tmp_path, name, *overrides):
    cfg = compose(*FAST, f"results_dir={tmp_path / 'results'}", *overrides)
    run_dir = tmp_path / "results" / name
    run_dir.mkdir(parents=True)
    outcome = execute(cfg, run_dir)
    assert json.loads((run_dir / "result.json").read_text())["run_id"] == outcome.record["run_id"]
    return outcome.record


def test_same_seed_gives_identical_metrics_on_cpu(compose, tmp_path):
    a = run(compose, tmp_path, "a", "seed=3")
    b = run(compose, tmp_path, "b", "seed=3")
    c = run(compose, tmp_path, "c", "seed=4")
    assert a["status"] == "ok" and a["history"] == b["history"] and a["test_acc"] == b["test_acc"]
    assert a["history"] != c["history"]
    assert a["config_hash"] == b["config_hash"] != c["config_hash"]


def test_record_fields(compose, tmp_path):
    rec = run(compose, tmp_path, "r")
    for key in (
        "run_id",
        "status",
        "task",
        "model",
        "method",
        "dataset",
        "seed",
        "config",
        "config_hash",
        "params",
        "trainable_params",
        "flops",
        "flops_conv",
        "test_acc",
        "test_acc5",
        "best_val_acc",
        "epochs",
        "train_time_s",
        "images_per_s",
        "peak_mem_mb",
        "device",
        "versions",
        "git_commit",
        "started_at",
        "finished_at",
    ):
        assert key in rec, key
    assert rec["params"] == 269_722 and rec["flops_conv"] == 40_551_040 and rec["epochs"] == 2
    assert set(rec["versions"]) >= {"torch", "lightning", "lightcnn", "cuda"}
    assert 0 <= rec["test_acc"] <= rec["test_acc5"] <= 100 and rec["images_per_s"] > 0
    assert rec["config"]["model"] == {"name": "resnet", "depth": 20} and "hydra" not in rec["config"]


def test_validation_split_selects_by_val_and_reports_test_of_best(compose, tmp_path):
    rec = run(compose, tmp_path, "v", "dataset.val_fraction=0.25", "trainer.max_epochs=3")
    vals = [h["val/acc"] for h in rec["history"] if h["stage"] == "val"]
    assert len(vals) == 3 and rec["best_val_acc"] == pytest.approx(max(vals))
    assert rec["test_acc_at_best_val"] is not None and rec["final_val_acc"] == pytest.approx(vals[-1])
    assert list((tmp_path / "results/v/checkpoints").glob("best-epoch=*.ckpt"))


def test_nan_loss_is_recorded_as_diverged(compose, tmp_path):
    rec = run(compose, tmp_path, "d", "trainer.lr=1e30", "trainer.log_every_n_steps=1", "trainer.max_epochs=3")
    assert rec["status"] == "diverged" and rec["test_acc"] is None
    assert rec["epochs"] <= 1  # stopped in the first epoch, not after all three


def test_explicit_resume_continues_from_checkpoint(compose, tmp_path):
    first = run(compose, tmp_path, "first", "trainer.max_epochs=1")
    ckpt = tmp_path / "results/first/checkpoints/last.ckpt"
    second = run(compose, tmp_path, "second", "trainer.max_epochs=2", f"resume={ckpt}")
    assert first["epochs"] == 1 and second["epochs"] == 2 and second["resumed_from"] == str(ckpt)
    assert [h["epoch"] for h in second["history"] if h["stage"] == "train"] == [1]  # epoch 0 came from the ckpt


def test_skip_existing_returns_the_ok_record(compose, tmp_path):
    first = run(compose, tmp_path, "one")
    cfg = compose(*[o for o in FAST if o != "skip_existing=false"], f"results_dir={tmp_path / 'results'}")
    run_dir = tmp_path / "results" / "two"
    run_dir.mkdir()
    outcome = execute(cfg, run_dir)
    assert outcome.skipped and outcome.record["run_id"] == first["run_id"]
    assert not run_dir.exists()  # the new, empty run directory is removed


def test_frozen_parameters_get_no_optimizer_state():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    net[0].weight.requires_grad_(False)
    module = LitClassifier(net, TrainerConfig())
    optimizer = module.configure_optimizers()["optimizer"]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    assert all(p is not net[0].weight for p in params) and len(params) == 3


def test_topk_hits():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.05], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 1, 0])
    assert topk_hits(logits, labels, 1).item() == 1
    assert topk_hits(logits, labels, 2).item() == 2
    assert topk_hits(logits, labels, 5).item() == 3  # k capped at the number of classes


def test_auto_resume_picks_up_an_interrupted_run_of_the_same_config(compose, tmp_path):
    from lightcnn.config import config_hash

    run(compose, tmp_path, "cut", "trainer.max_epochs=1")
    # make "cut" look like an interrupted run of the 2-epoch config: its run.json names that
    # config, its checkpoint is after epoch 1, and it never wrote a record
    cut = tmp_path / "results" / "cut"
    target = compose(*FAST, f"results_dir={tmp_path / 'results'}", "trainer.max_epochs=2", "resume=auto")
    info = json.loads((cut / "run.json").read_text())
    (cut / "run.json").write_text(json.dumps({**info, "config_hash": config_hash(target)}))
    (cut / "result.json").unlink()
    run_dir = tmp_path / "results" / "again"
    run_dir.mkdir()
    record = execute(target, run_dir).record
    assert record["resumed_from"] == str(cut / "checkpoints" / "last.ckpt")
    assert record["epochs"] == 2 and [h["epoch"] for h in record["history"] if h["stage"] == "train"] == [1]


@pytest.mark.slow
def test_compiled_path_follows_the_eager_loss_trajectory(compose, tmp_path):
    eager = run(
        compose,
        tmp_path,
        "eager",
        "seed=1",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=3",
        "trainer.log_every_n_steps=1",
    )
    compiled = run(
        compose,
        tmp_path,
        "compiled",
        "seed=1",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=3",
        "trainer.log_every_n_steps=1",
        "trainer.compile=default",
    )
    assert compiled["status"] == "ok"
    assert compiled["history"][0]["train/loss"] == pytest.approx(eager["history"][0]["train/loss"], rel=1e-3)
