"""In-process runs through the runner (compose → validate → task → record) on synthetic data."""

import json
from pathlib import Path

import pytest
import torch

from lightcnn.config import TrainerConfig
from lightcnn.engine.module import LitClassifier, epoch_values, stage_metrics
from lightcnn.errors import UserError
from lightcnn.runner import execute

FAST = [
    "dataset=synthetic",
    "dataset.num_train=128",
    "dataset.num_test=64",
    "model.depth=20",
    "profile=smoke",
    "trainer.checkpoint=true",  # smoke keeps none by default; these tests check checkpoints and resume
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
    assert rec["cpu_threads"] == torch.get_num_threads()  # two jobs side by side train with half each
    assert rec["config"]["model"] == {"name": "resnet", "depth": 20} and "hydra" not in rec["config"]


def test_validation_split_selects_by_val_and_reports_test_of_best(compose, tmp_path):
    rec = run(compose, tmp_path, "v", "dataset.val_fraction=0.25", "trainer.max_epochs=3")
    vals = [h["val/acc"] for h in rec["history"] if h["stage"] == "val"]
    assert len(vals) == 3 and rec["best_val_acc"] == pytest.approx(max(vals))
    assert rec["test_acc_at_best_val"] is not None and rec["final_val_acc"] == pytest.approx(vals[-1])
    assert list((tmp_path / "results/v/checkpoints").glob("best-epoch=*.ckpt"))


def test_a_smoke_run_keeps_no_checkpoint_unless_asked(compose, tmp_path, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="lightcnn.tasks.training"):
        rec = run(compose, tmp_path, "s", "trainer.checkpoint=false", "dataset.val_fraction=0.25")
    assert rec["status"] == "ok" and not (tmp_path / "results/s/checkpoints").exists()
    assert rec.get("test_acc_at_best_val") is None  # no weights of the best epoch kept: said, not silent
    assert "test_acc_at_best_val not measured: trainer.checkpoint=false keeps no weights" in caplog.text
    assert compose("profile=smoke").trainer.checkpoint is False and compose("profile=quick").trainer.checkpoint


def test_nan_loss_is_recorded_as_diverged(compose, tmp_path):
    rec = run(compose, tmp_path, "d", "trainer.lr=1e30", "trainer.log_every_n_steps=1", "trainer.max_epochs=3")
    assert rec["status"] == "diverged" and rec["test_acc"] is None
    assert rec["epochs"] <= 1  # stopped in the first epoch, not after all three


def test_explicit_resume_continues_from_checkpoint(compose, tmp_path):
    first = run(compose, tmp_path, "first", "trainer.max_epochs=1")
    ckpt = tmp_path / "results/first/checkpoints/last.ckpt"
    second = run(compose, tmp_path, "second", "trainer.max_epochs=2", f"resume={ckpt}")
    assert first["epochs"] == 1 and second["epochs"] == 2 and second["resumed_from"] == str(ckpt)
    # epoch 0 came from the checkpoint, its history with it
    assert [h["epoch"] for h in second["history"] if h["stage"] == "train"] == [0, 1]
    assert second["history"][0] == first["history"][0]


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


def test_stage_metrics_weigh_the_loss_by_samples_and_cap_top_k_at_the_class_count():
    metrics = stage_metrics(3)
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.05], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 1, 0])
    metrics["loss_sum"].update(torch.tensor(3 * 1.0))
    metrics["count"].update(torch.tensor(3.0))
    metrics["acc"].update(logits, labels)
    metrics["acc5"].update(logits, labels)
    metrics["loss_sum"].update(torch.tensor(3.0))  # a last batch of one image
    metrics["count"].update(torch.tensor(1.0))
    metrics["acc"].update(logits[:1], labels[:1])
    metrics["acc5"].update(logits[:1], labels[:1])
    values = epoch_values(metrics)
    assert values["loss"] == 1.5  # (3 × 1 + 1 × 3) / 4 images, not the mean of the two batches' losses
    assert values["acc"] == 0.5 and values["acc5"] == 1.0  # 2 of 4 top-1 hits; top-5 capped at 3 classes: all
    metrics["loss_sum"].update(torch.tensor(float("nan")))
    assert epoch_values(metrics)["loss"] != epoch_values(metrics)["loss"]  # a NaN loss is not filtered out


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
        "trainer.precision=32",  # float32 on every CPU: bf16 autocast (auto on AMX) rounds differently when compiled
    )
    compiled = run(
        compose,
        tmp_path,
        "compiled",
        "seed=1",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=3",
        "trainer.log_every_n_steps=1",
        "trainer.precision=32",  # float32 on every CPU: bf16 autocast (auto on AMX) rounds differently when compiled
        "trainer.compile=default",
    )
    assert compiled["status"] == "ok" and compiled["precision"] == eager["precision"] == "32"
    assert compiled["history"][0]["train/loss"] == pytest.approx(eager["history"][0]["train/loss"], rel=1e-3)


