"""The RL search's recognisers: ``N`` copies of the network being pruned, one per actor, each with
its own binary filter masks, retrained and evaluated after every action.

Two interchangeable banks with one interface:

* :class:`SequentialRecognisers` — ``N`` modules, trained and evaluated one after another.
* :class:`BatchedRecognisers` — the ``N`` copies' parameters and buffers stacked along a new first
  dimension and run as one model with :func:`torch.func.vmap` over
  :func:`torch.func.functional_call` (convolutions become one grouped convolution, BN keeps each
  copy's running statistics); one SGD optimizer over the stacked tensors does for every copy what
  its own optimizer would (momentum and weight decay are elementwise).

A mask is a buffer ``rl_mask`` on the module whose output it zeroes (the conv's BN, or the conv
where no BN of its own follows it), applied by a forward hook: as a buffer it is stacked with the
others, so each copy in the batched bank sees its own. Both banks draw the same random training
batches (indices ``(steps, N, batch)`` drawn once per step), so they compute the same numbers up
to float rounding (tested). ``copy(source, target)`` makes one copy the other's (weights, buffers,
masks and optimizer state): the search trains one of several copies with the same history and
copies it to the others.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from lightcnn.methods.pruning.surgery import PrunableConv

MASK = "rl_mask"


def _apply_mask(module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
    return output * getattr(module, MASK).view(1, -1, 1, 1)


def masked_copy(model: nn.Module, units: list[PrunableConv]) -> nn.Module:
    """A copy of ``model`` with an all-ones mask after each unit (a buffer and a forward hook)."""
    net = copy.deepcopy(model)
    for unit in units:
        module = net.get_submodule(unit.bn or unit.conv)
        channels = net.get_submodule(unit.conv).out_channels
        module.register_buffer(MASK, torch.ones(channels, device=next(net.parameters()).device))
        module.register_forward_hook(_apply_mask)
    return net


def without_masks(state: dict) -> dict:
    """A masked copy's state dict as the unmasked model's (its mask buffers left out)."""
    return {key: value for key, value in state.items() if not key.endswith("." + MASK)}


def cross_entropy_steps(forward, optimizer, data: dict, indices: torch.Tensor, actors: slice | int) -> None:
    """One SGD step per row of ``indices`` (``(steps, N, batch)``) for the actors ``forward`` runs."""
    images, labels = data["train"]
    for step in indices:
        chosen = step[actors]
        logits = forward(data["transform"](images[chosen.flatten()], True).unflatten(0, chosen.shape))
        loss = nn.functional.cross_entropy(logits.flatten(0, -2), labels[chosen].flatten(), reduction="none")
        optimizer.zero_grad(set_to_none=True)
        loss.view(chosen.shape).mean(-1).sum().backward()  # each copy's own mean loss: its own gradients
        optimizer.step()


def module_steps(net: nn.Module, optimizer, data: dict, indices: torch.Tensor, actors: slice | int) -> None:
    """:func:`cross_entropy_steps` for one ordinary module (batches of ``indices[:, actors]``)."""
    net.train()
    cross_entropy_steps(lambda x: net(x.flatten(0, 1)).unflatten(0, x.shape[:2]), optimizer, data, indices, actors)


class SequentialRecognisers:
    """``N`` masked copies, trained and evaluated one after another."""

    def __init__(self, model: nn.Module, units: list[PrunableConv], count: int, lr: float) -> None:
        self.units, self.lr = units, lr
        self.nets = [masked_copy(model, units) for _ in range(count)]
        self.base = copy.deepcopy(self.nets[0].state_dict())

    def reset(self) -> None:
        self.optimizers = []
        for net in self.nets:
            net.load_state_dict(self.base)
            self.optimizers.append(torch.optim.SGD(net.parameters(), lr=self.lr, momentum=0.9, weight_decay=5e-4))

    def mask(self, actor: int, unit: int) -> torch.Tensor:
        return getattr(self.nets[actor].get_submodule(self.units[unit].bn or self.units[unit].conv), MASK)

    def train(self, data: dict, indices: torch.Tensor, actors: list[int] | None = None) -> None:
        """Train the copies ``actors`` (default: all) on their rows of ``indices``."""
        for actor in range(len(self.nets)) if actors is None else actors:
            module_steps(self.nets[actor], self.optimizers[actor], data, indices, slice(actor, actor + 1))

    @torch.no_grad()
    def accuracies(self, data: dict, batch_size: int, actors: list[int] | None = None) -> list[float]:
        """Validation top-1 of the copies ``actors`` (default: all), in that order."""
        chosen = range(len(self.nets)) if actors is None else actors
        return [_accuracy(lambda x, net=self.nets[i]: net.eval()(x).unsqueeze(0), data, batch_size)[0] for i in chosen]

    def copy(self, source: int, target: int) -> None:
        self.nets[target].load_state_dict(self.nets[source].state_dict())
        self.optimizers[target].load_state_dict(self.optimizers[source].state_dict())

    def module(self, actor: int) -> nn.Module:
        return self.nets[actor]

    def state_dict(self, actor: int) -> dict:
        return copy.deepcopy(without_masks(self.nets[actor].state_dict()))


class BatchedRecognisers:
    """``N`` masked copies run as one stacked model (:func:`torch.func.vmap`)."""

    def __init__(self, model: nn.Module, units: list[PrunableConv], count: int, lr: float) -> None:
        from torch.func import stack_module_state

        self.units, self.lr, self.count = units, lr, count
        self.template = masked_copy(model, units)
        self.base = copy.deepcopy(self.template.state_dict())
        params, buffers = stack_module_state([self.template] * count)
        self.params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        self.buffers = {k: v.clone() for k, v in buffers.items()}
        self.skeleton = copy.deepcopy(self.template).to("meta")

    def _forward(self, images: torch.Tensor, shared: bool) -> torch.Tensor:
        """``images``: ``(N, B, …)`` (one batch per copy) or, ``shared``, ``(B, …)`` for every copy."""
        from torch.func import functional_call, vmap

        def call(params, buffers, x):
            return functional_call(self.skeleton, (params, buffers), (x,))

        return vmap(call, in_dims=(0, 0, None if shared else 0), randomness="different")(
            self.params, self.buffers, images
        )

    def reset(self) -> None:
        with torch.no_grad():
            for key, value in self.params.items():
                value.copy_(self.base[key].expand_as(value))
            for key, value in self.buffers.items():
                value.copy_(self.base[key].expand_as(value))
        self.optimizer = torch.optim.SGD(self.params.values(), lr=self.lr, momentum=0.9, weight_decay=5e-4)

    def mask(self, actor: int, unit: int) -> torch.Tensor:
        return self.buffers[f"{self.units[unit].bn or self.units[unit].conv}.{MASK}"][actor]

    def train(self, data: dict, indices: torch.Tensor, actors: list[int] | None = None) -> None:
        """Train every copy (one stacked step: training fewer saves nothing)."""
        self.skeleton.train()
        cross_entropy_steps(lambda x: self._forward(x, shared=False), self.optimizer, data, indices, slice(None))

    @torch.no_grad()
    def accuracies(self, data: dict, batch_size: int, actors: list[int] | None = None) -> list[float]:
        self.skeleton.eval()
        every = _accuracy(lambda x: self._forward(x, shared=True), data, batch_size)
        return every if actors is None else [every[i] for i in actors]

    @torch.no_grad()
    def copy(self, source: int, target: int) -> None:
        for value in (*self.params.values(), *self.buffers.values()):
            value[target].copy_(value[source])
        for state in self.optimizer.state.values():
            for value in state.values():
                if torch.is_tensor(value) and value.dim() > 0:
                    value[target].copy_(value[source])

    def state_dict(self, actor: int) -> dict:
        state = {k: v[actor].detach().clone() for k, v in {**self.params, **self.buffers}.items()}
        return without_masks(state)

    def module(self, actor: int) -> nn.Module:
        net = copy.deepcopy(self.template)
        net.load_state_dict({k: v[actor].detach() for k, v in {**self.params, **self.buffers}.items()})
        return net


def _accuracy(forward, data: dict, batch_size: int) -> list[float]:
    """Top-1 of each copy on the whole validation split; ``forward`` maps ``(B, …)`` to ``(N, B, classes)``."""
    images, labels = data["val"]
    correct = None
    for chunk, target in zip(images.split(batch_size), labels.split(batch_size), strict=True):
        hits = (forward(data["transform"](chunk, False)).argmax(-1) == target).sum(-1)
        correct = hits if correct is None else correct + hits
    return [int(c) / len(labels) for c in correct]
