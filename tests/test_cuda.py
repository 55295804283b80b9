"""The GPU path: what only a CUDA device can check. Skipped, with the reason, where none is present
(CI and this project's CPU machines); run them on a GPU machine with ``pytest tests/test_cuda.py``."""

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

GPU_SMOKE = ("dataset=synthetic", "profile=smoke", "model=resnet", "model.depth=20", "trainer.accelerator=gpu")


def test_bf16_autocast_trains_and_the_record_says_so(run_config):
    record = run_config(*GPU_SMOKE, "trainer.precision=bf16-mixed")
    assert record["status"] == "ok" and record["precision"] == "bf16-mixed"
    assert record["device"] == torch.cuda.get_device_name()


def test_auto_precision_picks_bf16_on_a_gpu_that_runs_it_natively(run_config):
    record = run_config(*GPU_SMOKE, "trainer.precision=auto")
    expected = "bf16-mixed" if torch.cuda.is_bf16_supported(including_emulation=False) else "32-true"
    assert record["precision"] == expected


def test_compiled_channels_last_training_matches_eager_training(run_config):
    eager = run_config(*GPU_SMOKE, "trainer.precision=32", name="eager")
    compiled = run_config(*GPU_SMOKE, "trainer.precision=32", "trainer.compile=default", "trainer.channels_last=true",
                          name="compiled")  # fmt: skip

    def train_loss(record):
        return [h for h in record["history"] if h["stage"] == "train"][-1]["train/loss"]

    assert compiled["status"] == "ok" and train_loss(compiled) == pytest.approx(train_loss(eager), rel=0.05)


def test_latency_is_measured_on_the_gpu(run_config):
    record = run_config("task=latency", "model=resnet", "model.depth=20", "task.devices=[cuda]",
                        "task.batch_sizes=[1,8]", "task.repeats=3", "task.warmup=1")  # fmt: skip
    assert record["latency_devices"] == {"cuda": torch.cuda.get_device_name()}  # device → its name
    assert record["latency"]["cuda"]["b8"]["median_ms"] > 0


def test_training_steps_never_wait_for_the_gpu():
    """No step copies from the host (a pageable host-to-device copy synchronises the stream)."""
    from lightcnn.config import TrainerConfig
    from lightcnn.engine.module import LitClassifier
    from lightcnn.models import InputSpec, build_model, model_config

    module = LitClassifier(build_model(model_config("resnet", depth=20), InputSpec(3, 32, 32, 10)), TrainerConfig())
    module = module.cuda()
    batch = (torch.randn(8, 3, 32, 32, device="cuda"), torch.randint(0, 10, (8,), device="cuda"))
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for stage in ("train", "val", "test"):
            module._step(batch, stage)
    finally:
        torch.cuda.set_sync_debug_mode("default")
