import json
import os
import pathlib
import time

from lightcnn.record import new_run_id
from lightcnn.record_io import find_interrupted_run, find_ok_record, write_json_atomic


def test_run_ids_are_unique_within_a_second():
    assert len({new_run_id() for _ in range(1000)}) == 1000


def test_find_ok_record_picks_newest_ok(tmp_path):
    write_json_atomic(tmp_path / "a/result.json", {"status": "ok", "config_hash": "h", "finished_at": "2026-01-01"})
    write_json_atomic(tmp_path / "b/result.json", {"status": "ok", "config_hash": "h", "finished_at": "2026-02-01"})
    write_json_atomic(tmp_path / "c/result.json", {"status": "failed", "config_hash": "h", "finished_at": "2026-03-01"})
    write_json_atomic(tmp_path / "d/result.json", {"status": "ok", "config_hash": "other", "finished_at": "2026-04-01"})
    assert find_ok_record(tmp_path, "h")["run_dir"] == str(tmp_path / "b")
    assert find_ok_record(tmp_path, "missing") is None


def test_interrupted_run_is_found_by_its_checkpoint(tmp_path):
    def run(name, chash, status, ckpt):
        write_json_atomic(tmp_path / name / "run.json", {"config_hash": chash})
        if status:
            write_json_atomic(tmp_path / name / "result.json", {"status": status, "config_hash": chash})
        if ckpt:
            (tmp_path / name / "checkpoints").mkdir()
            (tmp_path / name / "checkpoints/last.ckpt").write_bytes(b"x")

    run("done", "h", status="ok", ckpt=True)
    run("diverged", "h", status="diverged", ckpt=True)
    run("no-ckpt", "h", status=None, ckpt=False)
    run("other", "g", status=None, ckpt=True)
    assert find_interrupted_run(tmp_path, "h", "checkpoints") is None
    run("cut", "h", status=None, ckpt=True)
    run("stopped", "h", status="interrupted", ckpt=True)
    later = tmp_path / "stopped/checkpoints/last.ckpt"
    os.utime(later, (time.time() + 10, time.time() + 10))
    assert find_interrupted_run(tmp_path, "h", "checkpoints") == tmp_path / "stopped"
    os.utime(tmp_path / "cut/checkpoints/last.ckpt", (time.time() + 20, time.time() + 20))
    assert find_interrupted_run(tmp_path, "h", "checkpoints") == tmp_path / "cut"


def test_records_are_written_with_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "a/result.json", {"status": "ok"})
        os.umask(0o077)
        write_json_atomic(tmp_path / "b/result.json", {"status": "ok"})
    finally:
        os.umask(old)
    assert (tmp_path / "a/result.json").stat().st_mode & 0o777 == 0o644  # others can read the tables' input
    assert (tmp_path / "b/result.json").stat().st_mode & 0o777 == 0o600


def test_a_cpu_device_names_its_model_cores_and_bf16_hardware(monkeypatch):
    import torch

    from lightcnn.environment import device_name

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    name = device_name("cpu")
    assert name.startswith("cpu (") and name.endswith(f", {os.cpu_count()} cores, AVX-512 BF16)")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert device_name("cpu").endswith("cores, no bf16 hardware)")


def test_the_record_schema_names_unknown_fields_wrong_types_and_a_bad_status():
    from lightcnn.record import record_problems

    good = {"run_id": "x", "status": "ok", "seed": 0, "test_acc": 91, "images_per_s": None, "run_dir": "/r"}
    assert record_problems(good) == []
    assert record_problems({**good, "tset_acc": 1.0}) == ["tset_acc: not a record field"]
    assert record_problems({**good, "seed": True}) == ["seed: bool where <class 'int'> is expected"]
    assert record_problems({**good, "params": 1.5}) == ["params: float where <class 'int'> is expected"]
    assert record_problems({**good, "status": "done"}) == [
        "status: 'done' is not one of ok, failed, diverged, interrupted, blocked"
    ]


def test_every_committed_record_fits_the_schema():
    from lightcnn.record import record_problems
    from lightcnn.record_io import iter_records

    records = list(iter_records(pathlib.Path(__file__).parent.parent / "docs" / "results"))
    assert len(records) > 50
    assert {r["run_id"]: record_problems(r) for r in records if record_problems(r)} == {}


def test_finding_runs_skips_a_directory_that_another_process_removes_meanwhile(tmp_path, monkeypatch):
    import shutil

    import lightcnn.record_io as record_io

    for name in ("a", "b", "c"):
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        (run / "run.json").write_text("{}")
        (run / "result.json").write_text(json.dumps({"status": "ok", "config_hash": name}))
    real_scandir = os.scandir

    def scandir_after_b_vanished(path):  # another job discards run b after the walk listed it, before its visit
        if isinstance(path, str | os.PathLike) and os.fspath(path).endswith(os.path.join("runs", "a")):
            shutil.rmtree(tmp_path / "runs" / "b", ignore_errors=True)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir_after_b_vanished)
    assert [r["config_hash"] for r in record_io.iter_records(tmp_path)] == ["a", "c"]
    assert [d.name for d in record_io.iter_run_dirs(tmp_path)] == ["a", "c"]
