"""reproduce --dry-run's cost of a training: its work in images, and the speed it is timed at."""

import logging

import pytest
from omegaconf import OmegaConf

import lightcnn.job_cost as job_cost
from lightcnn.composition import compose_config
from lightcnn.config import validate
from lightcnn.tasks.profile import count_config


def config(*overrides):
    return validate(compose_config(["dataset=mnist", "model=plain_cnn", "task=train", *overrides]))


def test_the_work_of_a_training_counts_its_epochs_validation_and_tests():
    work = job_cost.training_work(config("trainer.max_epochs=3", "dataset.val_fraction=0.1"))
    assert work == job_cost.Work(train_images=54_000 * 3, eval_images=6_000 * 3 + 10_000)
    smoke = job_cost.training_work(config("profile=smoke", "trainer.test_every_epoch=true", "trainer.max_epochs=2"))
    assert smoke == job_cost.Work(train_images=2 * 16 * 2, eval_images=64 * 3)  # 2 batches of 16; 1 test batch of 64
    assert work.seconds(1000.0) == pytest.approx((162_000 + 28_000 / 3) / 1000)
    assert job_cost.training_work(config("task=profile")) is None


def test_the_yardstick_trains_the_jobs_own_model(monkeypatch):
    """The model after its method, at the job's batch size and resolved precision, uncompiled."""
    seen = {}

    def timed(net, tcfg, dcfg, data, warmup, steps):
        seen.update(net=net, tcfg=tcfg, shape=tuple(data.train_x.shape[1:]))
        return 123.0

    monkeypatch.setattr("lightcnn.step_timing.training_images_per_s", timed)
    cfg = config("method=prune_hrank", "method.compress_rate=0.5", "trainer.batch_size=32", "trainer.compile=default")
    assert job_cost.yardstick_images_per_s(cfg) == 123.0
    assert sum(p.numel() for p in seen["net"].parameters()) == count_config(cfg)[0]["params"]  # pruned
    assert seen["tcfg"].batch_size == 32 and seen["tcfg"].compile == "none" and seen["shape"] == (1, 28, 28)
    assert seen["tcfg"].precision in ("32-true", "bf16-mixed")


def test_the_yardstick_times_real_steps_without_lightnings_banner(caplog):
    caplog.set_level(logging.INFO)
    speed = job_cost.yardstick_images_per_s(config("profile=smoke"))
    assert 10 < speed < 1e6
    banner = [record.getMessage() for record in caplog.records if "lightning" in record.name]
    assert not banner, f"Lightning's lines in --dry-run's plan: {banner}"


def test_a_busy_load_is_one_at_least_the_number_of_cores(monkeypatch):
    monkeypatch.setattr(job_cost.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(job_cost.os, "getloadavg", lambda: (2.4, 1.0, 0.5))
    assert job_cost.busy_load() == 2.4
    monkeypatch.setattr(job_cost.os, "getloadavg", lambda: (1.2, 3.0, 3.0))  # the last minute counts
    assert job_cost.busy_load() is None


def test_recorded_speeds_count_a_run_copied_beside_its_original_once(tmp_path):
    """The reference script copies the committed records beside its runs: one run, one speed."""
    import json

    base = {"status": "ok", "task": "train", "device": "cpu (x)", "config": {"model": {"name": "m"}}}
    one = {**base, "run_id": "r1", "images_per_s": 100.0}
    runs = {"a": one, "a-copy": one, "b": {**base, "run_id": "r2", "images_per_s": 300.0},
            "c": {**base, "images_per_s": 500.0}, "d": {**base, "images_per_s": 700.0}}  # fmt: skip
    for name, record in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps(record))
    speeds = job_cost.recorded_speeds(tmp_path, "cpu (x)")
    assert sorted(s for s, _ in next(iter(speeds.values()))) == [100.0, 300.0, 500.0, 700.0]  # no id: each its own


