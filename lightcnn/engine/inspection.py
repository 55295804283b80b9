"""Looking inside a model with a forward pass: in eval mode, with forward hooks, and the model
left as it was found whatever happens (its mode restored, every hook removed)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def inspecting(model: nn.Module, hooks: Iterable[tuple[nn.Module, Callable]] = ()) -> Iterator[nn.Module]:
    """Within: ``model`` in eval mode with each ``(module, forward hook)`` of ``hooks`` on."""
    handles = [module.register_forward_hook(hook) for module, hook in hooks]
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
