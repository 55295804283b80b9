"""A small R2D2 agent (Kapturowski et al., ICLR 2019) for the pruning controller: an LSTM
Q-network with dueling heads, n-step double Q-learning with value rescaling, prioritised replay
of whole sequences, and per-actor exploration rates.

The pruning episodes are short (one step per conv), so whole episodes are stored and replayed
from a zero recurrent state: R2D2's stored state and burn-in are not needed. Everything here is
independent of pruning; :mod:`lightcnn.methods.pruning.rl` supplies the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

RESCALE_EPS = 1e-3  # R2D2's ε in h(x) = sign(x)(√(|x|+1) − 1) + εx
PRIORITY_ETA = 0.9  # priority = η·max|δ| + (1 − η)·mean|δ|


def actor_epsilons(actors: int, base: float = 0.4, floor: float = 0.1) -> list[float]:
    """Exploration rate of actor ``i`` of ``N``: from ``base`` down to ``floor``, geometrically,
    ``base · (floor / base) ** (i / (N − 1))``. Ape-X's ``base ** (1 + 7 i / (N − 1))`` is made for
    hundreds of actors: at 4 it gives 0.4, 0.047, 0.0056, 0.00066, three greedy actors on an
    untrained Q-network playing the same episode; the floor keeps every actor exploring
    (docs/pruning.md)."""
    if actors == 1:
        return [base]
    return [base * (floor / base) ** (i / (actors - 1)) for i in range(actors)]


def rescale(x: torch.Tensor) -> torch.Tensor:
    """R2D2's value rescaling h."""
    return torch.sign(x) * (torch.sqrt(x.abs() + 1) - 1) + RESCALE_EPS * x


def unrescale(x: torch.Tensor) -> torch.Tensor:
    """h⁻¹ (closed form)."""
    root = torch.sqrt(1 + 4 * RESCALE_EPS * (x.abs() + 1 + RESCALE_EPS))
    return torch.sign(x) * (((root - 1) / (2 * RESCALE_EPS)) ** 2 - 1)


def n_step_targets(rewards: torch.Tensor, bootstrap: torch.Tensor, gamma: float, n: int) -> torch.Tensor:
    """Targets ``h(Σ_{k<m} γᵏ r_{t+k} + γⁿ h⁻¹(bootstrap[t+n]))`` for sequences that end in a
    terminal step (``m = min(n, L − t)``; no bootstrap past the end). ``rewards`` and
    ``bootstrap`` (the double-Q values of each step's state, rescaled) are ``(B, L)``."""
    length = rewards.shape[1]
    targets = torch.zeros_like(rewards)
    for t in range(length):
        steps = min(n, length - t)
        discounts = gamma ** torch.arange(steps, dtype=rewards.dtype, device=rewards.device)
        value = (rewards[:, t : t + steps] * discounts).sum(1)
        if t + n < length:
            value = value + gamma**n * unrescale(bootstrap[:, t + n])
        targets[:, t] = rescale(value)
    return targets


def sequence_priorities(errors: torch.Tensor) -> torch.Tensor:
    """R2D2's mixed priority of each sequence from its ``(B, L)`` TD errors."""
    errors = errors.abs()
    return PRIORITY_ETA * errors.max(1).values + (1 - PRIORITY_ETA) * errors.mean(1)


class RecurrentQNet(nn.Module):
    """Observation → linear + ReLU → LSTM → dueling heads: ``Q = V + A − mean(A)``."""

    def __init__(self, observation_size: int, actions: int, hidden: int = 128) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(observation_size, hidden), nn.ReLU())
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.value = nn.Linear(hidden, 1)
        self.advantage = nn.Linear(hidden, actions)

    def forward(self, observations: torch.Tensor, state=None):
        """``(B, L, D)`` observations → ``(B, L, A)`` Q-values and the recurrent state."""
        features, state = self.lstm(self.encoder(observations), state)
        advantage = self.advantage(features)
        return self.value(features) + advantage - advantage.mean(-1, keepdim=True), state


@dataclass
class Sequence:
    observations: torch.Tensor  # (L, D)
    actions: torch.Tensor  # (L,) int64
    rewards: torch.Tensor  # (L,)


