"""The RL search: the controller (R2D2 learner, replay, per-actor ε) and the rounds of episodes
it plays in the environment (:mod:`~lightcnn.methods.pruning.rl_env`); the method that cuts
the chosen masks out: :mod:`lightcnn.methods.pruning.rl`."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import torch

from lightcnn.methods.pruning.r2d2 import R2D2Learner, RecurrentQNet, Sequence, SequenceReplay, actor_epsilons
from lightcnn.methods.pruning.rl_env import PruningEnvs
from lightcnn.methods.pruning.rl_progress import SearchProgress

if TYPE_CHECKING:  # the method's config lives with the method (rl.py), which imports this module
    from lightcnn.methods.pruning.rl import PruneRLConfig

log = logging.getLogger(__name__)


def better(episode: dict, best: dict, target: float | None) -> bool:
    """Whether ``episode`` beats ``best``: the higher return, or, with a target reduction, one
    that reached the target over one that did not, then the more accurate of two that did."""
    if "accuracy" not in best:
        return True
    if target is None:
        return episode["return"] > best["return"]
    reached, best_reached = episode["reduction"] >= target, best["reduction"] >= target
    if reached != best_reached:
        return reached
    return episode["accuracy"] > best["accuracy"] if reached else episode["return"] > best["return"]


def new_action_share(earlier: list[list[int]], current: list[list[int]]) -> float | None:
    """The share of ``current``'s steps (one action list per episode, one action per conv) whose
    action at that conv no ``earlier`` episode took there: how much of a round is still new ground
    (with many actions, chance and an unlearnt policy stay high; None where an earlier episode's
    actions were not recorded)."""
    if any(actions is None for actions in earlier):
        return None
    taken = {(conv, action) for actions in earlier for conv, action in enumerate(actions)}
    steps = [(conv, action) for actions in current for conv, action in enumerate(actions)]
    return sum(step not in taken for step in steps) / len(steps)


class Controller:
    """The search's actor side and learner: the recurrent Q-network, its R2D2 learner and replay,
    each actor's ε, and the generator of the exploration draws (``method.search=random``: every
    action a uniform draw, nothing learnt)."""

    def __init__(self, envs: PruningEnvs, cfg: PruneRLConfig, seed: int) -> None:
        torch.manual_seed(seed)
        self.cfg, self.random = cfg, cfg.search == "random"
        self.net = RecurrentQNet(envs.observation_size, cfg.actions, cfg.hidden)
        self.learner = R2D2Learner(self.net, cfg.gamma, cfg.n_step, cfg.learning_rate, cfg.target_period)
        self.replay = SequenceReplay(cfg.replay_capacity, seed=seed)
        epsilons = [1.0] * cfg.actors if self.random else actor_epsilons(cfg.actors, floor=cfg.epsilon_floor)
        self.epsilons = torch.tensor(epsilons)
        self.generator = torch.Generator().manual_seed(seed)

    def act(self, observations: torch.Tensor, state, reductions: list[float]) -> tuple[torch.Tensor, object]:
        """Each actor's action: greedy, or with probability ε a uniform draw; none past the target reduction."""
        with torch.no_grad():
            q, state = self.net(observations.unsqueeze(1), state)
        explore = torch.rand(self.cfg.actors, generator=self.generator) < self.epsilons
        random = torch.randint(self.cfg.actions, (self.cfg.actors,), generator=self.generator)
        actions = torch.where(explore, random, q[:, 0].argmax(-1))
        if self.cfg.target_reduction is not None:  # the stopping rule: at the target, zero nothing more
            reached = torch.tensor([r >= self.cfg.target_reduction for r in reductions])
            actions = torch.where(reached, torch.zeros_like(actions), actions)
        return actions, state

    def learn(self, seen: torch.Tensor, taken: torch.Tensor, rewards: torch.Tensor) -> list[float]:
        """Store the round's episodes, take the learner's steps and sync the target net (every
        round, whatever the period: the next round acts on what was learnt); the losses."""
        for actor in range(self.cfg.actors):
            self.replay.add(Sequence(seen[actor], taken[actor], rewards[actor].float()))
        if self.random:
            return []
        losses = [self.learner.step(self.replay, self.cfg.replay_batch) for _ in range(self.cfg.updates_per_episode)]
        self.learner.sync_target()
        return losses


