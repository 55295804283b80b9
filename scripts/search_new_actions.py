"""How much of each RL search round was new ground, read back from a run's saved search.

Records written since ``rl_rounds`` carries ``new_actions`` say it themselves; for an earlier run,
its ``checkpoints/rl_search.ckpt`` (:class:`~lightcnn.methods.pruning.rl_progress.SearchProgress`)
holds the replay, which keeps every episode's actions in the order the rounds played them (while
the replay's capacity exceeds the episodes). Prints, per run, the share of each round's steps
whose action no earlier round took at that conv
(:func:`~lightcnn.methods.pruning.rl_search.new_action_share`), and the mean of the last
``--last`` rounds:

    python scripts/search_new_actions.py --actors 4 RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from lightcnn.methods.pruning.rl_progress import SEARCH_PROGRESS
from lightcnn.methods.pruning.rl_search import new_action_share


def round_shares(actions: list[list[int]], actors: int) -> list[float]:
    """Per round (``actors`` consecutive episodes), the share of its steps that were new."""
    rounds = [actions[i : i + actors] for i in range(0, len(actions), actors)]
    return [new_action_share(sum(rounds[:r], []), played) for r, played in enumerate(rounds)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories with checkpoints/rl_search.ckpt")
    parser.add_argument("--actors", type=int, default=4, help="episodes a round (method.actors)")
    parser.add_argument("--last", type=int, default=3, help="rounds averaged at the end")
    args = parser.parse_args(argv)
    for run in args.runs:
        state = torch.load(run / "checkpoints" / SEARCH_PROGRESS, map_location="cpu", weights_only=False)
        episodes = state["rounds"] * args.actors
        items = state["replay"]["items"]
        if len(items) != episodes:
            print(f"{run}: the replay holds {len(items)} of {episodes} episodes (overwritten)", file=sys.stderr)
            return 2
        shares = round_shares([item["actions"].tolist() for item in items], args.actors)
        tail = shares[-args.last :]
        each = " ".join(f"{share:.2f}" for share in shares)
        print(f"{run.name}: {each}; last {len(tail)}: {sum(tail) / len(tail):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
