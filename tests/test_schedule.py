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
