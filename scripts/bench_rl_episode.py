"""Time one RL search episode on ResNet-20 (CIFAR-10-sized random data): the actors' recognisers
one after another (method.recognisers=sequential) against one stacked model (stacked), for 2
and 4 actors, alternating the two in one process so that both see the same machine.

    python scripts/bench_rl_episode.py [--retrain-batches 5] [--val-images 1024] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from lightcnn.methods.pruning.rl import PruneRLConfig
from lightcnn.methods.pruning.rl_env import PruningEnvs
from lightcnn.methods.pruning.surgery import prunable_convs
from lightcnn.models import InputSpec, build_model, model_config


def data(train: int, val: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (train + val, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (train + val,), generator=generator)
    return {"train": (images[:train], labels[:train]), "val": (images[train:], labels[train:]),
            "transform": lambda x, is_train: x.float() / 255, "device": torch.device("cpu")}  # fmt: skip


def episode_seconds(model, units, batch: dict, actors: int, batched: bool, retrain_batches: int) -> float:
    recognisers = "stacked" if batched else "sequential"
    cfg = PruneRLConfig(actors=actors, retrain_batches=retrain_batches, recognisers=recognisers)
    envs = PruningEnvs(model, units, batch, cfg, seed=0)
    envs.reset()
    generator = torch.Generator().manual_seed(1)
    started = time.perf_counter()
    while not envs.done:
        envs.step(torch.randint(cfg.actions, (actors,), generator=generator).tolist())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain-batches", type=int, default=5)
    parser.add_argument("--val-images", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model = build_model(model_config("resnet", depth=20), InputSpec(3, 32, 32, 10))
    units = prunable_convs(model, (3, 32, 32))
    batch = data(4096, args.val_images)
    print(f"ResNet-20, {len(units)} convs per episode, {args.retrain_batches} SGD steps of batch 128 and "
          f"{args.val_images} validation images per step and actor; {torch.get_num_threads()} threads")  # fmt: skip
    print("| actors | one after another (s) | stacked, vmap (s) | speed-up |")
    print("|---|---|---|---|")
    for actors in (2, 4):
        times = {False: [], True: []}
        for _ in range(args.repeats):
            for batched in (False, True):
                times[batched].append(episode_seconds(model, units, batch, actors, batched, args.retrain_batches))
        sequential, stacked = min(times[False]), min(times[True])
        print(f"| {actors} | {sequential:.1f} | {stacked:.1f} | {sequential / stacked:.2f}× |")


if __name__ == "__main__":
    main()
