"""``make reproduce-tables`` in small: specs → runs → report (pages, index, plots)."""

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT
from omegaconf import OmegaConf

SPEC = """
title: Toy reproduction
source: nobody (2026), Table 0
overrides: ["dataset=cifar10"]
columns:
  - {key: params, label: Params, digits: 0, diff: relative}
  - {key: test_acc, label: Top-1 (%), digits: 2, diff: none}
rows:
  - {label: R20, overrides: ["model=resnet", "model.depth=20"], published: {params: 269722}}
  - label: R20 diverging
    overrides: ["model=resnet", "model.depth=20", "trainer.lr=1e30", "trainer.log_every_n_steps=1"]
curves:
  - {name: curves, rows: [R20], stage: train}
"""


def reproduce(tmp_path, *args):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "lightcnn.reproduce",
            *map(str, args),
            "--results",
            str(tmp_path / "results"),
            "--out",
            str(tmp_path / "reports"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_smoke_reproduction_renders_a_report_and_resumes(tmp_path):
    spec = tmp_path / "experiments" / "toy" / "table.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(SPEC)
    out = reproduce(tmp_path, spec, "--profile", "smoke", "--jobs", "2")
    assert out.returncode == 1, out.stderr[-3000:]  # a job diverged: the reproduction says so
    assert "| [toy/table] R20 diverging (train) | diverged |" in out.stderr
    assert "| [toy/table] R20 (train)           | ok       |" in out.stderr
    assert "2 jobs in" in out.stderr and "1 not ok" in out.stderr
    reports = tmp_path / "reports"
    table = (reports / "toy" / "table.md").read_text()
    assert "synthetic data" in table and "| R20 " in table and "269,722" in table and "+0.0%" in table
    assert "diverged" in table  # the diverging run is marked, not filled
    page, index = (reports / "toy.md").read_text(), (reports / "index.md").read_text()
    assert all("> **Smoke report: the accuracies are meaningless.**" in text for text in (table, page, index))
    assert "![table_curves](toy/table_curves.png)" in page
    assert (
        "| [toy](toy.md) | 1 | 1 | 0 | 1 |" in index
        and "![pareto synthetic_3x32x32](pareto_synthetic_3x32x32.png)" in index
    )
    assert (reports / "pareto_synthetic_3x32x32.png").read_bytes()[:4] == b"\x89PNG"
    first = {p: p.read_bytes() for p in reports.rglob("*") if p.is_file()}
    # a second reproduction skips the ok runs and renders the same bytes
    again = reproduce(tmp_path, spec, "--profile", "smoke")
    assert again.returncode == 1
    records = list((tmp_path / "results").rglob("result.json"))
    assert len(records) == 3  # R20 ok, and the diverging run twice (only ok runs are skipped)
    assert {p: p.read_bytes() for p in reports.rglob("*") if p.is_file()} == first


def test_spec_with_unknown_model_fails_before_anything_runs(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("model=resnet", "model=resnet99"))
    out = reproduce(tmp_path, spec)
    assert out.returncode == 2 and "model=resnet99: no such option" in out.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "reports").exists()


def test_every_shipped_spec_loads_with_synthetic_stand_ins():
    from lightcnn.results.tables import load_specs

    paths = sorted((ROOT / "experiments").rglob("*.yaml"))
    specs = load_specs(paths, synthetic=True)
    assert {s.paper for s in specs} == {"resnet", "octconv", "mobilenet", "templates", "aca", "pruning"}
    for spec in specs:
        for row in spec.rows:
            assert not any(o in row.overrides for o in ("dataset=cifar10", "dataset=mnist")), row


@pytest.mark.slow  # the counts-only reproduction below renders every shipped spec in the default suite
def test_every_shipped_spec_renders_with_no_records(tmp_path):
    """Every row of every shipped spec composes (for its tasks, at every profile) and is marked missing."""
    from lightcnn.results.tables import render_report

    paths = sorted((ROOT / "experiments").rglob("*.yaml"))
    written = render_report(paths, tmp_path / "results", tmp_path / "reports", profile=None, synthetic=False)
    index = (tmp_path / "reports" / "index.md").read_text()
    assert "| [octconv](octconv.md) | 5 | 0 | 0 | 47 |" in index
    assert all(p.exists() for p in written)
    for page in (tmp_path / "reports").glob("*.md"):  # one H1 a page: a paper's tables are its sections
        assert sum(line.startswith("# ") for line in page.read_text().splitlines()) == 1, page


