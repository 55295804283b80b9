"""The ``lightcnn`` and ``lightcnn-tables`` commands, run as a user runs them (subprocesses)."""

import json
import subprocess

import pytest
from conftest import BIN, SMOKE, run_command, write_idx_dataset


def run_dirs(tmp_path):
    return sorted(p.parent for p in (tmp_path / "results").rglob(".hydra")) if (tmp_path / "results").exists() else []


def test_help_lists_groups_and_options(lightcnn):
    out = lightcnn("--help")
    assert out.returncode == 0
    for text in (
        "dataset:",
        "cifar10",
        "fashion_mnist",
        "synthetic",
        "model:",
        "resnet",
        "method:",
        "none",
        "trainer:",
        "ddp",
        "task:",
        "profile",
        "download",
        "profile:",
        "smoke",
        "quick",
        "paper",
    ):
        assert text in out.stdout


def test_cfg_job_prints_the_resolved_config(lightcnn):
    out = lightcnn("--cfg", "job", "model.depth=110", "profile=paper")
    assert out.returncode == 0
    assert "depth: 110" in out.stdout and "max_epochs: 164" in out.stdout and "milestones:" in out.stdout


def test_profile_task_prints_a_summary_line_the_record_and_the_table_on_request(lightcnn, tmp_path):
    out = lightcnn("task=profile", "model=resnet", "model.depth=56", "task.print_table=true")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1  # stdout is the record alone (| jq works); the table is on stderr
    assert "| module         | #parameters   | #MACs" in out.stderr and "layer3" in out.stderr
    assert "ok: resnet on cifar10; 853,018 params, 125,485,696 MACs" in out.stderr
    record = out.record
    total = (
        f"total {record['flops']:,} MACs (the record's flops: every operator fvcore counts); conv + linear 125,485,696"
    )
    assert total in out.stderr and record["flops"] > record["flops_conv"]
    assert (record["params"], record["flops_conv"], record["status"]) == (853_018, 125_485_696, "ok")
    assert record["flops_skipped_ops"] == {"aten::add": 27, "aten::pad": 2}
    saved = json.loads((tmp_path / "results").rglob("result.json").__next__().read_text())
    assert saved["run_id"] == record["run_id"]


@pytest.mark.slow
def test_smoke_training_then_tables(lightcnn, tmp_path):
    out = lightcnn(*SMOKE, "model.depth=20", "trainer.max_epochs=3", "trainer.limit_train_batches=null")
    assert out.returncode == 0, out.stderr[-3000:]
    record = out.record
    assert record["status"] == "ok" and record["test_acc"] > 30  # chance is 10%
    assert tmp_path / record["run_dir"] if "run_dir" in record else True
    result = next((tmp_path / "results").rglob("result.json"))
    assert json.loads(result.read_text())["test_acc"] == record["test_acc"]
    assert (result.parent / "metrics.csv").read_text().startswith("epoch,") or "train/acc" in (
        result.parent / "metrics.csv"
    ).read_text()

    spec = tmp_path / "experiments" / "smoke" / "synthetic.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        "title: smoke\n"
        'overrides: ["dataset=synthetic", "trainer.accelerator=cpu", "trainer.max_epochs=3",'
        ' "trainer.limit_train_batches=null"]\n'
        "columns: [{key: test_acc, label: Top-1 (%)}, {key: params, label: Params, digits: 0, diff: none}]\n"
        "rows:\n"
        "  - {label: R20, overrides: [model.depth=20], published: {test_acc: 90.0}}\n"
        "  - {label: R56, overrides: [model.depth=56]}\n"
    )
    tables = run_command("lightcnn-tables", [spec, "--out", "reports", "--profile", "smoke"], tmp_path)
    assert tables.returncode == 0, tables.stderr
    text = (tmp_path / "reports/smoke/synthetic.md").read_text()
    assert f"{record['test_acc']:.2f}" in text and "269,722" in text and "not run" in text
    assert (tmp_path / "reports/smoke/synthetic.csv").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["model=resnext"], "error: model=resnext: no such option; available: aca_cnn, mobilenet, mobilenet_fused"),
        (["model.width=3"], "error: model.width: unknown key; allowed keys here: name, depth"),
        (["logger=wandb"], "error: logger=wandb: no such option; available: csv, mlflow, tensorboard"),
        (["model.depth=abc"], "error: model.depth: Value 'abc' of type 'str' could not be converted to Integer"),
        (["model.depth=57"], "error: model.depth=57 is not allowed: one of 20, 32, 44, 56, 110"),
        (["trainer.batch_size=0"], "error: trainer.batch_size=0 is not allowed: an integer >= 1"),
        (["dataset=mnist"], "error: dataset mnist: missing"),
        (["task=download", "dataset=synthetic"], "error: dataset='synthetic' is not allowed: a real data set"),
        (["task=profile", "results_dir=blocker/results"], "error: blocker/results/runs/"),
    ],
)
def test_bad_input_exits_2_with_one_line(lightcnn_in_process, tmp_path, args, expected):
    (tmp_path / "blocker").write_text("a file where a results directory should be")
    out = lightcnn_in_process(*args, "trainer.progress_bar=false")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith(expected), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert run_dirs(tmp_path) == []  # nothing half-written


