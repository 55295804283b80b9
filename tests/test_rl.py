"""RL compression: the R2D2 pieces by hand, the masked recognisers against the surgery, and the
method end to end."""

import copy
import logging
from pathlib import Path

import pytest
import torch

from lightcnn.engine.profiling import count_params
from lightcnn.errors import ConfigValueError
from lightcnn.methods.pruning.r2d2 import (
    R2D2Learner,
    RecurrentQNet,
    Sequence,
    SequenceReplay,
    actor_epsilons,
    n_step_targets,
    rescale,
    sequence_priorities,
    unrescale,
)
from lightcnn.methods.pruning.rl import PruneRLConfig
from lightcnn.methods.pruning.rl_env import PruningEnvs, filter_groups
from lightcnn.methods.pruning.surgery import prunable_convs, remove_filters
from lightcnn.models import InputSpec, build_model, model_config

CIFAR = InputSpec(3, 32, 32, 10)


def test_every_actor_explores_from_0_4_down_to_the_floor():
    assert actor_epsilons(1) == [0.4]
    for actors in range(2, 9):
        eps = actor_epsilons(actors)
        assert eps[0] == pytest.approx(0.4) and eps[-1] == pytest.approx(0.1) and eps == sorted(eps, reverse=True)
    assert actor_epsilons(4) == pytest.approx([0.4, 0.4 * 0.25 ** (1 / 3), 0.4 * 0.25 ** (2 / 3), 0.1])
    assert actor_epsilons(3, floor=0.2) == pytest.approx([0.4, 0.4 * 0.5**0.5, 0.2])


def test_value_rescaling_inverts():
    x = torch.linspace(-500, 500, 101, dtype=torch.float64)
    torch.testing.assert_close(unrescale(rescale(x)), x)
    assert float(rescale(torch.tensor(3.0))) == pytest.approx(1.0 + 3e-3)  # √4 − 1 + 0.001·3


def test_n_step_targets_by_hand():
    rewards = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)
    values = torch.tensor([[10.0, 20.0, 30.0, 40.0]], dtype=torch.float64)
    targets = unrescale(n_step_targets(rewards, rescale(values), gamma=0.5, n=2))
    expected = [1 + 0.5 * 2 + 0.25 * 30, 2 + 0.5 * 3 + 0.25 * 40, 3 + 0.5 * 4, 4]  # no bootstrap past the end
    torch.testing.assert_close(targets, torch.tensor([expected], dtype=torch.float64))


def test_sequence_priorities_mix_max_and_mean():
    assert sequence_priorities(torch.tensor([[1.0, -3.0]])).tolist() == pytest.approx([0.9 * 3 + 0.1 * 2])


def test_dueling_head_averages_to_the_value():
    net = RecurrentQNet(5, 3, hidden=8)
    q, (h, c) = net(torch.randn(2, 4, 5))
    assert q.shape == (2, 4, 3) and h.shape == (1, 2, 8)
    features, _ = net.lstm(net.encoder(torch.zeros(1, 1, 5)))
    torch.testing.assert_close(net(torch.zeros(1, 1, 5))[0].mean(-1), net.value(features).squeeze(-1))


def test_replay_samples_by_priority_and_overwrites_the_oldest():
    replay = SequenceReplay(capacity=3, alpha=1.0, beta=1.0, seed=0)
    empty = Sequence(torch.zeros(1, 1), torch.zeros(1, dtype=torch.long), torch.zeros(1))
    for priority in (1.0, 3.0):
        replay.add(empty, priority)
    indices, weights = replay.sample(4000)
    assert indices.count(1) / 4000 == pytest.approx(0.75, abs=0.03)
    assert float(weights.max()) == 1.0 and float(weights.min()) == pytest.approx(1 / 3, rel=1e-5)  # (N·P)^−1
    replay.add(empty)  # new ones get the highest priority so far
    replay.add(empty, 0.5)  # full: replaces the oldest (index 0)
    assert replay.priorities == [0.5, 3.0, 3.0] and len(replay) == 3