def test_a_run_directory_of_another_config_is_refused(compose, tmp_path):
    first = run(compose, tmp_path, "shared", "trainer.max_epochs=1")
    cfg = compose(*FAST, f"results_dir={tmp_path / 'results'}", "trainer.max_epochs=2")
    with pytest.raises(UserError, match=rf"shared: holds a run of another config \({first['config_hash']}, this one"):
        execute(cfg, tmp_path / "results" / "shared")
    assert json.loads((tmp_path / "results/shared/result.json").read_text())["run_id"] == first["run_id"]


def test_a_split_smaller_than_one_batch_is_refused_before_training(compose, tmp_path):
    cfg = compose(*FAST, f"results_dir={tmp_path / 'results'}", "dataset.train_subset=100", "trainer.batch_size=128")
    (tmp_path / "results" / "r").mkdir(parents=True)
    with pytest.raises(UserError, match=r"trainer.batch_size=128 is not allowed: at most the 100 training images"):
        execute(cfg, tmp_path / "results" / "r")
    assert not (tmp_path / "results" / "r").exists()


def test_non_finite_weights_are_diverged_not_ok(compose, tmp_path, monkeypatch):
    # a loss that stays finite while the weights do not: checked at the end, not only the loss
    from lightcnn.engine import module as module_file

    def poison(self):
        with torch.no_grad():
            next(self.net.parameters()).fill_(float("nan"))

    monkeypatch.setattr(module_file.LitClassifier, "on_train_end", poison, raising=False)
    rec = run(compose, tmp_path, "nan", "trainer.max_epochs=1", "trainer.log_every_n_steps=1000")
    assert rec["status"] == "diverged" and rec["test_acc"] is None and "non-finite" in rec["error"]


@pytest.mark.parametrize("signal_first", [True, False])
def test_a_failure_after_sigterm_is_an_interruption_without_one_a_failure(compose, tmp_path, monkeypatch, signal_first):
    """SIGTERM to the process group also kills the inductor's compiler: the step then fails with a
    compile error, and the record must say interrupted (resumable), not failed. Either way the
    half-written object the error names is removed from torch's compile cache (nothing outside it)."""
    import os
    import signal

    from lightcnn.engine import module as module_file

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache/p2").mkdir(parents=True)
    (tmp_path / "cache/p2/k.main.so").write_bytes(b"\x7fELF")
    (tmp_path / "elsewhere.so").write_bytes(b"\x7fELF")

    def step(self, batch, batch_idx):
        if signal_first:
            os.kill(os.getpid(), signal.SIGTERM)
        raise RuntimeError(f"CppCompileError: C++ compile error\ng++ {tmp_path}/k.cpp -o {tmp_path}/cache/p2/k.main.so "
                           f"-L{tmp_path}/elsewhere.so")  # fmt: skip

    monkeypatch.setattr(module_file.LitClassifier, "training_step", step)
    overrides = ("trainer.max_epochs=1", "trainer.compile=default")
    if signal_first:
        rec = run(compose, tmp_path, "t", *overrides)
        cause = "RuntimeError in the step it ended: CppCompileError: C++ compile error"
        assert rec["status"] == "interrupted" and rec["error"] == f"interrupted by SIGTERM ({cause})"
    else:
        with pytest.raises(RuntimeError, match="CppCompileError"):
            run(compose, tmp_path, "f", *overrides)
        record = json.loads((tmp_path / "results/f/result.json").read_text())
        assert record["status"] == "failed" and record["error"].startswith("RuntimeError: CppCompileError")
    assert not (tmp_path / "cache/p2/k.main.so").exists() and (tmp_path / "elsewhere.so").exists()


