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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "resnet", "--depth", "8"], "error: model.depth=8 is not allowed: one of 20, 32, 44, 56, 110"),
        (["--set", "alpha"], "error: --set 'alpha' is not allowed: KEY=VALUE (alpha=0.25)"),
        (["--precision", "32,fp8"], "error: --precision='fp8' is not allowed: one or more of auto, 32, 32-true"),
        (["--compile", "fast"], "error: --compile='fast' is not allowed: one of none, default, reduce-overhead"),
        (["--steps", "0"], "error: --steps=0 is not allowed: at least 1"),
        (["--device", "tpu"], "error: --device='tpu' is not allowed: cpu, cuda or cuda:N"),
    ],
)
def test_bad_arguments_exit_2_in_one_line_before_anything_is_timed(monkeypatch, capsys, args, message):
    monkeypatch.setattr(bench, "bench_model", None)  # nothing may be measured
    with pytest.raises(SystemExit) as exit_:
        bench.main([*args, "--device", "cpu"] if "--device" not in args else args)
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and err.startswith(message) and err.count("\n") == 1 and out == ""


def test_a_cuda_device_on_a_machine_without_one_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(bench.torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit):
        bench.main(["--device", "cuda"])
    assert "error: --device='cuda' is not allowed: this machine has no CUDA GPU" in capsys.readouterr().err