def test_learner_finds_the_rewarded_action():
    """One-step episodes where only action 2 pays: the greedy action becomes 2."""
    torch.manual_seed(0)
    net = RecurrentQNet(1, 4, hidden=16)
    learner = R2D2Learner(net, gamma=0.9, n_step=1, lr=1e-2, target_period=5)
    replay = SequenceReplay(capacity=64, seed=0)
    for action in range(4):
        replay.add(Sequence(torch.ones(1, 1), torch.tensor([action]), torch.tensor([1.0 if action == 2 else 0.0])))
    for _ in range(200):
        learner.step(replay, 8)
    q, _ = net(torch.ones(1, 1, 1))
    assert int(q.argmax()) == 2


def fake_data(n: int = 64, side: int = 32):
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    return {
        "train": (images, labels),
        "val": (images[:16], labels[:16]),
        "transform": lambda x, train: x.float() / 255,
        "device": torch.device("cpu"),
    }


@pytest.mark.parametrize(
    ("name", "values"), [pytest.param("vgg16", {}, marks=pytest.mark.slow), ("resnet", {"depth": 20})]
)
def test_masked_recogniser_equals_the_pruned_one(name, values):
    model = build_model(model_config(name, **values), CIFAR)
    units = prunable_convs(model, (3, 32, 32))
    cfg = PruneRLConfig(actors=1, groups=4, retrain_batches=1, batch_size=8)
    envs = PruningEnvs(model, units, fake_data(), cfg, seed=0)
    envs.reset()
    generator = torch.Generator().manual_seed(1)
    while not envs.done:
        envs.step([int(torch.randint(cfg.actions, (), generator=generator))])
    net = envs.bank.module(0).eval()
    images = torch.randn(2, 3, 32, 32)
    masked = net(images)
    pruned = copy.deepcopy(model)
    pruned.load_state_dict(envs.bank.state_dict(0))
    for unit, keep in zip(units, envs.kept_indices(0), strict=True):
        remove_filters(pruned, unit, keep)
    torch.testing.assert_close(pruned.eval()(images), masked, rtol=1e-4, atol=1e-4)
    assert envs.reductions[0] == pytest.approx(1 - count_params(pruned)[0] / count_params(model)[0])
    assert envs.reductions[0] > 0 and all(k >= 1 for k in envs.kept(0))


