"""Where lightcnn reaches into a library's internals: here only, one function each. ``RELIANCES``
lists what each relies on and the version it was written against; ``tests/test_upstream.py``
checks every one and fails naming the package, its installed version and the attribute, so an
upgrade that moves them fails loudly instead of silently changing counts, checkpoints or logs."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

# (package, module, attribute, written against): what the functions below touch
RELIANCES = (
    ("fvcore", "fvcore.nn.jit_analysis", "_get_scoped_trace_graph", "0.1.5"),
    ("torch", "torch.jit", "_get_trace_graph", "2.13"),
    ("pytorch-lightning", "pytorch_lightning.callbacks.ModelCheckpoint",
     "best_k_models best_model_path kth_best_model_path best_model_score kth_value", "2.6"),
    ("pytorch-lightning", "lightning_fabric.loggers.csv_logs._ExperimentWriter", "metrics", "2.6"),
    ("pytorch-lightning", "pytorch_lightning.strategies.DDPStrategy", "configure_ddp model lightning_module", "2.6"),
)  # fmt: skip


def _unscoped_trace_graph(module: nn.Module, inputs, aliases) -> torch._C.Graph:
    """fvcore's trace without its per-module scope hooks: every node counts for the whole model
    only (``by_operator()`` and ``total()`` of the root are unchanged), in about half the time."""
    return torch.jit._get_trace_graph(module, inputs if isinstance(inputs, tuple) else (inputs,))[0]


@contextmanager
def whole_model_counts(enabled: bool = True):
    """Within: fvcore analyses trace without module scopes (totals only, no per-module table)."""
    from unittest import mock

    from fvcore.nn import jit_analysis

    if not enabled:
        yield
        return
    with mock.patch.object(jit_analysis, "_get_scoped_trace_graph", _unscoped_trace_graph):
        yield


def reset_best_checkpoints(callback) -> list[str]:
    """Make Lightning's ``ModelCheckpoint`` forget every best checkpoint it holds (as if no epoch
    had been validated yet); the paths it held, for the caller to delete."""
    paths = list(callback.best_k_models)
    callback.best_k_models = {}
    callback.best_model_path = callback.kth_best_model_path = ""
    callback.best_model_score = None
    callback.kth_value = torch.tensor(torch.inf if callback.mode == "min" else -torch.inf)
    return paths


def prepend_csv_rows(logger, rows: list[dict]) -> None:
    """Put ``rows`` in front of the rows Lightning's ``CSVLogger`` will write (creating its
    writer, which deletes an existing ``metrics.csv``)."""
    logger.experiment.metrics[:0] = rows


def wrap_for_ddp_again(strategy) -> bool:
    """After surgery on a module that DDP wraps, wrap it anew (whether it did): DDP's reducer holds
    the parameters it was built with, so the next backward would wait for gradients of parameters
    that no longer exist. Lightning's ``DDPStrategy.configure_ddp`` wraps ``strategy.model``, the
    bare LightningModule before the first wrap; every rank must have made the same surgery."""
    from torch.nn.parallel import DistributedDataParallel

    if not isinstance(strategy.model, DistributedDataParallel):
        return False
    strategy.model = strategy.lightning_module
    strategy.configure_ddp()
    return True
