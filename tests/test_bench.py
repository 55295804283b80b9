"""``make bench``: lightcnn at float32 and at ``auto`` against the plain PyTorch loop, one run."""

import pytest

from lightcnn import bench
from lightcnn.engine import precision


def test_bench_reports_each_precision_against_the_reference_loop(monkeypatch, capsys):
    monkeypatch.setattr(precision, "bf16_is_fast", lambda device: False)  # auto resolves to float32
    args = ["--model", "resnet", "--depth", "20", "--steps", "1", "--warmup", "1", "--batch-size", "8"]
    rows = bench.main([*args, "--ref-workers", "0", "--device", "cpu"])
    assert [(r["precision"], r["precision_used"]) for r in rows] == [("32", "32-true"), ("auto", "32-true")]
    assert rows[0]["ours_images_per_s"] == rows[1]["ours_images_per_s"]  # one measurement, not two
    for row in rows:
        assert row["reference_images_per_s"] > 0 and row["reference_workers"] == 0
        ours, reference = row["ours_images_per_s"], row["reference_images_per_s"]  # both rounded to 0.1 img/s
        assert row["ratio"] == pytest.approx(ours / reference, rel=0.1 / reference + 1e-3)
    table = capsys.readouterr().out.splitlines()[-3:]
    assert table[0] == "| model | reference loop (img/s) | lightcnn 32 (img/s, ×ref) | lightcnn auto (img/s, ×ref) |"
    assert table[2].startswith("| resnet depth=20 | ") and table[2].count("(32-true)") == 2