def reproduce_in_process(tmp_path, *args) -> int:
    from lightcnn.reproduce import main

    try:
        main([*map(str, args), "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")])
    except SystemExit as exit:
        return int(exit.code or 0)
    return 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("  - {label: R20, overrides:", "  - {label: R20, overides:"),
            "rows[0]: unknown key 'overides'; allowed: label",
        ),
        (("title: Toy", "titel: Toy"), "spec: unknown key 'titel'"),
        (("digits: 0, diff", "digit: 0, diff"), "columns[0]: unknown key 'digit'"),
        (("label: R20 diverging", "label: R20"), "duplicate row label 'R20'"),
        (("stage: train}", "stage: train, colour: red}"), "curves[0]: unknown key 'colour'"),
        (
            ('"model.depth=20", "trainer.lr=1e30"', '"model.depth=21", "trainer.lr=1e30"'),
            "R20 diverging (train): model.depth=21",
        ),
        (('"trainer.lr=1e30"', '"trainer.lr=-1"'), "R20 diverging (train): trainer.lr=-1.0 is not allowed"),
        (('"trainer.log_every_n_steps=1"', '"trainer.log_evry_n_steps=1"'), "trainer.log_evry_n_steps"),
        (  # what Hydra's grammar refuses on the command line fails in the plan too (an unquoted '=' in a list)
            ('"trainer.lr=1e30"', '"trainer.milestones=[a=1]"'),
            "R20 diverging (train): cannot parse override: no viable alternative at input '[a='",
        ),
    ],
)
def test_a_bad_spec_stops_everything_before_the_first_job(tmp_path, capsys, edit, message):
    spec = tmp_path / "toy" / "table.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(SPEC.replace(*edit))
    assert reproduce_in_process(tmp_path, spec, "--profile", "smoke") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "results").exists() and not (tmp_path / "reports").exists()


DEPENDENT = """
title: Pruning in small
overrides: ["dataset=mnist", "model=resnet", "model.depth=20"]
columns:
  - {key: test_acc, label: Top-1 (%), digits: 2, diff: none}
rows:
  - {label: pruned, overrides: ["method=prune_hrank", "method.pretrained=auto", "trainer.lr=0.01"]}
  - {label: baseline, overrides: ["method=none"]}
  - {label: baseline again, overrides: ["seed=0", "method=none"]}  # the same configuration: one job
"""


def test_dependents_wait_for_their_baseline_and_are_blocked_when_it_fails(tmp_path, capsys):
    spec = tmp_path / "toy" / "pruning.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(DEPENDENT)
    # real MNIST files are absent: the baseline fails, the pruned row is never trained on random weights
    args = (spec, "--profile", "smoke", "--real-data", "--jobs", "2", "--override", f"data_dir={tmp_path / 'none'}")
    assert reproduce_in_process(tmp_path, *args) == 1
    err = capsys.readouterr().err
    baseline_at, pruned_at = err.index("[toy/pruning] baseline (train): "), err.index("| [toy/pruning] pruned")
    assert baseline_at < pruned_at and "[toy/pruning] pruned (train): " not in err  # never started
    assert "| blocked  |" in err and "needs [toy/pruning] baseline (train), which failed" in err
    table = (tmp_path / "reports" / "toy" / "pruning.md").read_text()
    assert re.search(r"\| pruned +\| blocked", table) and re.search(r"\| baseline +\| failed", table)
    assert re.search(r"\| baseline again +\| failed", table)  # the same configuration, run once


@pytest.fixture(autouse=True)
def yardstick(monkeypatch):
    """The dry-run's yardstick (seconds of real training steps per configuration) as a constant
    1,000 images/s, counting its calls; ``test_the_yardstick_trains_the_jobs_own_model`` times it for real."""
    import lightcnn.job_cost as job_cost

    calls = []
    monkeypatch.setattr(job_cost, "yardstick_images_per_s", lambda cfg: calls.append(cfg) or 1000.0)
    monkeypatch.setattr(job_cost, "busy_load", lambda: None)  # the plan the same on a busy machine
    return calls


def test_dry_run_prints_the_plan_in_dependency_order(tmp_path, capsys, yardstick):
    out = dry_run_output(tmp_path, capsys, DEPENDENT, "pruning", "quick")
    assert out[0].startswith("plan: 2 jobs at profile=quick; speeds from the trainings of the same configuration ")
    assert "(0 records), else a yardstick" in out[0]
    # quick: 30 epochs of 60,000 images, at the yardstick's 1,000 img/s, plus the test set (a third of a step)
    assert out[1].startswith("#1   todo  [toy/pruning] baseline (train)  [1,800,000 training images ≈ 30.1 min")
    assert out[1].endswith("at 1,000 img/s, yardstick]")
    assert out[3].startswith("#2   todo  [toy/pruning] pruned (train) after #1  [")
    assert "lightcnn dataset=mnist model=resnet model.depth=20 method=none task=train profile=quick" in out[2]
    assert out[2].endswith(" trainer.checkpoint=true") and "trainer.checkpoint" not in out[4]  # weights others load
    assert len(yardstick) == 2 and not (tmp_path / "results").exists()  # each configuration timed once
    # a finished training of the same configuration on this machine times it: 500 images/s
    from omegaconf import OmegaConf

    from lightcnn.composition import compose_config
    from lightcnn.environment import device_name

    config = OmegaConf.to_container(compose_config(out[2].split()[1:]), resolve=True)
    timed = {"status": "ok", "task": "train", "device": device_name(), "images_per_s": 500.0, "config": config}
    for name, record in (
        ("same", timed),
        ("other device", {**timed, "device": "cpu (elsewhere)"}),
        ("other depth", {**timed, "config": {**config, "model": {**config["model"], "depth": 56}}}),
    ):
        (tmp_path / "results" / name).mkdir(parents=True)
        (tmp_path / "results" / name / "result.json").write_text(json.dumps(record))  # fmt: skip
    out = dry_run_output(tmp_path, capsys, DEPENDENT, "pruning", "quick")
    assert "(2 records)" in out[0] and "≈ 60.1 min at 500 img/s, 1 record(s)]" in out[1]
    assert out[3].endswith("at 1,000 img/s, yardstick]")  # the pruned row: another method configuration


