"""How noisy is the RL search's reward? The same masks, played through the search's own
environment (:class:`~lightcnn.methods.pruning.rl.PruningEnvs`) several times with different
retraining batches, against the difference between two mask sets that the search must rank.

The episode's accuracy term telescopes: summed over the steps it is
``reward_accuracy · (accuracy − reference accuracy)`` at the episode's end (both start at the
unpruned recogniser's), so its noise is that of the final accuracy gap. The script plays two fixed
mask sets (A: the first half of every conv's filter groups; B: seeded random actions), each
stopped at the search's target reduction, ``--repeats`` times with the retraining draws of
different seeds; every repeat also evaluates the final weights on a random subset of
``--small-eval`` validation images (drawn anew each repeat), the fast mode's evaluation size.

    python scripts/rl_reward_noise.py --baseline RUN_DIR/checkpoints/best.ckpt --data DATA \
        [--repeats 5] [--small-eval 512] > noise.md

The configuration is the ResNet-20 RL row of experiments/pruning/resnet20.yaml at profile=cpu
(skip convs on, target reduction 0.63, the whole validation split); ``--override`` adds to it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROW = ["dataset=cifar10", "dataset.val_fraction=0.05", "model=resnet", "model.depth=20", "method=prune_rl",
       "method.skip_convs=true", "method.target_reduction=0.63", "profile=cpu", "task=train"]  # fmt: skip


def mask_actions(convs: int, actions: int, seed: int) -> dict[str, list[int]]:
    """Two fixed action sequences: the first half of each conv's groups, and seeded uniform draws."""
    generator = torch.Generator().manual_seed(seed)
    half = (1 << (actions.bit_length() // 2)) - 1  # bits 0 … groups/2 − 1
    return {"A (first half of the groups)": [half] * convs,
            "B (random groups)": torch.randint(1, actions, (convs,), generator=generator).tolist()}  # fmt: skip


def play(envs, sequences: list[list[int]], target: float | None) -> None:
    """Every actor plays its own fixed sequence; past the target reduction it zeroes nothing more."""
    envs.reset()
    while not envs.done:
        t = envs.step_index
        envs.step([0 if target is not None and envs.reductions[i] >= target else seq[t]
                   for i, seq in enumerate(sequences)])  # fmt: skip


def subset_accuracy(envs, copy: int, images: int, generator: torch.Generator) -> float:
    """The copy's accuracy on ``images`` validation images drawn at random."""
    x, y = envs.data["val"]
    pick = torch.randperm(len(y), generator=generator)[:images]
    data = {**envs.data, "val": (x[pick], y[pick])}
    return envs.bank.accuracies(data, envs.cfg.batch_size, [copy])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a lightcnn checkpoint of the unpruned ResNet-20")
    parser.add_argument("--data", type=Path, required=True, help="data_dir holding CIFAR-10")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--small-eval", type=int, default=512, help="validation images of the fast mode's check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--override", nargs="*", default=[])
    args = parser.parse_args()

    from lightcnn.composition import compose_config
    from lightcnn.config import validate
    from lightcnn.data.datamodule import ImageDataModule
    from lightcnn.engine.weights import load_weights
    from lightcnn.methods.pruning.rl import add_trained_skip_convs
    from lightcnn.methods.pruning.rl_env import PruningEnvs, search_data
    from lightcnn.methods.pruning.surgery import prunable_convs
    from lightcnn.models import build_model

    torch.manual_seed(args.seed)
    cfg = validate(compose_config([*ROW, f"data_dir={args.data}", f"seed={args.seed}", *args.override]))
    mcfg = cfg.method
    datamodule = ImageDataModule(cfg.dataset, args.data, cfg.trainer.batch_size, cfg.trainer.eval_batch_size, cfg.seed)
    datamodule.load()
    shape = (datamodule.spec.channels, datamodule.spec.height, datamodule.spec.width)
    model = build_model(cfg.model, datamodule.spec)
    load_weights(model, args.baseline)
    data = search_data(type("Context", (), {"datamodule": datamodule})(), mcfg, torch.device("cpu"))
    add_trained_skip_convs(model, mcfg, data, args.seed)  # as the search does before its rounds
    units = prunable_convs(model, shape)
    sets = mask_actions(len(units), mcfg.actions, args.seed)
    mcfg.actors = len(sets)
    rows, started = [], time.perf_counter()
    for repeat in range(args.repeats):
        envs = PruningEnvs(model, units, data, mcfg, seed=1000 + repeat)  # the retraining draws differ
        play(envs, list(sets.values()), mcfg.target_reduction)
        draw = torch.Generator().manual_seed(2000 + repeat)
        reference_small = subset_accuracy(envs, envs.reference, args.small_eval, draw)
        for actor, name in enumerate(sets):
            draw.manual_seed(2000 + repeat)  # the same images for a set and the reference
            small = subset_accuracy(envs, actor, args.small_eval, draw)
            rows.append({"set": name, "repeat": repeat, "reduction": envs.reductions[actor],
                         "gap": envs.accuracies[actor] - envs.reference_accuracy,
                         "gap_small": small - reference_small})  # fmt: skip
        print(f"repeat {repeat}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    report(rows, sets, len(data["val"][1]), args, mcfg.reward_accuracy)


def report(rows: list[dict], sets: dict, val_images: int, args, weight: float) -> None:
    def sd(values: list[float]) -> float:
        return statistics.stdev(values) if len(values) > 1 else float("nan")

    convs = len(next(iter(sets.values())))
    print(f"ResNet-20 (CIFAR-10, baseline {args.baseline.name}), {convs} searched convs; {args.repeats} repeats "
          f"with different retraining draws; reward = {weight:g} × accuracy gap (fraction)\n")  # fmt: skip
    print(f"| masks | reduction | gap, whole split (points) | sd | gap, {args.small_eval} images (points) | sd |")
    print("|---|---|---|---|---|---|")
    gaps = {}
    for name in sets:
        mine = [r for r in rows if r["set"] == name]
        whole, small = [100 * r["gap"] for r in mine], [100 * r["gap_small"] for r in mine]
        gaps[name] = (whole, small)
        print(
            f"| {name} | {mine[0]['reduction']:.3f} | {statistics.mean(whole):+.2f} | {sd(whole):.2f} | "
            f"{statistics.mean(small):+.2f} | {sd(small):.2f} |"
        )
    (a_whole, a_small), (b_whole, b_small) = gaps.values()
    for label, a, b, images in (("whole split", a_whole, b_whole, val_images),
                                (f"{args.small_eval} images", a_small, b_small, args.small_eval)):  # fmt: skip
        effect = statistics.mean(a) - statistics.mean(b)
        noise = statistics.mean([sd(a), sd(b)])
        paired = sd([x - y for x, y in zip(a, b, strict=True)])  # A and B retrained on the same batches
        print(
            f"\n{label} ({images} validation images): A − B = {effect:+.2f} points; one episode's noise "
            f"(sd of the gap over repeats) {noise:.2f} points; effect / noise = {abs(effect) / noise:.1f}; "
            f"sd of A − B within a repeat (same batches, as actors of one round) {paired:.2f} points"
        )
    print(
        "\nper repeat (points): "
        + "; ".join(
            f"{r['set'].split(' ')[0]}{r['repeat']} {100 * r['gap']:+.2f}/{100 * r['gap_small']:+.2f}" for r in rows
        )
    )


if __name__ == "__main__":
    main()