def planted_recogniser() -> torch.nn.Sequential:
    """8 filters in 4 index groups of 2: only group 1 (filters 2 and 3) reads the signal channel
    and feeds the classifier; the other six read a constant-mean channel the classifier ignores."""
    from torch import nn

    net = nn.Sequential(nn.Conv2d(2, 8, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(8, 2))  # fmt: skip
    with torch.no_grad():
        weight = torch.zeros(8, 2, 1, 1)
        weight[2, 0], weight[3, 0], weight[[0, 1, 4, 5, 6, 7], 1] = 1.0, -1.0, 1.0
        net[0].weight.copy_(weight)
        net[5].weight.zero_()
        net[5].weight[1, 2], net[5].weight[0, 3] = 4.0, 4.0
        net[5].bias.zero_()
    return net.eval()


def planted_data() -> dict:
    def split(n, seed):
        generator = torch.Generator().manual_seed(seed)
        labels = torch.randint(2, (n,), generator=generator)
        images = torch.randn(n, 2, 4, 4, generator=generator) * 0.3
        images[:, 0] += (labels.float() * 2 - 1).view(-1, 1, 1)  # the class is the sign of channel 0
        return images, labels

    return {
        "train": split(512, 0),
        "val": split(256, 1),
        "transform": lambda x, train: x,
        "device": torch.device("cpu"),
    }


PLANTED = dict(actors=4, groups=4, retrain_batches=1, retrain_lr=1e-6, batch_size=64, replay_batch=4,
               updates_per_episode=8, n_step=1, hidden=32)  # fmt: skip


def test_the_controllers_action_chooses_which_filters_go():
    from lightcnn.methods.pruning.rl_env import zeroed_groups

    assert zeroed_groups(0b0101, 4, "controller") == [0, 2] and zeroed_groups(0b1111, 4, "controller") == [0, 1, 2]
    assert zeroed_groups(0b10000, 4, "controller") == []  # bits beyond the conv's groups do nothing
    assert zeroed_groups(3, 4, "l1") == [0, 1, 2] and zeroed_groups(9, 4, "l1") == [0, 1, 2]
    net = planted_recogniser()
    envs = PruningEnvs(
        net, prunable_convs(net, (2, 4, 4)), planted_data(), PruneRLConfig(**{**PLANTED, "actors": 2}), 0
    )
    envs.reset()
    envs.step([0b0001, 0b0010])  # the same number of filters, different groups
    first, second = envs.kept_indices(0)[0].tolist(), envs.kept_indices(1)[0].tolist()
    assert first == [2, 3, 4, 5, 6, 7] and second == [0, 1, 4, 5, 6, 7]
    assert envs.accuracies[0] == 1.0 and envs.accuracies[1] < 0.6  # group 1 carries the signal
    assert PruneRLConfig(groups=8).actions == 255 and PruneRLConfig(groups=8, selection="l1").actions == 8


def test_a_controller_search_keeps_the_filters_that_carry_the_signal(monkeypatch):
    """Group 1 of 4 carries all the signal; the others only cost parameters. Uniformly random
    actions keep group 1 in 8 of the 15 actions (21.3 of 40 episodes on average). After 10 rounds
    of 4 actors (ε from 0.4 down to 0.1), the search keeps it in 29 to 38 of 40 episodes and in 6
    to 8 of the last 8 (8 seeds tried), and the chosen masks keep it and drop at least one other
    group. No importance score is computed: every scoring function raises here."""
    import lightcnn.methods.pruning.importance as importance
    import lightcnn.methods.pruning.rl_env as rl_env
    import lightcnn.methods.pruning.rl_search as rl_search

    def no_scores(*args, **kwargs):
        raise AssertionError("an importance score was computed on the controller's path")

    for module, name in ((importance, "l1_norm"), (importance, "feature_map_ranks"), (rl_env, "l1_norm")):
        monkeypatch.setattr(module, name, no_scores)
    torch.set_num_threads(1)  # tiny ops: threads only wait on each other
    net = planted_recogniser()
    cfg = PruneRLConfig(**PLANTED, episodes_per_actor=10)
    envs = PruningEnvs(net, prunable_convs(net, (2, 4, 4)), planted_data(), cfg, 0)
    best, episodes, _, _ = rl_search.run_search(envs, cfg, 0)
    kept_signal = [e["accuracy"] == 1.0 for e in episodes]  # zeroing group 1 leaves chance accuracy
    assert sum(kept_signal[-8:]) >= 6 and sum(kept_signal) >= 29
    assert {2, 3} <= set(best["kept"][0].tolist()) and len(best["kept"][0]) < 8 and best["accuracy"] == 1.0


def test_a_target_reduction_stops_masking_and_chooses_the_most_accurate_episode_that_reached_it():
    from lightcnn.methods.pruning.rl_search import better, run_search

    torch.set_num_threads(1)
    model = build_model(model_config("resnet", depth=20), CIFAR)
    cfg = PruneRLConfig(actors=2, episodes_per_actor=1, retrain_batches=1, batch_size=8, replay_batch=1,
                        updates_per_episode=1, hidden=16, target_reduction=0.05)  # fmt: skip
    envs = PruningEnvs(model, prunable_convs(model, (3, 32, 32)), fake_data(), cfg, seed=0)
    best, episodes, steps, _ = run_search(envs, cfg, 0)
    for actor in (0, 1):
        trajectory = [s["reduction"] for s in steps if s["actor"] == actor]
        first = next(i for i, r in enumerate(trajectory) if r >= 0.05)  # random actions get there in a few convs
        assert first < len(trajectory) - 1 and set(trajectory[first:]) == {trajectory[first]}
    assert best["accuracy"] == max(e["accuracy"] for e in episodes)
    assert better(
        {"reduction": 0.5, "accuracy": 0.1, "return": 0}, {"reduction": 0.4, "accuracy": 0.9, "return": 9}, 0.5
    )
    assert not better(
        {"reduction": 0.6, "accuracy": 0.1, "return": 9}, {"reduction": 0.5, "accuracy": 0.2, "return": 0}, 0.5
    )
    assert better({"reduction": 0.1, "accuracy": 0, "return": 2}, {"reduction": 0.2, "accuracy": 1, "return": 1}, None)


# identity shortcuts: ResNet-18 two of 64 channels and one each of 128, 256, 512; ResNet-20 three of 16,
# two of 32, two of 64 (c² conv weights + 2c BN parameters each)
@pytest.mark.parametrize(
    ("name", "values", "added", "params"), [("resnet18", {}, 5, 354_304), ("resnet", {"depth": 20}, 7, 11_488)]
)
def test_skip_convs_leave_the_trained_function_unchanged_at_insertion(name, values, added, params):
    from lightcnn.models.resnet import add_skip_convs

    torch.manual_seed(0)
    model = build_model(model_config(name, **values), CIFAR)
    for module in model.modules():  # a "trained" network: statistics and affine parameters off their init
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.running_var, 0.5, 2.0)
            torch.nn.init.normal_(module.running_mean)
            torch.nn.init.normal_(module.bias)
    images = torch.randn(2, 3, 32, 32)
    before = model.eval()(images)
    unchanged = count_params(model)[0]
    assert add_skip_convs(model) == added  # every identity shortcut (projections and zero-pads are not)
    torch.testing.assert_close(model.eval()(images), before, rtol=1e-5, atol=1e-5)
    assert count_params(model)[0] - unchanged == params