def test_dry_run_says_when_its_yardstick_ran_on_a_busy_machine(tmp_path, capsys, monkeypatch, yardstick):
    """Beside a training that holds every core, the yardstick measured 91 images/s for a model
    that trains at 812: its minutes are not to be trusted, and the plan says so."""
    import lightcnn.job_cost as job_cost

    monkeypatch.setattr(job_cost, "busy_load", lambda: 2.4)
    out = dry_run_output(tmp_path, capsys, DEPENDENT, "pruning", "quick")
    cores = os.cpu_count()
    assert out[-1] == (f"note: this machine was busy while the yardstick ran (load average 2.4 on {cores} cores): "
                       "its speeds are too low and its minutes too long; time it again when idle")  # fmt: skip
    assert out[-2].startswith("estimated time of what is left: ")
    monkeypatch.setattr(job_cost, "busy_load", lambda: None)
    assert not dry_run_output(tmp_path, capsys, DEPENDENT, "pruning", "quick")[-1].startswith("note:")


def test_dry_run_estimates_the_committed_cpu_trainings_within_half_their_time(tmp_path, capsys, monkeypatch):
    """On the machine the cpu reference set was measured on, the plan of the precision table
    reads its records' speed, and lands within a factor of 1.5 of each run's training time."""
    import lightcnn.job_cost as job_cost

    records = ROOT / "docs" / "results" / "cpu" / "records"
    epyc = "cpu (AMD EPYC, 2 cores, AVX-512 BF16)"
    monkeypatch.setattr(job_cost, "device_name", lambda *device: epyc)
    spec = ROOT / "experiments" / "resnet" / "precision.yaml"
    from lightcnn.reproduce import main

    main([str(spec), "--profile", "cpu", "--dry-run", "--results", str(records), "--out", str(tmp_path)])
    plan = [line for line in capsys.readouterr().out.splitlines() if line.startswith("#")]
    assert len(plan) == 8 and all("record(s)]" in line for line in plan)
    minutes = {line.split("] ")[1].split(" (train, seed=")[0]: float(line.split("≈ ")[1].split(" min")[0])
               for line in plan}  # fmt: skip
    checked = 0
    for path in records.glob("*/result.json"):
        record = json.loads(path.read_text())
        trainer = record["config"]["trainer"]
        precision_row = record["model"] == "resnet" and record["config"]["method"]["name"] == "none"  # the table's
        if record["device"] == epyc and precision_row and record["task"] == "train" and record.get("images_per_s"):
            if trainer["max_epochs"] == 10 and trainer["precision"] in ("32", "bf16-mixed"):
                label = "float32" if trainer["precision"] == "32" else "bf16 autocast"
                assert 1 / 1.5 < minutes[label] * 60 / record["train_time_s"] < 1.5, (label, record["run_id"])
                checked += 1
    assert checked >= 3  # the EPYC runs of the precision table that recorded their speed


SEEDED = """
title: Two seeds
overrides: ["dataset=mnist", "model=plain_cnn", "method=none"]
seeds: [0, 1]
columns:
  - {key: test_acc, label: Top-1 (%), digits: 2, diff: none}
rows:
  - {label: fp32, overrides: ["trainer.precision=32"], tasks: [train, latency]}
  - {label: one seed, overrides: ["trainer.precision=32", "trainer.lr=0.01"], seeds: [7]}
"""


def dry_run_output(tmp_path, capsys, text: str, name: str, profile: str) -> list[str]:
    """The lines ``--dry-run`` prints for a toy spec ``toy/<name>.yaml`` holding ``text``."""
    spec = tmp_path / "toy" / f"{name}.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(text)
    assert reproduce_in_process(tmp_path, spec, "--profile", profile, "--dry-run") == 0
    return capsys.readouterr().out.splitlines()


def dry_run_plan(tmp_path, capsys, text: str, name: str, profile: str) -> list[str]:
    """The job lines of ``--dry-run`` (one per job, without their commands)."""
    return [line for line in dry_run_output(tmp_path, capsys, text, name, profile) if line.startswith("#")]