@pytest.mark.slow
def test_corrupt_data_file_exits_2_naming_it(lightcnn, tmp_path):
    raw = write_idx_dataset(tmp_path / "data", "MNIST", gz=False)
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])
    out = lightcnn("dataset=mnist", "profile=smoke", "trainer.progress_bar=false")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"error: {images}: holds 1,000 bytes" in out.stderr
    assert run_dirs(tmp_path) == []


@pytest.mark.slow
def test_real_layout_trains_on_mnist_files(lightcnn, tmp_path):
    write_idx_dataset(tmp_path / "data", "MNIST", n_train=64, n_test=32, gz=True)
    out = lightcnn("dataset=mnist", "model.depth=20", "profile=smoke", "trainer.progress_bar=false")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.record["dataset"] == "mnist" and out.record["params"] == 269_722 - 2 * 16 * 9  # a 1-channel stem


@pytest.mark.slow
def test_sweep_with_joblib_writes_one_record_per_job(lightcnn, tmp_path):
    out = lightcnn(
        "-m",
        "task=profile",
        "task.print_table=false",
        "model.depth=20,32",
        "seed=0,1",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("result.json")]
    assert len(records) == 4 and len({r["run_id"] for r in records}) == 4
    assert sorted((r["config"]["model"]["depth"], r["seed"]) for r in records) == [(20, 0), (20, 1), (32, 0), (32, 1)]
    # re-running the sweep skips every configuration that already has an ok record
    again = lightcnn("-m", "task=profile", "task.print_table=false", "model.depth=20,32", "seed=0,1")
    assert again.returncode == 0
    assert len(list((tmp_path / "results").rglob("result.json"))) == 4
    printed = [json.loads(line) for line in again.stdout.splitlines() if line.startswith("{")]
    assert {r["run_id"] for r in printed} == {r["run_id"] for r in records}


