"""Decisions DDP ranks must take together, and what each rank must take apart, checked in one
process with a stand-in trainer (the 2-process gloo runs are in the slow suite)."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from lightcnn.config import TrainerConfig
from lightcnn.engine.module import LitClassifier, rank_seed, rng_states, stage_metrics


class Strategy:
    """A DDP strategy's collective answer: ``others_finite`` is what the other ranks saw."""

    def __init__(self, others_finite: bool = True) -> None:
        self.others_finite = others_finite

    def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:  # noqa: A002 (Lightning's name)
        return decision and self.others_finite


def module_on(rank: int, world_size: int, strategy: Strategy | None = None) -> LitClassifier:
    module = LitClassifier(nn.Linear(2, 2), TrainerConfig())
    module._trainer = SimpleNamespace(
        world_size=world_size, global_rank=rank, strategy=strategy or Strategy(), should_stop=False,
        state=SimpleNamespace(fn="fit"),
    )  # fmt: skip
    return module


def test_a_non_finite_loss_on_another_rank_stops_every_rank():
    module = module_on(0, 2, Strategy(others_finite=False))
    module._metrics["train"] = stage_metrics(2)
    module._metrics["train"]["loss_sum"].update(torch.tensor(1.0))  # this rank's loss is finite
    module._check_finite()
    assert module.diverged and module.trainer.should_stop  # so it skips the checkpoint barrier with the others
    alone = module_on(0, 1)
    alone._metrics["train"] = stage_metrics(2)
    alone._metrics["train"]["loss_sum"].update(torch.tensor(1.0))
    alone._check_finite()
    assert not alone.diverged and not alone.trainer.should_stop


def test_each_rank_draws_its_own_augmentation_stream_and_rank_0_the_single_process_one():
    seeds = []
    for rank in (0, 1, 2):
        torch.manual_seed(7)
        module_on(rank, 3).on_train_start()
        seeds.append(torch.initial_seed())
    assert seeds == [7, rank_seed(7, 1), rank_seed(7, 2)] and len(set(seeds)) == 3
    torch.manual_seed(7)
    module_on(0, 1).on_train_start()
    assert torch.initial_seed() == 7


def test_a_resumed_rank_gets_its_own_generators_back():
    states = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        states.append(rng_states())
    checkpoint = {"lightcnn": {"history": [], "diverged": False, "rng": states[0], "rng_per_rank": states}}
    module = module_on(1, 2)
    module.on_load_checkpoint(checkpoint)
    assert torch.equal(torch.get_rng_state(), states[1]["torch"])
    module.on_train_start()  # restored: not reseeded
    assert torch.equal(torch.get_rng_state(), states[1]["torch"])


def test_every_rank_prunes_by_rank_0s_scores_on_its_own_device():
    from lightcnn.methods.pruning.schedule import scores_of_rank_0

    rank_0 = [torch.tensor([3.0, 1.0]), torch.tensor([0.5, 2.0, 1.0])]

    class Broadcast:
        def broadcast(self, obj, src=0):
            assert src == 0 and all(t.device.type == "cpu" for t in obj)  # pickled as CPU tensors
            return [t.clone() for t in rank_0]

    mine = [torch.tensor([1.0, 3.0]), torch.tensor([2.0, 0.5, 1.0])]
    trainer = SimpleNamespace(world_size=2, strategy=Broadcast())
    agreed = scores_of_rank_0(trainer, mine)
    assert all(torch.equal(a, b) for a, b in zip(agreed, rank_0, strict=True))
    assert scores_of_rank_0(SimpleNamespace(world_size=1, strategy=None), mine) is mine