def test_a_row_with_seeds_runs_once_per_seed_and_its_latency_once(tmp_path, capsys):
    """Every row at its first seed comes before any second seed: one whole comparison early."""
    plan = dry_run_plan(tmp_path, capsys, SEEDED, "seeds", "quick")
    assert [line.split("]", 1)[1].split("[")[0].strip() for line in plan] == [
        "fp32 (train, seed=0)", "fp32 (latency)", "one seed (train, seed=7)", "fp32 (train, seed=1)"]  # fmt: skip
    bad = tmp_path / "toy" / "bad.yaml"
    bad.write_text(SEEDED.replace("seeds: [7]", "seeds: [7, 7]"))
    assert reproduce_in_process(tmp_path, bad, "--profile", "quick", "--dry-run") == 2
    assert "row 'one seed': seeds=[7, 7]; expected a list of distinct integers, e.g. [0, 1]" in capsys.readouterr().err


def test_seeds_may_be_given_per_profile(tmp_path, capsys):
    spec = SEEDED.replace("seeds: [0, 1]", "seeds: {cpu: [0, 1, 2]}")
    plan = dry_run_plan(tmp_path, capsys, spec, "seeds", "cpu")
    assert [line.split("]", 1)[1].split("[")[0].strip() for line in plan] == [
        "fp32 (train, seed=0)", "fp32 (latency)", "one seed (train, seed=7)", "fp32 (train, seed=1)",
        "fp32 (train, seed=2)"]  # fmt: skip
    plan = dry_run_plan(tmp_path, capsys, spec, "seeds", "quick")  # one run at the profiles it does not name
    assert [line.split("]", 1)[1].split("[")[0].strip() for line in plan] == [
        "fp32 (train)", "fp32 (latency)", "one seed (train, seed=7)"]  # fmt: skip


def test_counts_only_reproduction_runs_every_row_in_this_process(tmp_path, capsys, monkeypatch):
    import lightcnn.reproduce.cli as reproduce

    spec = tmp_path / "toy" / "table.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(SPEC)
    monkeypatch.setattr(reproduce, "run_subprocess", None)  # no `lightcnn` process may be started
    code = reproduce_in_process(tmp_path, spec, "--profile", "quick", "--task", "profile", "--jobs", "2")
    err = capsys.readouterr().err
    assert code == 0, err
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("result.json")]
    assert sorted(r["task"] for r in records) == ["profile", "profile"] and all(r["status"] == "ok" for r in records)
    assert {r["params"] for r in records} == {269_722}  # both rows are ResNet-20; the lr does not change a count
    assert "2 jobs in" in err and "0 not ok" in err


def test_a_counting_job_that_breaks_leaves_a_failed_record_and_no_empty_run_directory(tmp_path, capsys, monkeypatch):
    import lightcnn.runner

    spec = tmp_path / "toy" / "table.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(SPEC)

    def broken(cfg, run_dir, overrides):
        raise RuntimeError("a bug in counting")

    monkeypatch.setattr(lightcnn.runner, "execute", broken)
    code = reproduce_in_process(tmp_path, spec, "--profile", "quick", "--task", "profile")
    assert code == 1
    assert "RuntimeError: a bug in counting" in capsys.readouterr().err
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("result.json")]
    assert [(r["status"], r["error"]) for r in records] == [("failed", "RuntimeError: a bug in counting")] * 2
    run_dirs = [p for p in (tmp_path / "results" / "runs").glob("*/*")]
    assert len(run_dirs) == 2 and all(any(d.iterdir()) for d in run_dirs)  # the two records' directories only


def test_a_spec_sizes_its_rows_per_profile_and_the_tables_match_the_sized_runs(tmp_path, capsys):
    """``profiles: {cpu: [...]}`` adds overrides at that profile only (spec's, then the row's): the
    plan runs them, and a record of the sized run fills the row at that profile."""
    from lightcnn.results.tables import render_specs

    spec = tmp_path / "toy" / "sized.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        "title: Sized\nsource: nobody\noverrides: [dataset=mnist, model=resnet, model.depth=20]\n"
        "profiles: {cpu: [trainer.max_epochs=3]}\n"
        "columns: [{key: test_acc, label: Top-1 (%), digits: 2, diff: none}]\n"
        "rows:\n  - {label: small, profiles: {cpu: [dataset.train_subset=6000]}}\n"
    )
    assert reproduce_in_process(tmp_path, spec, "--profile", "cpu", "--dry-run") == 0
    plan = capsys.readouterr().out
    assert "trainer.max_epochs=3 dataset.train_subset=6000 task=train profile=cpu" in plan
    assert reproduce_in_process(tmp_path, spec, "--profile", "quick", "--dry-run") == 0
    assert "max_epochs" not in capsys.readouterr().out

    from lightcnn.composition import compose_config
    from lightcnn.record_io import write_json_atomic

    sized = ("dataset=mnist", "model=resnet", "model.depth=20", "trainer.max_epochs=3", "dataset.train_subset=6000")
    for name, overrides in (("sized", sized), ("unsized", sized[:3])):
        config = OmegaConf.to_container(compose_config([*overrides, "profile=cpu"]), resolve=True)
        record = {"run_id": name, "status": "ok", "task": "train", "seed": 0, "profile": "cpu", "config": config,
                  "test_acc": 95.0 if name == "sized" else 11.0, "finished_at": f"2026-01-0{len(name)}"}  # fmt: skip
        write_json_atomic(tmp_path / "results" / name / "result.json", record)
    md, _ = render_specs([spec], tmp_path / "results", tmp_path / "out", profile="cpu")
    assert "95.00" in md.read_text() and "11.00" not in md.read_text()