def test_one_progress_line_per_epoch_whatever_the_terminal(compose, tmp_path, caplog):
    import logging

    from lightcnn.engine.callbacks import epoch_line

    with caplog.at_level(logging.INFO, logger="lightcnn.progress"):
        run(compose, tmp_path, "p", "trainer.max_epochs=2", "dataset.val_fraction=0.25")
    messages = [r.getMessage() for r in caplog.records if r.name == "lightcnn.progress"]
    assert messages[0].startswith("plan: resnet on synthetic (96 training images), 2 epochs of batch 16, ")
    lines = [m for m in messages if m.startswith("epoch")]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  train loss ") and " val acc " in lines[0]
    assert lines[1].endswith("ETA 0:00:00")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lightcnn.progress"):
        run(compose, tmp_path, "q", "trainer.max_epochs=1", "trainer.limit_train_batches=2")
    plan = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("plan: "))
    assert plan.startswith("plan: resnet on synthetic (128 training images), 1 epoch of 2 batches of 16, ")
    history = [{"stage": "val", "epoch": 0, "val/acc": 55.1}, {"stage": "train", "epoch": 0, "train/loss": 1.23456,
               "train/acc": 56.789}]  # fmt: skip
    assert (
        epoch_line(history, 0, 30, 412.3, 3725)
        == "epoch 1/30  train loss 1.2346 acc 56.79%  val acc 55.10%  412 img/s  ETA 1:02:05"
    )


def test_the_end_of_run_line():
    from pathlib import Path

    from lightcnn.cli.lines import summary_line

    record = {"status": "ok", "model": "resnet", "dataset": "cifar10", "test_acc": 91.254, "test_acc5": 99.7,
              "params": 269722, "flops_conv": 40551040, "train_time_s": 3725.2}  # fmt: skip
    assert summary_line(record, run_dir=Path("results/runs/x")) == (
        "ok: resnet on cifar10; test top-1 91.25%, top-5 99.70%; 269,722 params, 40,551,040 MACs; 62 min 5 s; "
        "results/runs/x"
    )
    assert summary_line({"status": "failed", "model": "m", "dataset": "d", "error": "boom"}).endswith("; boom")
    pruned = {**record, "params": 98934, "flops_conv": 15000000, "params_before": 269722, "flops_before": 40551040}
    sizes = ("98,934 params (269,722 before the method, 63.3% removed), "
             "15,000,000 MACs (40,551,040 before, 63.0% removed)")  # fmt: skip
    assert f"; {sizes}; " in summary_line(pruned)


def test_trainer_extra_passes_any_trainer_argument_and_refuses_the_rest(compose, tmp_path):
    rec = run(compose, tmp_path, "clip", "trainer.max_epochs=1", "+trainer.extra.gradient_clip_val=0.5")
    assert rec["status"] == "ok" and rec["config"]["trainer"]["extra"] == {"gradient_clip_val": 0.5}
    for extra, message in (
        ("gradient_clip_vall=0.5", "trainer.extra.gradient_clip_vall=0.5 is not allowed: an argument of "),
        ("max_epochs=3", "trainer.extra.max_epochs=3 is not allowed: set trainer.max_epochs instead"),
    ):
        cfg = compose(*FAST, f"results_dir={tmp_path / 'results'}", f"+trainer.extra.{extra}")
        (tmp_path / "results" / "bad").mkdir(parents=True, exist_ok=True)
        with pytest.raises(UserError, match=message):
            execute(cfg, tmp_path / "results" / "bad")
        assert not (tmp_path / "results" / "bad").exists()  # refused before any work