@pytest.mark.slow  # seconds of searching: the default suite keeps under 3 minutes
def test_prune_rl_with_skip_convs_searches_the_network_they_are_in(run_config):
    record = run_config("model=resnet", "model.depth=20", "method=prune_rl", "method.skip_convs=true",
                        "method.skip_conv_batches=2", "method.actors=1", "method.episodes_per_actor=1",
                        "method.retrain_batches=1", "method.eval_batches=1", "method.batch_size=16",
                        "method.replay_batch=1", "method.updates_per_episode=1", "dataset=synthetic",
                        "dataset.val_fraction=0.05", "profile=smoke", "trainer.accelerator=cpu")  # fmt: skip
    unpruned = count_params(build_model(model_config("resnet", depth=20), CIFAR))[0]
    assert record["status"] == "ok" and record["rl_skip_convs"] == 7
    assert record["rl_params_searched"] == unpruned + 11_488  # the seven skip convs
    assert len(record["rl_steps"]) == 19 + 7  # the inserted convs are searched too
    assert 1 - record["params"] / record["rl_params_searched"] == pytest.approx(record["rl_chosen"]["reduction"])
    profiled = run_config("model=resnet", "model.depth=20", "method=prune_rl", "method.skip_convs=true",
                          "dataset=synthetic", "task=profile", name="profile")  # fmt: skip
    assert profiled["params"] == record["rl_params_searched"] and profiled["rl_skip_convs"] == 7
    with pytest.raises(ConfigValueError, match="method.skip_convs=True is not allowed: false for a model without"):
        run_config("model=vgg16", "method=prune_rl", "method.skip_convs=true", "dataset=synthetic", "task=profile",
                   name="vgg")  # fmt: skip


@pytest.mark.parametrize(("name", "values"), [("resnet", {"depth": 20}), ("oct_resnet", {"depth": 20})])
def test_the_batched_recognisers_compute_what_the_sequential_ones_do(name, values):
    """Two actors, different masks, an SGD step on the same random batches: the stacked model
    (vmap: grouped convolutions) and the per-actor modules end with the same accuracies, and the
    same weights and BN statistics up to float rounding (at most 5e-6 here; later steps on random
    weights amplify it, as any change of summation order would)."""
    torch.manual_seed(0)
    model = build_model(model_config(name, **values), CIFAR)
    units = prunable_convs(model, (3, 32, 32))
    envs = {}
    for batched in (False, True):
        cfg = PruneRLConfig(
            actors=2, retrain_batches=1, batch_size=8, recognisers="stacked" if batched else "sequential"
        )
        envs[batched] = PruningEnvs(model, units, fake_data(), cfg, seed=0)
        envs[batched].reset()
        _, rewards = envs[batched].step([0b00000011, 0b11000000])
    sequential, batched = envs[False], envs[True]
    assert (
        type(sequential.bank).__name__ == "SequentialRecognisers"
        and type(batched.bank).__name__ == "BatchedRecognisers"
    )
    assert sequential.accuracies == batched.accuracies and sequential.reductions == batched.reductions
    assert sequential.kept_indices(0)[0].tolist() != sequential.kept_indices(1)[0].tolist()
    for actor in (0, 1):
        one, other = sequential.bank.state_dict(actor), batched.bank.state_dict(actor)
        assert one.keys() == other.keys() == model.state_dict().keys()
        for key in one:
            torch.testing.assert_close(other[key], one[key], rtol=1e-4, atol=1e-5, msg=key)