class SequenceReplay:
    """Prioritised replay of whole sequences (all of one length): sampled with probability
    ``p^α / Σ p^α`` (R2D2: α = 0.9), importance weights ``(N·P)^−β`` normalised by their maximum
    (R2D2 uses none: β = 0, every weight 1)."""

    def __init__(self, capacity: int, alpha: float = 0.9, beta: float = 0.0, seed: int = 0) -> None:
        self.capacity, self.alpha, self.beta = capacity, alpha, beta
        self.items: list[Sequence] = []
        self.priorities: list[float] = []
        self.next = 0
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, sequence: Sequence, priority: float | None = None) -> None:
        """New sequences get the highest priority so far (each is replayed at least once soon)."""
        priority = priority if priority is not None else max(self.priorities, default=1.0)
        if len(self.items) < self.capacity:
            self.items.append(sequence)
            self.priorities.append(priority)
        else:
            self.items[self.next], self.priorities[self.next] = sequence, priority
        self.next = (self.next + 1) % self.capacity

    def probabilities(self) -> torch.Tensor:
        scaled = torch.tensor(self.priorities, dtype=torch.float64).clamp_min(1e-6) ** self.alpha
        return scaled / scaled.sum()

    def sample(self, batch: int) -> tuple[list[int], torch.Tensor]:
        """Indices and importance weights of ``batch`` sequences (with replacement)."""
        probabilities = self.probabilities()
        indices = torch.multinomial(probabilities, batch, replacement=True, generator=self.generator)
        weights = (len(self.items) * probabilities[indices]) ** -self.beta
        return indices.tolist(), (weights / weights.max()).float()

    def update(self, indices: list[int], priorities: torch.Tensor) -> None:
        for index, priority in zip(indices, priorities.tolist(), strict=True):
            self.priorities[index] = priority

    def state_dict(self) -> dict:
        return {"items": [vars(item) for item in self.items], "priorities": list(self.priorities),
                "next": self.next, "generator": self.generator.get_state()}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.items = [Sequence(**item) for item in state["items"]]
        self.priorities, self.next = list(state["priorities"]), state["next"]
        self.generator.set_state(state["generator"])


class R2D2Learner:
    """Online and target Q-networks, and one learning step on a prioritised batch."""

    def __init__(self, net: RecurrentQNet, gamma: float, n_step: int, lr: float, target_period: int) -> None:
        self.online = net
        self.target = RecurrentQNet(net.encoder[0].in_features, net.advantage.out_features, net.lstm.hidden_size)
        self.target.load_state_dict(net.state_dict())
        self.target.requires_grad_(False)
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        self.gamma, self.n_step, self.target_period = gamma, n_step, target_period
        self.updates = 0
        self.syncs = 0  # copies of the online net into the target net

    def step(self, replay: SequenceReplay, batch: int) -> float:
        """Sample, learn, update the priorities; returns the loss."""
        indices, weights = replay.sample(batch)
        device = next(self.online.parameters()).device
        items = [replay.items[i] for i in indices]
        observations = torch.stack([s.observations for s in items]).to(device)
        actions = torch.stack([s.actions for s in items]).to(device)
        rewards = torch.stack([s.rewards for s in items]).to(device)
        q_online, _ = self.online(observations)
        with torch.no_grad():
            q_target, _ = self.target(observations)
            greedy = q_online.argmax(-1, keepdim=True)  # double Q: the online net picks, the target net values
            targets = n_step_targets(rewards, q_target.gather(-1, greedy).squeeze(-1), self.gamma, self.n_step)
        chosen = q_online.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        errors = chosen - targets
        elementwise = nn.functional.smooth_l1_loss(chosen, targets, reduction="none")
        loss = (weights.to(device).unsqueeze(1) * elementwise).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.online.parameters(), 40.0)
        self.optimizer.step()
        replay.update(indices, sequence_priorities(errors.detach()).cpu())
        self.updates += 1
        if self.updates % self.target_period == 0:
            self.sync_target()
        return float(loss.detach())

    def sync_target(self) -> None:
        """Copy the online net into the target net (every ``target_period`` learner steps, and by
        the search at the end of every round: a search of a few rounds makes fewer steps than a period)."""
        self.target.load_state_dict(self.online.state_dict())
        self.syncs += 1

    def state_dict(self) -> dict:
        return {"online": self.online.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "updates": self.updates, "syncs": self.syncs}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates, self.syncs = state["updates"], state.get("syncs", 0)