@pytest.mark.slow
def test_runs_started_in_the_same_second_never_collide(tmp_path):
    procs = [
        subprocess.Popen(
            [str(BIN / "lightcnn"), "task=profile", "task.print_table=false", f"seed={s}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for s in range(3)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert len(run_dirs(tmp_path)) == 3


@pytest.mark.slow
def test_ddp_on_cpu_with_two_processes(lightcnn, tmp_path):
    out = lightcnn(
        *SMOKE,
        "model.depth=20",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.limit_eval_batches=null",
        "trainer.checkpoint=true",
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    records = list((tmp_path / "results").rglob("result.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["status"] == "ok" and record["config"]["trainer"]["strategy"] == "ddp"
    assert record["test_acc"] is not None
    import torch

    state = torch.load(records[0].parent / "checkpoints" / "last.ckpt", weights_only=True)["lightcnn"]
    ranks = state["rng_per_rank"]  # each rank drew its own augmentation stream, kept for an exact resume
    assert len(ranks) == 2 and not torch.equal(ranks[0]["torch"], ranks[1]["torch"])


@pytest.mark.slow
def test_hrank_pruning_during_training_under_ddp_with_two_processes(lightcnn, run_config, tmp_path):
    """Layer by layer (six prunings, each from the best weights of the segment before): the
    strategy wraps the pruned module anew each time, every rank cuts rank 0's choice, and the
    network trained is the one a single process prunes to."""
    method = ["model=aca_cnn", "dataset=synthetic", "profile=smoke", "dataset.val_fraction=0.25", "method=prune_hrank",
              "method.mode=layerwise", "method.layer_epochs=1", "method.compress_rate=0.5", "method.batches=1",
              "method.batch_size=16", "trainer.max_epochs=7"]  # fmt: skip
    out = lightcnn(*method, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stderr.count("pruned 1 conv(s) at epoch 5") == 2  # both ranks
    (path,) = (tmp_path / "results").rglob("result.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and [s["epoch"] for s in record["hrank_segments"]] == [0, 1, 2, 3, 4, 5]
    single = run_config("task=profile", *method)  # one-shot without data: the same filter count per conv
    assert (record["params"], record["flops"]) == (single["params"], single["flops"])
    assert record["params"] < single["params_before"]


def test_a_sweep_ends_with_a_table_of_its_jobs(lightcnn_in_process, tmp_path):
    out = lightcnn_in_process("-m", "task=profile", "model.depth=20,32", "trainer.progress_bar=false")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(lines) == 2 and all(json.loads(line)["status"] == "ok" for line in lines)  # records only: | jq works
    assert "Launching 2 jobs locally" in out.stderr
    summary = out.stderr[out.stderr.index("sweep: 2 jobs, 0 not ok") :].splitlines()
    assert summary[1] == "| job | overrides | status | test top-1 (%) | train (s) |"
    assert summary[3].startswith("| 0 | task=profile model.depth=20 ") and summary[3].endswith(" | ok | — | — |")
    assert summary[4].startswith("| 1 | task=profile model.depth=32")
    again = lightcnn_in_process("-m", "task=profile", "model.depth=20,32", "trainer.progress_bar=false")
    assert again.stderr.count("ok (done before)") == 2


@pytest.mark.slow
def test_a_sweep_through_submitits_local_executor_the_path_slurm_takes(lightcnn, tmp_path):
    """hydra/launcher=submitit_local pickles each job and runs it in its own process, as SLURM would."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    out = lightcnn("-m", "hydra/launcher=submitit_local", "task=profile", "model.depth=20,32")
    assert out.returncode == 0, out.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("result.json")]
    assert sorted(r["config"]["model"]["depth"] for r in records) == [20, 32]
    assert "sweep: 2 jobs, 0 not ok" in out.stderr and list((tmp_path / "results").rglob(".submitit"))


def test_a_listing_leaves_no_run_directory(lightcnn_in_process, tmp_path):
    out = lightcnn_in_process("task=list", f"results_dir={tmp_path / 'results'}")
    assert out.returncode == 0 and "resnet" in out.stdout
    assert not (tmp_path / "results").exists()


def test_a_key_of_another_option_names_the_options_that_have_it(lightcnn_in_process):
    out = lightcnn_in_process("task=profile", "method.compress_rate=0.5")
    assert out.returncode == 2 and out.stderr.strip() == (
        "error: method.compress_rate: unknown key; allowed keys here: name (method=prune_hrank has compress_rate)"
    )
    out = lightcnn_in_process("task=profile", "model.alpha=0.5")
    assert out.stderr.strip().endswith("(model=oct_resnet, model=pwise_oct_resnet have alpha)")


def test_an_unquoted_rate_string_is_answered_with_the_quoted_form(lightcnn_in_process):
    out = lightcnn_in_process("task=profile", "method=prune_hrank", "method.compress_rate=[0.1]*3")
    assert out.returncode == 2 and "\"method.compress_rate='[0.1]*3'\"" in out.stderr
    quoted = lightcnn_in_process("task=profile", "method=prune_hrank", "model=vgg16", "method.compress_rate='[0.1]*13'")
    assert quoted.returncode == 0, quoted.stderr[-1000:]  # the form the message shows works as printed


def test_the_sweep_table_shows_short_trainings_to_a_tenth_of_a_second():
    from lightcnn.cli.sweep import seconds_text

    assert [seconds_text(s) for s in (0.42, 9.96, 12.4, 1234.5, None)] == ["0.4", "10.0", "12", "1,234", "—"]


def test_a_skipped_run_says_which_display_settings_it_did_not_apply(lightcnn_in_process):
    assert lightcnn_in_process("task=profile", "model.depth=20").returncode == 0
    again = lightcnn_in_process("task=profile", "model.depth=20", "task.print_table=true", "logger=tensorboard")
    assert again.returncode == 0 and "ok (skipped: done before)" in again.stderr
    assert ("not applied, the run being done before: logger=tensorboard, task.print_table=true; "
            "add skip_existing=false to run it again with them") in again.stderr  # fmt: skip