def test_filter_groups_put_the_weakest_filters_first():
    from lightcnn.methods.pruning.importance import l1_norm
    from lightcnn.methods.pruning.surgery import PrunableConv

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 5, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([3.0, -1.0, 5.0, 0.5, 2.0]).view(5, 1, 1, 1))
    (scores,) = l1_norm(net, [PrunableConv("0", None, "0")])
    assert [g.tolist() for g in filter_groups(scores, 2)] == [[3, 1, 4], [0, 2]]
    assert len(filter_groups(scores, 8)) == 5  # never more groups than filters


def test_prune_rl_plays_two_episodes_and_records_them(run_config, caplog):
    with caplog.at_level(logging.INFO, logger="lightcnn.methods.pruning"):
        record = run_config("model=resnet", "model.depth=20", "method=prune_rl", "method.actors=1",
                            "method.episodes_per_actor=2", "method.retrain_batches=1", "method.eval_batches=1",
                            "method.batch_size=16", "method.replay_batch=2", "method.updates_per_episode=1",
                            "dataset=synthetic", "dataset.val_fraction=0.05", "profile=smoke",
                            "trainer.accelerator=cpu")  # fmt: skip
    assert record["status"] == "ok" and record["test_acc"] is not None
    assert [e["episode"] for e in record["rl_episodes"]] == [0, 1]
    assert len(record["rl_steps"]) == 2 * 19 and record["rl_steps"][-1]["step"] == 19
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("search round")]
    assert len(progress) == 2 * 19 and progress[-1].startswith("search round 2/2, conv 19/19, 0:0")  # a line a step
    chosen = record["rl_chosen"]
    assert chosen["return"] == max(e["return"] for e in record["rl_episodes"])
    rounds = [r.getMessage() for r in caplog.records if r.getMessage().startswith("round ")]
    highest = max(e["return"] for e in record["rl_episodes"] if e["round"] == 1)
    assert f"highest {highest:.3f}; best so far: return {chosen['return']:.3f}" in rounds[-1], rounds
    unpruned = count_params(build_model(model_config("resnet", depth=20), CIFAR))[0]
    assert 1 - record["params"] / unpruned == pytest.approx(chosen["reduction"])
    assert sum(record["kept_filters"].values()) < 16 * 7 + 32 * 6 + 64 * 6


def test_prune_rl_profile_counts_the_network_before_the_search(run_config):
    record = run_config("method=prune_rl", "model=vgg16", "dataset=synthetic", "task=profile")
    assert record["status"] == "ok" and record["params"] == 14_991_946  # VGG-16 as built: no search without data
    assert record["rl_note"] == "no search without data: counts of the network before pruning"
    assert record["counts_final"] is False  # so the tables do not read them as the pruned network's


@pytest.mark.slow
def test_prune_rl_without_a_validation_split_exits_2(lightcnn, tmp_path):
    result = lightcnn("model=vgg16", "method=prune_rl", "dataset=synthetic", "dataset.val_fraction=0", "profile=smoke")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: dataset.val_fraction=0.0 is not allowed: > 0 with method=prune_rl" in result.stderr
    assert not list((tmp_path / "results").rglob("result.json"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=mobilenet", "method.retrain_lr=0"], "method.retrain_lr=0.0 is not allowed: a learning rate > 0"),
        (["model=vgg16", "method.groups=1"], "method.groups=1 is not allowed: an integer >= 2"),
    ],
)
def test_prune_rl_bad_input(run_config, overrides, message):
    from lightcnn.errors import UserError

    with pytest.raises(UserError, match=message):
        run_config("method=prune_rl", "dataset=synthetic", "profile=smoke", "trainer.accelerator=cpu", *overrides)


