import math

import pytest

from lightcnn.config import TrainerConfig
from lightcnn.engine.schedule import lr_factor


def test_step_schedule_divides_at_milestones():
    cfg = TrainerConfig(schedule="step", milestones=[82, 123], gamma=0.1, max_epochs=164)
    assert [lr_factor(e, cfg) for e in (0, 81, 82, 122, 123, 163)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_cosine_goes_from_one_to_zero():
    cfg = TrainerConfig(schedule="cosine", max_epochs=10)
    assert lr_factor(0, cfg) == 1.0
    assert lr_factor(5, cfg) == pytest.approx(0.5)
    assert lr_factor(10, cfg) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(3, cfg) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.3)))


def test_warmup_precedes_schedule():
    cfg = TrainerConfig(schedule="step", milestones=[3], warmup_epochs=1, warmup_factor=0.1)
    assert [lr_factor(e, cfg) for e in range(5)] == pytest.approx([0.1, 1, 1, 0.1, 0.1])


def test_a_layer_by_layer_row_runs_as_hranks_main_py(run_config):
    """Per conv: pruned at its segment's start, from the previous segment's best-on-validation
    weights, with a fresh optimizer whose lr schedule restarts (milestone 1 inside every segment)."""
    record = run_config("model=aca_cnn", "dataset=synthetic", "profile=smoke", "trainer.accelerator=cpu",
                        "dataset.val_fraction=0.25", "method=prune_hrank", "method.mode=layerwise",
                        "method.layer_epochs=2", "method.compress_rate=0.5", "method.batches=1",
                        "method.batch_size=16", "trainer.max_epochs=12", "trainer.lr=0.1",
                        "trainer.schedule=step", "trainer.milestones=[1]")  # fmt: skip
    assert record["status"] == "ok"
    segments = record["hrank_segments"]
    assert [(s["epoch"], s["units"]) for s in segments] == [(2 * j, [j]) for j in range(6)]
    lrs = [h["lr"] for h in record["history"] if h["stage"] == "train"]
    assert lrs == pytest.approx([0.1, 0.01] * 6)
    val = {h["epoch"]: h["val/acc"] for h in record["history"] if h["stage"] == "val"}
    assert segments[0]["started_from_epoch"] is None
    for j in range(1, 6):  # the better of the previous segment's two epochs (the first on a tie)
        first, second = 2 * j - 2, 2 * j - 1
        assert segments[j]["started_from_epoch"] == (second if val[second] > val[first] else first)