def test_a_profile_that_does_not_exist_is_refused_in_the_spec(tmp_path):
    from lightcnn.errors import UserError
    from lightcnn.results.spec_loading import load_spec

    spec = tmp_path / "toy" / "bad.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        SPEC.replace('overrides: ["dataset=cifar10"]', "overrides: [dataset=cifar10]\nprofiles: {cpus: []}")
    )
    with pytest.raises(UserError, match=r"profile=cpus: no such option; available: cpu, paper, quick, smoke"):
        load_spec(spec)


def test_a_latency_job_runs_alone_whatever_jobs_says():
    """Timings taken while another job shares the cores are wrong: a latency job waits until
    nothing runs, and nothing starts beside it."""
    import threading
    import time

    from lightcnn.reproduce import Job, run_jobs

    jobs = [Job(f"train {i}", ("task=train", f"seed={i}")) for i in range(3)]
    jobs.insert(1, Job("latency", ("task=latency",)))
    lock, running, overlaps = threading.Lock(), set(), []

    def run_one(job):
        with lock:
            running.add(job.label)
            overlaps.append(sorted(running))
        time.sleep(0.05)
        with lock:
            running.discard(job.label)
        job.status = "ok"

    run_jobs(jobs, 3, run_one)
    assert all(job.status == "ok" for job in jobs)
    assert [seen for seen in overlaps if "latency" in seen] == [["latency"]]
    assert max(len(seen) for seen in overlaps) >= 2  # the training jobs did run side by side


CENSUS = """
title: A census of a trained net that no row trains
overrides: ["dataset=mnist", "model=template_cnn", "task.checkpoint=auto"]
tasks: [reuse]
columns:
  - {key: reuse.fixed8.distinct, label: Distinct, digits: 1, diff: none}
rows:
  - {label: census, overrides: ["method=none"]}
"""


def test_a_run_a_row_needs_but_no_row_is_joins_the_plan_before_it(tmp_path, capsys):
    plan = dry_run_plan(tmp_path, capsys, CENSUS, "census", "smoke")
    assert plan[0].startswith("#1   todo  [toy/census] census (train, needed)")
    assert plan[1].startswith("#2   todo  [toy/census] census (reuse) after #1")


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["smoke", "cpu", "quick", "paper"])
def test_every_shipped_run_that_reads_weights_reads_a_row_that_trains_them(tmp_path, profile):
    """A census or a pruned row reads the weights a table row trains, at every profile: no
    ``(train, needed)`` job, i.e. no training that no table shows (the Tables 2-3 census once
    trained its own 30-epoch copy of Table 1's CIFAR-10 rows)."""
    from types import SimpleNamespace

    from lightcnn.reproduce import plan_jobs
    from lightcnn.results.tables import load_specs

    specs = load_specs(sorted((ROOT / "experiments").rglob("*.yaml")))
    args = SimpleNamespace(task=None, profile=profile, results=tmp_path, override=[], rows=None)
    jobs = plan_jobs(specs, args)
    assert [job.label for job in jobs if job.label.endswith("needed)")] == []
    assert sum(bool(job.after) for job in jobs) >= 20  # the censuses and pruned rows are in the plan


RL_ROW = """
title: An RL row with a long fine-tuning
overrides: ["dataset=cifar10", "dataset.val_fraction=0.05", "model=resnet", "model.depth=20"]
columns:
  - {key: test_acc, label: Top-1, digits: 2, diff: none}
rows:
  - {label: base, overrides: ["method=none"]}
  - label: rl
    overrides: ["method=prune_rl", "method.pretrained=auto", "method.skip_convs=true", "trainer.max_epochs=50"]
"""


def test_a_smoke_rl_row_searches_and_fine_tunes_a_few_steps_whatever_its_schedule(tmp_path, capsys):
    """The row's 50 epochs and the skip convs' 200 SGD steps would take minutes of a smoke run."""
    lines = dry_run_output(tmp_path, capsys, RL_ROW, "rl", "smoke")
    job = next(i for i, line in enumerate(lines) if line.startswith("#") and "] rl (train)" in line)
    words = lines[job + 1].split()
    # the smoke overrides come after the row's: Hydra applies the last value of a key
    assert words.index("trainer.max_epochs=1") > words.index("trainer.max_epochs=50")
    assert "method.skip_conv_batches=2" in words and "method.actors=2" in words