@pytest.mark.slow  # seconds of searching: the default suite keeps under 3 minutes
def test_a_search_interrupted_after_a_round_continues_to_the_uninterrupted_search(tmp_path, monkeypatch):
    from lightcnn.methods.pruning import rl

    torch.set_num_threads(1)
    cfg = PruneRLConfig(actors=2, episodes_per_actor=3, retrain_batches=1, batch_size=8, replay_batch=2,
                        updates_per_episode=2, target_period=3, hidden=16)  # fmt: skip

    def search(progress):
        torch.manual_seed(123)  # the same recogniser each time (a run loads its baseline)
        model = build_model(model_config("resnet", depth=20), CIFAR)
        envs = PruningEnvs(model, prunable_convs(model, (3, 8, 8)), fake_data(side=8), cfg, seed=0)
        return rl.run_search(envs, cfg, 0, progress)

    whole = search(None)
    path = tmp_path / "checkpoints" / "rl_search.ckpt"
    save = rl.SearchProgress.save

    def save_then_stop(self, rounds, *args):
        save(self, rounds, *args)
        if rounds == 1:
            raise KeyboardInterrupt  # killed after the first round was saved

    monkeypatch.setattr(rl.SearchProgress, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        search(rl.SearchProgress(path))
    monkeypatch.setattr(rl.SearchProgress, "save", save)
    progress = rl.SearchProgress(path)
    resumed = search(progress)
    assert progress.rounds_taken == 1
    assert resumed[1] == whole[1] and resumed[2] == whole[2]  # every episode and every step
    assert [t.tolist() for t in resumed[0]["kept"]] == [t.tolist() for t in whole[0]["kept"]]
    assert all(torch.equal(resumed[0]["weights"][k], v) for k, v in whole[0]["weights"].items())
    # run again once the search has finished (killed during the fine-tuning): no round is played
    monkeypatch.setattr(PruningEnvs, "step", lambda *_: pytest.fail("a finished search played again"))
    done = rl.SearchProgress(path)
    assert search(done)[1] == whole[1] and done.rounds_taken == 3


@pytest.mark.slow  # seconds of searching: the default suite keeps under 3 minutes
def test_a_run_killed_during_its_search_continues_the_search_in_its_directory(compose, tmp_path, monkeypatch):
    from lightcnn.methods.pruning import rl
    from lightcnn.runner import execute

    results = tmp_path / "results"
    overrides = ("model=resnet", "model.depth=20", "method=prune_rl", "method.actors=1", "method.episodes_per_actor=2",
                 "method.retrain_batches=1", "method.eval_batches=1", "method.batch_size=16", "method.replay_batch=1",
                 "method.updates_per_episode=1", "dataset=synthetic", "dataset.val_fraction=0.05", "profile=smoke",
                 "trainer.accelerator=cpu", "trainer.progress_bar=false", f"results_dir={results}")  # fmt: skip
    save = rl.SearchProgress.save

    def save_then_stop(self, rounds, *args):
        save(self, rounds, *args)
        raise KeyboardInterrupt  # killed after the first round was saved

    monkeypatch.setattr(rl.SearchProgress, "save", save_then_stop)
    (results / "first").mkdir(parents=True)
    with pytest.raises(KeyboardInterrupt):
        execute(compose(*overrides), results / "first", overrides)
    assert (results / "first" / "checkpoints" / "rl_search.ckpt").is_file()
    monkeypatch.setattr(rl.SearchProgress, "save", save)
    (results / "again").mkdir()
    record = execute(compose(*overrides), results / "again", overrides).record
    assert not (results / "again").exists() and (results / "first" / "result.json").is_file()  # continued there
    assert record["status"] == "ok" and record["rl_rounds_resumed"] == 1 and len(record["rl_episodes"]) == 2
    assert record["resume_notes"] == ["no intact training checkpoint: training starts again from its first epoch"]


def small_search(seed: int = 0, **values):
    """A search of ResNet-20's first 7 convs on random data, as ``profile=smoke`` shrinks it (all
    19 take three times as long and test nothing more)."""
    from lightcnn.methods.pruning import rl

    torch.set_num_threads(1)
    torch.manual_seed(123)
    cfg = PruneRLConfig(**{"actors": 2, "episodes_per_actor": 1, "retrain_batches": 1, "batch_size": 4,
                           "replay_batch": 2, "updates_per_episode": 1, "hidden": 16, **values})  # fmt: skip
    model = build_model(model_config("resnet", depth=20), CIFAR)  # on 8×8 images: the search, not the net, is tested
    envs = PruningEnvs(model, prunable_convs(model, (3, 8, 8))[:7], fake_data(side=8), cfg, seed=seed)
    return envs, rl.run_search(envs, cfg, seed)


def test_the_target_network_syncs_every_round_of_a_smoke_search():
    """Smoke's search (one learner step a round: the default period of 20 is never reached) syncs
    the target net at the end of each round, and so does the default period within a round."""
    _, (_, _, _, rounds) = small_search(episodes_per_actor=3)
    assert [r["target_syncs"] for r in rounds] == [1, 2, 3]
    _, (_, _, _, rounds) = small_search(episodes_per_actor=2, updates_per_episode=4, target_period=2, replay_batch=1)
    assert [r["target_syncs"] for r in rounds] == [3, 6]  # two in the period, one at the round's end


def test_four_actors_play_four_episodes_and_identical_histories_are_computed_once():
    envs, (_, episodes, steps, rounds) = small_search(actors=4, episodes_per_actor=2)
    masks = {}
    for step in steps:
        masks.setdefault(step["episode"], []).append(round(step["reduction"], 9))
    assert len({tuple(m) for m in masks.values()}) == 8  # no two episodes alike at this seed
    convs = len(envs.units)
    assert rounds[-1]["evaluations"] < 2 * convs * (4 + 1)  # the reference and look-alikes were shared
    assert [e["epsilon"] for e in episodes[:4]] == pytest.approx(actor_epsilons(4))


def test_the_reward_is_measured_against_the_unmasked_copy_after_the_same_retraining():
    envs, (_, episodes, steps, _) = small_search(actors=2, episodes_per_actor=1)
    for actor in (0, 1):
        mine = [s for s in steps if s["actor"] == actor]
        relative = mine[-1]["accuracy"] - mine[-1]["reference_accuracy"]
        episode = next(e for e in episodes if e["actor"] == actor)
        assert episode["return"] == pytest.approx(mine[-1]["reduction"] + 10 * relative, abs=1e-5)  # telescoped


def test_a_random_search_draws_every_action_and_learns_nothing():
    envs, (_, episodes, _, rounds) = small_search(search="random", episodes_per_actor=2)
    assert {e["epsilon"] for e in episodes} == {1.0} and [r["target_syncs"] for r in rounds] == [0, 0]
    with pytest.raises(ConfigValueError, match="search='greedy' is not allowed: one of rl, random"):
        PruneRLConfig(search="greedy")


def test_the_share_of_new_actions_by_hand():
    from lightcnn.methods.pruning.rl_search import new_action_share

    earlier = [[1, 2, 3], [1, 5, 3]]  # conv 0: {1}; conv 1: {2, 5}; conv 2: {3}
    assert new_action_share([], [[0, 0, 0]]) == 1.0
    assert new_action_share(earlier, [[1, 5, 3], [2, 1, 3]]) == pytest.approx(2 / 6)  # 2 at conv 0, 1 at conv 1
    assert new_action_share([*earlier, None], [[1, 2, 3]]) is None  # an episode recorded without its actions


def test_every_episode_records_its_actions_and_every_round_the_share_that_was_new():
    envs, (_, episodes, _, rounds) = small_search(actors=2, episodes_per_actor=2, search="random")
    assert all(len(e["actions"]) == len(envs.units) for e in episodes)
    first = [e["actions"] for e in episodes if e["round"] == 0]
    second = [e["actions"] for e in episodes if e["round"] == 1]
    seen = {(conv, a) for actions in first for conv, a in enumerate(actions)}
    new = sum((conv, a) not in seen for actions in second for conv, a in enumerate(actions))
    assert rounds[0]["new_actions"] == 1.0 and rounds[1]["new_actions"] == pytest.approx(new / (2 * len(envs.units)))


def test_the_new_actions_script_reads_an_earlier_runs_saved_search(tmp_path, capsys):
    import importlib.util

    from lightcnn.methods.pruning.rl_progress import SEARCH_PROGRESS

    path = Path(__file__).parents[1] / "scripts" / "search_new_actions.py"
    spec = importlib.util.spec_from_file_location("search_new_actions", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    played = [[1, 2], [3, 2], [1, 2], [1, 4]]  # two rounds of two actors; round 1: 1 new step of 4
    items = [{"actions": torch.tensor(a)} for a in played]
    torch.save({"rounds": 2, "replay": {"items": items}}, tmp_path / "run" / "checkpoints" / SEARCH_PROGRESS)
    assert script.main(["--actors", "2", "--last", "1", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().out == "run: 1.00 0.25; last 1: 0.25\n"
    torch.save({"rounds": 3, "replay": {"items": items}}, tmp_path / "run" / "checkpoints" / SEARCH_PROGRESS)
    assert script.main(["--actors", "2", str(tmp_path / "run")]) == 2
    assert "the replay holds 4 of 6 episodes (overwritten)" in capsys.readouterr().err