def test_a_recorded_search_before_the_training_is_added_to_its_minutes(tmp_path, monkeypatch):
    """The RL row's 40 min of search were missing from its estimate: the wall time a record did not
    spend training comes on top, its median over runs that went start to end in one process."""
    import json

    from omegaconf import OmegaConf

    monkeypatch.setattr(job_cost, "device_name", lambda *device: "cpu (x)")
    overrides = ["dataset=mnist", "model=plain_cnn", "task=train", "trainer.max_epochs=1"]
    cfg, container = config(*overrides[3:]), OmegaConf.to_container(compose_config(overrides), resolve=True)
    base = {"status": "ok", "task": "train", "device": "cpu (x)", "config": container, "images_per_s": 1000.0}
    runs = {
        "a": {"started_at": "2026-12-05T10:00:00+00:00", "finished_at": "2026-12-05T10:16:40+00:00"},  # 1,000 s
        "b": {"started_at": "2026-12-05T11:00:00+00:00", "finished_at": "2026-12-05T11:23:20+00:00"},  # 1,400 s
        "c": {"started_at": "2026-12-05T09:00:00+00:00", "finished_at": "2026-12-05T13:00:00+00:00",
              "resumed_from": "checkpoints/last.ckpt"},  # spans an interruption: not counted
    }  # fmt: skip
    for name, times in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps({**base, **times, "run_id": name, "train_time_s": 400}))
    before = job_cost.recorded_seconds_before_training(tmp_path)
    assert before == {job_cost.speed_key(container): [(600.0, None), (1000.0, None)]}
    work, minutes, source = job_cost.Estimator(tmp_path).minutes(cfg, container)
    assert minutes == pytest.approx(work.seconds(1000.0) / 60 + 800 / 60)
    assert source == "1,000 img/s, 3 record(s) + 13.3 min before training"
    assert job_cost.seconds_before_training({"train_time_s": 5.0, "started_at": "bad"}) is None


def test_a_search_no_record_times_is_named_on_its_line_not_left_out_in_silence(tmp_path, monkeypatch):
    """The search study's RL rows were planned at "1.0 min, yardstick" for half an hour of search
    each: the yardstick times training steps only, so a method whose work before training it
    cannot time says so on the line; a method without such work keeps the plain line."""
    monkeypatch.setattr(job_cost, "yardstick_images_per_s", lambda cfg: 500.0)
    overrides = ["dataset=synthetic", "model=resnet", "model.depth=20", "task=train", "trainer.max_epochs=1"]
    estimator = job_cost.Estimator(tmp_path)
    for method, searches in (("method=prune_rl", True), ("method=none", False)):
        composed = compose_config([*overrides, method])
        source = estimator.minutes(validate(composed), OmegaConf.to_container(composed, resolve=True))[2]
        assert source.startswith("500 img/s, yardstick")
        assert ("; the RL search not included (no record of this configuration times it)" in source) == searches


def test_the_estimate_takes_the_speeds_of_trainings_with_a_thread_per_core(tmp_path, monkeypatch):
    """Two jobs side by side (reproduce --jobs 2) train with a thread each, slower: the plan's total
    is one job at a time, so its speeds are those of trainings with every core, where recorded."""
    import json

    from omegaconf import OmegaConf

    monkeypatch.setattr(job_cost, "device_name", lambda *device: "cpu (x)")
    monkeypatch.setattr(job_cost.os, "cpu_count", lambda: 2)
    overrides = ["dataset=mnist", "model=plain_cnn", "task=train", "trainer.max_epochs=1"]
    cfg, container = config(*overrides[3:]), OmegaConf.to_container(compose_config(overrides), resolve=True)
    base = {"status": "ok", "task": "train", "device": "cpu (x)", "config": container}
    runs = {"alone": (750.0, 2), "beside-1": (530.0, 1), "beside-2": (528.0, 1), "before-the-field": (100.0, None)}
    for name, (speed, threads) in runs.items():
        (tmp_path / name).mkdir()
        record = {**base, "run_id": name, "images_per_s": speed, **({"cpu_threads": threads} if threads else {})}
        (tmp_path / name / "result.json").write_text(json.dumps(record))
    assert job_cost.Estimator(tmp_path).minutes(cfg, container)[2] == "750 img/s, 1 record(s)"
    monkeypatch.setattr(job_cost.os, "cpu_count", lambda: 4)  # none with 4 threads: every record
    assert job_cost.Estimator(tmp_path).minutes(cfg, container)[2] == "529 img/s, 4 record(s)"