# the Oct-ResNet grids: 35 deep two-frequency networks whose tracing is two thirds of the whole
# counts-only command; the slow suite (CI) counts them with everything else
COUNTED_ONLY_IN_THE_SLOW_SUITE = {"octconv/table2", "octconv/table3", "octconv/table4"}
SHIPPED_SPECS = sorted(
    p.relative_to(ROOT / "experiments").with_suffix("").as_posix() for p in (ROOT / "experiments").rglob("*.yaml")
)


@pytest.mark.parametrize("spec", [s for s in SHIPPED_SPECS if s not in COUNTED_ONLY_IN_THE_SLOW_SUITE])
def test_the_counts_only_reproduction_of_a_shipped_spec_is_ok(tmp_path, capsys, spec):
    """The counts-only command on one shipped spec, as a user runs it (pruning rows trace their
    graph with autograd although counting runs under ``no_grad``); the Oct-ResNet grids are counted
    by the slow test of every spec at once."""
    code = reproduce_in_process(tmp_path, ROOT / "experiments" / f"{spec}.yaml", "--task", "profile", "--jobs", "2")
    err = capsys.readouterr().err
    summary = [line for line in err.splitlines() if " jobs in " in line]
    assert code == 0 and summary and summary[-1].endswith("; 0 not ok"), err[-3000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("result.json")]
    assert records and all(r["status"] == "ok" and r["task"] == "profile" for r in records)
    assert (tmp_path / "reports" / f"{spec.split('/')[0]}.md").is_file()


def test_the_slow_suite_counts_what_the_default_suite_leaves_out():
    assert COUNTED_ONLY_IN_THE_SLOW_SUITE < set(SHIPPED_SPECS)  # a renamed spec is not silently dropped


@pytest.mark.slow
def test_the_counts_only_reproduction_of_every_shipped_spec_is_ok(tmp_path, capsys):
    """The whole counts-only command, as a user runs it: every row of every shipped spec at once
    (the index of every paper, the Oct-ResNet grids included)."""
    code = reproduce_in_process(tmp_path, "--task", "profile", "--jobs", "2")
    err = capsys.readouterr().err
    summary = [line for line in err.splitlines() if " jobs in " in line]
    assert code == 0 and summary and summary[-1].endswith("; 0 not ok"), err[-3000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("result.json")]
    assert len(records) > 90 and all(r["status"] == "ok" for r in records)
    index = (tmp_path / "reports" / "index.md").read_text()
    assert "| [octconv](octconv.md) | 5 | 0 | 47 | 0 |" in index, index
    papers = {p.parent.name for p in (ROOT / "experiments").rglob("*.yaml")}
    assert {p.stem for p in (tmp_path / "reports").glob("*.md")} == papers | {"index"}
    for page in (tmp_path / "reports").glob("*.md"):  # one H1 a page: a paper's tables are its sections
        assert sum(line.startswith("# ") for line in page.read_text().splitlines()) == 1, page


def test_clean_tree_refuses_a_checkout_with_uncommitted_changes_before_any_job(tmp_path, capsys, monkeypatch):
    import lightcnn.reproduce.cli as reproduce

    spec = tmp_path / "toy" / "table.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(SPEC)
    monkeypatch.setattr(reproduce, "git_commit", lambda: "0123abc+dirty")
    monkeypatch.setattr(reproduce, "run_jobs", None)  # nothing may run
    assert reproduce_in_process(tmp_path, spec, "--profile", "smoke", "--clean-tree") == 2
    err = capsys.readouterr().err
    assert "error: --clean-tree: the checkout has uncommitted changes (git_commit would be 0123abc+dirty)" in err
    assert not (tmp_path / "results").exists()
    assert "--clean-tree" in (ROOT / "scripts" / "reference_cpu.sh").read_text()


@pytest.mark.slow
def test_the_whole_smoke_reproduction_runs_every_job_ok_and_renders_every_page_and_plot(tmp_path):
    """``make reproduce-tables PROFILE=smoke JOBS=2`` on a fresh results directory, as a new user runs it."""
    done = subprocess.run(
        ["make", "-s", "reproduce-tables", "PROFILE=smoke", "JOBS=2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "REPRODUCE_ARGS": f"--results {tmp_path / 'r'} --out {tmp_path / 'out'}"},
    )
    summary = [line for line in done.stderr.splitlines() if " jobs in " in line]
    assert done.returncode == 0 and summary and summary[-1].endswith("; 0 not ok"), done.stderr[-4000:]
    specs = sorted((ROOT / "experiments").rglob("*.yaml"))
    pages = {p.relative_to(tmp_path / "out").with_suffix("") for p in (tmp_path / "out").rglob("*.md")}
    assert {s.relative_to(ROOT / "experiments").with_suffix("") for s in specs} <= pages
    index = (tmp_path / "out" / "index.md").read_text()
    papers = re.findall(r"^\| \[(\w+)\]\(\w+\.md\) \| \d+ \| \d+ \| \d+ \| (\d+) \|$", index, re.M)
    assert len(papers) == 6 and all(not_run == "0" for _, not_run in papers), index  # every row ran
    for page in (tmp_path / "out").rglob("*.md"):
        text = page.read_text()
        assert "no plot yet" not in text, page
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text):
            assert (page.parent / image).is_file(), (page, image)


