"""The RL search's saved progress: an interrupted search continues from its last whole round."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from lightcnn.engine.checkpoint_io import CorruptCheckpoint, load_checkpoint, save_state_atomic

log = logging.getLogger(__name__)

SEARCH_PROGRESS = "rl_search.ckpt"  # in the run's checkpoint directory: a run with one is unfinished, resumable


class SearchProgress:
    """The search's state after each round, in ``path`` (the run's ``checkpoints/rl_search.ckpt``):
    the controller, its replay, every random generator the rounds draw from and what the rounds
    found. A run started again after an interruption continues from the last whole round and ends
    with the search the uninterrupted run makes; one run again after the search has finished
    (killed during its fine-tuning) takes the search's result without searching."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rounds_taken = 0  # rounds the run took from a saved search

    def save(self, rounds: int, learner, replay, generator, envs, found: tuple[dict, list, list]) -> None:
        if self.path is None:
            return
        device = envs.data["device"]
        state = {"rounds": rounds, "learner": learner.state_dict(), "replay": replay.state_dict(),
                 "generator": generator.get_state(), "envs_generator": envs.generator.get_state(),
                 "torch_rng": torch.get_rng_state(), "found": found,
                 "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}  # fmt: skip
        save_state_atomic(state, self.path)

    def restore(self, learner, replay, generator, envs) -> tuple[int, tuple[dict, list, list] | None]:
        """The rounds already played and what they found, the search's state set as after them;
        ``(0, None)`` without saved progress (an unreadable file is set aside, with a warning)."""
        if self.path is None or not self.path.is_file():
            return 0, None
        try:
            state = load_checkpoint(self.path)
        except CorruptCheckpoint as err:
            os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
            log.warning("%s; the search starts again", err)
            return 0, None
        learner.load_state_dict(state["learner"])
        replay.load_state_dict(state["replay"])
        generator.set_state(state["generator"])
        envs.generator.set_state(state["envs_generator"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], envs.data["device"])
        self.rounds_taken = state["rounds"]
        log.info("search: %d round(s) taken from %s", self.rounds_taken, self.path)
        return state["rounds"], state["found"]
