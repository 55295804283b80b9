import os
import time

from lightcnn.results.record import (
    find_interrupted_checkpoint,
    find_ok_record,
    new_run_id,
    write_json_atomic,
)


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
    def run(name, chash, finished, ckpt):
        write_json_atomic(tmp_path / name / "run.json", {"config_hash": chash})
        if finished:
            write_json_atomic(tmp_path / name / "result.json", {"status": "ok", "config_hash": chash})
        if ckpt:
            (tmp_path / name / "checkpoints").mkdir()
            (tmp_path / name / "checkpoints/last.ckpt").write_bytes(b"x")

    run("done", "h", finished=True, ckpt=True)
    run("no-ckpt", "h", finished=False, ckpt=False)
    run("other", "g", finished=False, ckpt=True)
    assert find_interrupted_checkpoint(tmp_path, "h", "checkpoints/last.ckpt") is None
    run("cut", "h", finished=False, ckpt=True)
    run("cut-later", "h", finished=False, ckpt=True)
    later = tmp_path / "cut-later/checkpoints/last.ckpt"
    os.utime(later, (time.time() + 10, time.time() + 10))
    assert find_interrupted_checkpoint(tmp_path, "h", "checkpoints/last.ckpt") == later