@pytest.mark.slow
def test_the_config_hash_of_every_shipped_spec_job_is_unchanged():
    """What a run computes is named by its config hash: a refactor that changed one (a new key
    with a default, a renamed one) would make every committed record and finished run stale.
    Compared with tests/data/config_hashes.json (its helper regenerates it when a change means to)."""
    import json

    from helpers.config_hashes import config_hashes

    committed = json.loads((ROOT / "tests" / "data" / "config_hashes.json").read_text())
    now = config_hashes()
    changed = [f"{profile}: {label}" for profile in committed for label, value in committed[profile].items()
               if now[profile].get(label) != value]  # fmt: skip
    assert changed == [] and now == committed, f"{len(changed)} jobs changed hash, e.g. {changed[:3]}"


@pytest.mark.slow
def test_the_committed_cpu_set_counts_every_row_of_every_shipped_spec():
    """Every count column of the committed cpu report comes from a record of the row's model,
    method and input (its count hash): a method key added with a default changes that hash, and
    the rows whose committed counting records it orphaned showed "not run" for their counts until
    they were counted again (``python -m lightcnn.reproduce --profile cpu --task profile``)."""
    from lightcnn.record import Status
    from lightcnn.record_io import iter_records
    from lightcnn.results.matching import ConfigMatcher, count_hash
    from lightcnn.results.tables import load_specs

    counted = {count_hash(r["config"]) for r in iter_records(ROOT / "docs" / "results" / "cpu" / "records")
               if r["status"] == Status.OK and "params" in r}  # fmt: skip
    matcher = ConfigMatcher(["cpu"])
    specs = load_specs(sorted((ROOT / "experiments").rglob("*.yaml")))
    missing = [f"{spec.path.relative_to(ROOT)}: {row.label}" for spec in specs for row in spec.rows
               if row.tasks and not matcher.count_hashes(row, row.tasks) & counted]  # fmt: skip
    assert missing == [], f"{len(missing)} rows without counts in docs/results/cpu, e.g. {missing[:3]}"


def test_jobs_that_need_each_other_in_a_circle_are_refused_naming_them():
    from lightcnn.errors import UserError
    from lightcnn.reproduce import Job, dependency_order

    jobs = [Job("[p/t] a (train)", ()), Job("[p/t] b (train)", ()), Job("[p/t] c (train)", ())]
    jobs[0].after, jobs[2].after = [2], [0]
    ordered = dependency_order([Job("x", ()), Job("y", (), after=[0])])
    assert [j.label for j in ordered] == ["x", "y"]
    with pytest.raises(UserError, match=r"in a circle: \[p/t\] (a|c) \(train\) -> \[p/t\] (a|c) \(train\) -> "):
        dependency_order(jobs)