@pytest.mark.slow
def test_mlflow_logger_files_the_run_with_its_config_metrics_results_and_files(compose, tmp_path, monkeypatch, capfd):
    """logger=mlflow: a local SQLite tracking store and the artifacts under results/, read back
    through the client; nothing written where the command ran, nothing of MLflow's on stderr."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    rec = run(compose, tmp_path, "tracked", "trainer.max_epochs=1", "logger=mlflow")
    assert (
        rec["status"] == "ok"
        and rec["config_hash"] == run(compose, tmp_path, "untracked", "trainer.max_epochs=1")["config_hash"]
    )  # how a run is observed is not part of what it computes
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'results'}/mlflow.db")
    [found] = client.search_runs([client.get_experiment_by_name("lightcnn").experiment_id])
    assert found.data.tags["lightcnn.run_id"] == rec["run_id"] and found.data.tags["lightcnn.status"] == "ok"
    assert found.data.params["model.name"] == "resnet" and found.data.params["trainer.max_epochs"] == "1"
    assert found.data.metrics["test_acc"] == pytest.approx(rec["test_acc"])
    assert found.data.metrics["params"] == rec["params"] and "train/loss" in found.data.metrics
    assert found.info.status == "FINISHED"
    files = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert files == {"config.yaml", "result.json", "metrics.csv"}
    stored = Path(client.download_artifacts(found.info.run_id, "result.json", str(tmp_path / "dl")))
    assert json.loads(stored.read_text())["run_id"] == rec["run_id"]
    assert found.info.artifact_uri.startswith((tmp_path / "results" / "mlartifacts").as_uri())
    assert not (tmp_path / "mlruns").exists()
    err = capfd.readouterr().err
    assert not any(line in err for line in ("INFO mlflow", "Creating initial MLflow database", "Creating it"))


def test_tensorboard_logger_writes_one_event_file_with_the_config_and_results_as_hparams(compose, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    rec = run(compose, tmp_path, "tb", "trainer.max_epochs=1", "logger=tensorboard")
    [events] = (tmp_path / "results" / "tb" / "tb").glob("events.out.tfevents.*")  # fit and test in one file
    acc = EventAccumulator(str(events))
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    assert {"train/loss", "test/acc", "test_acc", "params", "flops"} <= scalars
    assert acc.Scalars("params")[0].value == rec["params"]
    [start] = [
        plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
        for content in acc.PluginTagToContent("hparams").values()
        if plugin_data_pb2.HParamsPluginData.FromString(content).HasField("session_start_info")
    ]
    assert start.hparams["model.name"].string_value == "resnet"
    assert start.hparams["trainer.max_epochs"].number_value == 1
    assert "model.name: resnet" in (tmp_path / "results" / "tb" / "tb" / "hparams.yaml").read_text()
    assert not list((tmp_path / "results").rglob("mlflow.db"))


def test_metrics_csv_and_history_carry_the_learning_rate_each_epoch_used(compose, tmp_path):
    import csv

    rec = run(compose, tmp_path, "lr", "trainer.schedule=cosine", "trainer.lr=0.2")  # 2 epochs: 0.2, then 0.1
    assert [h["lr"] for h in rec["history"] if h["stage"] == "train"] == pytest.approx([0.2, 0.1])
    rows = list(csv.DictReader(open(tmp_path / "results" / "lr" / "metrics.csv")))
    assert [float(r["lr"]) for r in rows if r.get("lr")] == pytest.approx([0.2, 0.1])
    assert [int(r["epoch"]) for r in rows if r.get("lr")] == [0, 1]


def test_long_epochs_log_an_estimate_and_step_lines_without_a_progress_bar(compose, tmp_path, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="lightcnn.progress"):
        run(compose, tmp_path, "long", "trainer.max_epochs=1", "dataset.num_train=800", "trainer.batch_size=8")
    messages = [r.getMessage() for r in caplog.records if r.name == "lightcnn.progress"]
    estimate = next(m for m in messages if m.startswith("estimate: "))
    assert "per epoch, about " in estimate and "for 1 epochs (median of steps 2-10 of the first epoch)" in estimate
    steps = [m for m in messages if " step " in m]
    assert [m.split("  ")[1] for m in steps] == ["step 20/100", "step 40/100", "step 60/100", "step 80/100"]
    assert all(" loss " in m and " acc " in m for m in steps)


def test_one_stalled_step_does_not_set_the_duration_estimate():
    from lightcnn.engine.callbacks import median_step_s

    ends = [0.0, 0.2, 0.4, 3.4, 3.6, 3.8, 4.0, 4.2, 4.4, 4.6]  # step 4 stalls 3 s (a recompilation)
    assert median_step_s(ends) == pytest.approx(0.2)  # the mean would say 0.51


def test_the_live_bar_draws_only_on_a_terminal_and_on_stderr(monkeypatch, tmp_path):
    import sys

    from pytorch_lightning.callbacks import TQDMProgressBar

    from lightcnn.config import TrainerConfig
    from lightcnn.engine.callbacks import EpochLog
    from lightcnn.engine.trainer import make_trainer

    for terminal in (False, True):
        monkeypatch.setattr(sys.stderr, "isatty", lambda terminal=terminal: terminal, raising=False)
        trainer, _, _ = make_trainer(TrainerConfig(accelerator="cpu"), tmp_path, has_val=False, loggers=[])
        log = next(c for c in trainer.callbacks if isinstance(c, EpochLog))
        if terminal:  # tqdm's bar (on stderr; Rich's would draw on stdout, which carries only the record)
            assert isinstance(trainer.progress_bar_callback, TQDMProgressBar) and log.step_lines == 0
        else:  # no bar: the plain lines carry the progress
            assert trainer.progress_bar_callback is None and log.step_lines == 5


def test_the_records_device_and_peak_memory_are_those_of_the_device_that_trained(compose, tmp_path, monkeypatch):
    """Lightning's teardown moves the module to the CPU after fitting: on a GPU, reading the
    module's device afterwards named the CPU. Here teardown makes the module say it is on the
    meta device instead, which the record must not be read from."""
    from pytorch_lightning.strategies import SingleDeviceStrategy

    import lightcnn.tasks.training as training

    teardown = SingleDeviceStrategy.teardown

    def elsewhere(self):
        teardown(self)
        self.lightning_module._device = torch.device("meta")  # what .device reports (the tensors stay)

    asked = []
    monkeypatch.setattr(SingleDeviceStrategy, "teardown", elsewhere)
    monkeypatch.setattr(training, "peak_memory_mb", lambda device: asked.append(device.type) or 1.0)
    monkeypatch.setattr(training, "device_name", lambda device: asked.append(device.type) or f"named {device.type}")
    record = run(compose, tmp_path, "r")
    assert record["device"] == "named cpu" and record["peak_mem_mb"] == 1.0 and asked == ["cpu", "cpu"]


def test_auto_precision_is_refused_before_a_cuda_fork(compose, tmp_path, monkeypatch):
    """Deciding precision=auto on a GPU initialises CUDA, which forked DDP processes cannot use."""
    import lightcnn.tasks.training as training

    monkeypatch.setattr(training, "device_type", lambda accelerator: "cuda")
    with pytest.raises(UserError, match=r"trainer.precision='auto' is not allowed: an explicit .*strategy=ddp_fork"):
        run(compose, tmp_path, "r", "trainer.strategy=ddp_fork")
