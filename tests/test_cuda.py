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


def test_the_record_names_the_gpu_and_its_peak_memory_from_before_fitting(run_config):
    record = run_config(*GPU_SMOKE, "trainer.precision=32")
    assert record["device"] == torch.cuda.get_device_name() and record["precision"] == "32"
    assert 0 < record["peak_mem_mb"] < torch.cuda.get_device_properties(0).total_memory / 2**20
    assert torch.backends.cudnn.conv.fp32_precision == "ieee"  # float32 is IEEE float32, not TF32


def test_tf32_is_asked_for_by_name_and_recorded_as_such(run_config):
    record = run_config(*GPU_SMOKE, "trainer.precision=tf32")
    assert record["status"] == "ok" and record["precision"] == "tf32"
    assert torch.backends.cudnn.conv.fp32_precision == "tf32"


def test_a_gpu_run_resumes_from_its_checkpoint(run_config, tmp_path):
    first = run_config(*GPU_SMOKE, "trainer.checkpoint=true", name="first")
    checkpoint = tmp_path / "results" / "first" / "checkpoints" / "last.ckpt"
    resumed = run_config(*GPU_SMOKE, "trainer.max_epochs=2", f"resume={checkpoint}", name="resumed")
    assert first["epochs"] == 1 and resumed["status"] == "ok" and resumed["epochs"] == 2
    assert resumed["resumed_from"] == str(checkpoint) and resumed["device"] == torch.cuda.get_device_name()


def test_hrank_scheduled_during_training_prunes_on_the_gpu(run_config):
    record = run_config(*GPU_SMOKE, "method=prune_hrank", "method.pretrained=null", "method.compress_rate=0.5",
                        "method.retrain_epochs=1", "method.batches=1", "trainer.max_epochs=2")  # fmt: skip
    assert record["status"] == "ok" and record["params"] < record["params_before"]


def test_the_rl_search_trains_its_stacked_recognisers_on_the_gpu(run_config):
    record = run_config(*GPU_SMOKE, "method=prune_rl", "method.pretrained=null", "dataset.val_fraction=0.25",
                        "trainer.max_epochs=1")  # fmt: skip
    assert record["status"] == "ok" and record["rl_chosen"]["reduction"] >= 0


def test_aca_keeps_float32_under_bf16_autocast_on_the_gpu():
    from lightcnn.methods.aca import aca

    generator = torch.Generator().manual_seed(0)
    low = torch.randn(32, 27, 6, generator=generator) @ torch.randn(32, 6, 1024, generator=generator)
    d = (low + 0.05 * torch.randn(32, 27, 1024, generator=generator)).cuda()
    plain = aca(d, 0.1)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        mixed = aca(d, 0.1)
    assert torch.equal(plain.rank, mixed.rank) and mixed.u.dtype == torch.float32


def test_make_bench_on_the_gpu_produces_a_row_per_precision():
    from lightcnn.bench import main

    rows = main(["--model", "resnet", "--depth", "20", "--batch-size", "64", "--steps", "5", "--warmup", "2",
                 "--device", "cuda", "--precision", "32,auto"])  # fmt: skip
    assert len(rows) == 2 and all(row["device"] == torch.cuda.get_device_name() for row in rows)