def test_jobs_run_as_python_m_lightcnn_from_a_checkout_that_was_never_installed(monkeypatch, tmp_path):
    """No ``lightcnn`` script beside the interpreter or on PATH (a GPU machine given the checkout
    on PYTHONPATH): the jobs run as ``python -m lightcnn``, which is the same command."""
    from lightcnn.reproduce import run

    real, python = sys.executable, tmp_path / "bin" / "python3"
    monkeypatch.setattr(run.sys, "executable", str(python))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert run.lightcnn_command() == [str(python), "-m", "lightcnn"]
    proc = subprocess.run([real, "-m", "lightcnn", "model=nope"], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.startswith("error: model=nope: no such option; available: aca_cnn")


def test_seeds_chooses_the_runs_of_those_seeds_and_brings_the_baseline_of_the_same_seed(tmp_path, capsys):
    spec = tmp_path / "toy" / "pruning.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(DEPENDENT.replace("rows:", "seeds: {quick: [0, 1, 2]}\nrows:"))
    args = (spec, "--profile", "quick", "--dry-run")
    assert reproduce_in_process(tmp_path, *args, "--seeds", "2", "--rows", "prun*") == 0
    plan = [line for line in capsys.readouterr().out.splitlines() if line.startswith("#")]
    assert [line.rsplit("  [", 1)[0] for line in plan] == [
        "#1   todo  [toy/pruning] baseline (train, seed=2)",
        "#2   todo  [toy/pruning] pruned (train, seed=2) after #1",
    ]
    assert reproduce_in_process(tmp_path, *args, "--seeds", "0,2", "--seeds", "2") == 0
    plan = [line.rsplit("  [", 1)[0] for line in capsys.readouterr().out.splitlines() if line.startswith("#")]
    assert len(plan) == 4 and all("seed=0" in line or "seed=2" in line for line in plan), plan
    assert reproduce_in_process(tmp_path, *args, "--seeds", "7") == 2
    assert capsys.readouterr().err.strip() == (
        "error: --seeds 7: no row runs seed 7 at profile=quick; the seeds run: 0, 1, 2"
    )
    assert reproduce_in_process(tmp_path, *args, "--seeds", "one") == 2
    assert "--seeds: 'one' is not allowed: non-negative integers" in capsys.readouterr().err


def test_a_row_made_from_any_finished_run_of_its_baseline_is_done_and_its_baseline_not_trained_again(tmp_path, capsys):
    """A fresh machine holds the committed records but no checkpoint: the seed-0 pruned run made
    from the committed seed-0 baseline is done (not launched, its baseline not trained again for
    it); the seed-1 baseline trains again for the seed-1 pruned row still to run."""
    from lightcnn.composition import compose_config
    from lightcnn.config import config_hash
    from lightcnn.record_io import iter_records
    from lightcnn.reproduce import Job, run_jobs
    from lightcnn.reproduce.plan import done_from_earlier_baseline

    text = DEPENDENT.replace("rows:", "seeds: {quick: [0, 1]}\nrows:")
    output = dry_run_output(tmp_path, capsys, text, "pruning", "quick")
    configs = {line.rsplit("  [", 1)[0][11:].split(" after #")[0]: compose_config(command.split()[1:])
               for line, command in zip(output[1:-1:2], output[2:-1:2], strict=True)}  # fmt: skip
    baseline, pruned = (configs[f"[toy/pruning] {row} (train, seed=0)"] for row in ("baseline", "pruned"))

    def record(name, cfg, **fields):
        (tmp_path / "results" / name).mkdir(parents=True)
        container = OmegaConf.to_container(cfg, resolve=True)
        body = {"status": "ok", "task": "train", "config": container, "config_hash": config_hash(cfg), **fields}
        (tmp_path / "results" / name / "result.json").write_text(json.dumps({**body, "run_id": name}))

    record("b0", baseline)  # committed: its checkpoint stayed on another machine
    pinned = {"key": "method.pretrained", "run_id": "b0", "config_hash": config_hash(baseline)}
    record("p0", pruned, depends_on=pinned, config_hash="pinned-to-b0")
    plan = [line.rsplit("  [", 1)[0] for line in dry_run_output(tmp_path, capsys, text, "pruning", "quick")
            if line.startswith("#")]  # fmt: skip
    assert plan == [
        "#1   done  [toy/pruning] pruned (train, seed=0) (run p0, made from baseline run b0)",  # waits for nothing
        "#2   done  [toy/pruning] baseline (train, seed=0)",
        "#3   todo  [toy/pruning] baseline (train, seed=1)",
        "#4   todo  [toy/pruning] pruned (train, seed=1) after #3",
    ]
    done, waiting = Job("done", ()), Job("waits", ())
    done.config_hash, done.needs = config_hash(pruned), config_hash(baseline)
    done_from_earlier_baseline(done, list(iter_records(tmp_path / "results")))
    waiting.after = [0]
    launched = []
    run_jobs([done, waiting], 1, lambda job: launched.append(job.label) or setattr(job, "status", "ok"))
    assert launched == ["waits"] and done.reason == "run p0, made from baseline run b0"
    # made from a run that is not an ok run of the baseline's configuration: not done, and the
    # seed-0 baseline trains again (with its checkpoint) for it
    (tmp_path / "results" / "b0" / "result.json").write_text(json.dumps({"status": "failed", "run_id": "b0"}))
    plan = [line for line in dry_run_output(tmp_path, capsys, text, "pruning", "quick") if line.startswith("#")]
    assert plan[0].startswith("#1   todo  [toy/pruning] baseline (train, seed=0)")
    assert plan[1].startswith("#2   todo  [toy/pruning] pruned (train, seed=0) after #1")


def test_rows_chooses_rows_by_label_and_brings_the_runs_they_need(tmp_path, capsys):
    """``--rows pruned``: the pruned row and the baseline whose weights it loads (its own row, left
    out by the pattern, comes along under its own label); a pattern that matches no row is refused."""
    spec = tmp_path / "toy" / "pruning.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(DEPENDENT)
    assert reproduce_in_process(tmp_path, spec, "--profile", "quick", "--dry-run", "--rows", "prun*") == 0
    plan = [line for line in capsys.readouterr().out.splitlines() if line.startswith("#")]
    assert [line.rsplit("  [", 1)[0] for line in plan] == [
        "#1   todo  [toy/pruning] baseline (train)",
        "#2   todo  [toy/pruning] pruned (train) after #1",
    ]
    assert reproduce_in_process(tmp_path, spec, "--profile", "quick", "--dry-run", "--rows", "baseline") == 0
    plan = [line for line in capsys.readouterr().out.splitlines() if line.startswith("#")]
    assert [line.rsplit("  [", 1)[0] for line in plan] == ["#1   todo  [toy/pruning] baseline (train)"]
    assert reproduce_in_process(tmp_path, spec, "--profile", "quick", "--dry-run", "--rows", "HRank*") == 2
    assert capsys.readouterr().err.strip() == (
        "error: --rows 'HRank*' matches no row; the rows: 'pruned', 'baseline', 'baseline again'"
    )