def play_round(envs: PruningEnvs, controller: Controller, round_index: int, steps: list, started: float):
    """One episode per actor, side by side; every step's point goes to ``steps``. Returns the
    observations, actions and rewards, ``(actors, convs, …)``."""
    from lightcnn.engine.callbacks import hms  # Lightning: not imported when a config is composed

    cfg = controller.cfg
    observations, state = envs.reset(), None
    seen, taken, rewards = [], [], []
    while not envs.done:
        actions, state = controller.act(observations, state, envs.reductions)
        seen.append(observations)
        taken.append(actions)
        observations, reward = envs.step(actions.tolist())
        rewards.append(reward)
        for actor in range(cfg.actors):
            steps.append({"episode": round_index * cfg.actors + actor, "actor": actor, "step": envs.step_index,
                          "reduction": envs.reductions[actor], "accuracy": envs.accuracies[actor],
                          "reference_accuracy": envs.reference_accuracy})  # fmt: skip
        log.info("search round %d/%d, conv %d/%d, %s: reduction %s, accuracy %s", round_index + 1,
                 cfg.episodes_per_actor, envs.step_index, len(envs.units), hms(time.perf_counter() - started),
                 " ".join(f"{r:.2f}" for r in envs.reductions),
                 " ".join(f"{a:.3f}" for a in envs.accuracies))  # fmt: skip
    return torch.stack(seen, 1), torch.stack(taken, 1), torch.stack(rewards, 1)


def run_search(
    envs: PruningEnvs, cfg: PruneRLConfig, seed: int, progress: SearchProgress | None = None
) -> tuple[dict, list[dict], list[dict], list[dict]]:
    """Play ``episodes_per_actor`` rounds; returns the best episode (highest return, with its
    masks and recogniser weights), every episode's summary, every step's trajectory point and
    every round's summary (mean and best return, the share of its steps whose action was new at
    that conv, target syncs so far, copies evaluated so far).
    With ``progress``, the state after each round is saved, and rounds saved before are not
    played again."""
    progress = progress or SearchProgress(None)
    controller = Controller(envs, cfg, seed)
    best: dict = {"return": -float("inf")}
    episodes, steps, rounds = [], [], []
    played, found = progress.restore(controller.learner, controller.replay, controller.generator, envs)
    if found is not None:
        best, episodes, steps, rounds = found
    started = time.perf_counter()
    for round_index in range(played, cfg.episodes_per_actor):
        seen, taken, rewards = play_round(envs, controller, round_index, steps, started)
        for actor in range(cfg.actors):
            summary = {"episode": round_index * cfg.actors + actor, "round": round_index, "actor": actor,
                       "epsilon": float(controller.epsilons[actor]), "reduction": envs.reductions[actor],
                       "accuracy": envs.accuracies[actor], "return": float(rewards[actor].sum()),
                       "actions": taken[actor].tolist()}  # fmt: skip
            episodes.append(summary)
            if better(summary, best, cfg.target_reduction):
                best = {**summary, "kept": envs.kept_indices(actor), "weights": envs.bank.state_dict(actor)}
        losses = controller.learn(seen, taken, rewards)
        returns = [float(r.sum()) for r in rewards]
        earlier = [e.get("actions") for e in episodes if e["round"] < round_index]
        new = new_action_share(earlier, [e["actions"] for e in episodes if e["round"] == round_index])
        rounds.append({"round": round_index, "mean_return": sum(returns) / len(returns), "best_return": max(returns),
                       "new_actions": new, "target_syncs": controller.learner.syncs,
                       "evaluations": envs.evaluations})  # fmt: skip
        chosen = "chosen so far (the target reached, the most accurate)" if cfg.target_reduction else "best so far"
        loss = f"; loss {sum(losses) / len(losses):.4f}" if losses else ""
        log.info("round %d: mean return %.3f, highest %.3f; %s: return %.3f, reduction %.3f, accuracy %.4f%s",
                 round_index, rounds[-1]["mean_return"], rounds[-1]["best_return"], chosen, best["return"],
                 best["reduction"], best["accuracy"], loss)  # fmt: skip
        state = (best, episodes, steps, rounds)
        progress.save(round_index + 1, controller.learner, controller.replay, controller.generator, envs, state)
    return best, episodes, steps, rounds
