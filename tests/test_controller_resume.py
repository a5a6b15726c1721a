"""Save mid-search, restore into a fresh strategy: it proposes exactly what the
uninterrupted one would have, for every strategy. The interruption falls with
proposals still out and results told out of order, in uneven chunks."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from controller import NAMES, StrategyConfig, make_strategy
from search import checkpoint
from space import SearchSpace

torch.set_num_threads(1)

SPACE = SearchSpace(2, unary=["identity", "neg", "sin", "tanh", "sigmoid", "max0"],
                    binary=["add", "mul", "max", "sigmoid_mul"])


def fake_reward(tokens: tuple[int, ...]) -> float:
    return float(np.sin(np.dot(tokens, np.arange(1, len(tokens) + 1))) ** 2)


def drive(strategy, rounds: int, rng: np.random.Generator, pending: list) -> list:
    """Ask a few, tell a shuffled, uneven part of what is out; return all proposals."""
    asked = []
    for _ in range(rounds):
        new = strategy.ask(int(rng.integers(1, 7)))
        asked.extend(new)
        pending.extend(new)
        rng.shuffle(pending)
        k = int(rng.integers(0, len(pending) + 1))
        strategy.tell([(t, fake_reward(t)) for t in pending[:k]])
        del pending[:k]
    return asked


def config_for(name: str) -> StrategyConfig:
    return StrategyConfig(name=name, seed=7, batch_size=4, population_size=8, sample_size=3)


@pytest.mark.parametrize("through", ["pickle", "checkpoint"])
@pytest.mark.parametrize("name", NAMES)
def test_restored_strategy_proposes_what_the_uninterrupted_one_would(name: str, through: str):
    config = config_for(name)
    rng = np.random.default_rng(0)
    original, pending = make_strategy(config, SPACE), []
    drive(original, 15, rng, pending)
    state = original.state_dict()  # as an old pickle checkpoint, or the store's tagged JSON
    saved = (pickle.loads(pickle.dumps(state)) if through == "pickle"
             else checkpoint.decode(checkpoint.encode(state)))
    rng_state, pending_copy = rng.bit_generator.state, list(pending)

    uninterrupted = drive(original, 25, rng, pending)

    restored = make_strategy(config, SPACE)
    restored.load_state_dict(saved)
    rng.bit_generator.state = rng_state
    resumed = drive(restored, 25, rng, pending_copy)

    assert resumed == uninterrupted
    assert original.state_dict().keys() == restored.state_dict().keys()


@pytest.mark.parametrize("name", ["random", "evolution", "reinforce", "ppo"])
def test_a_fresh_strategy_with_another_seed_proposes_otherwise(name: str):
    """The round trip above would pass vacuously if proposals ignored the state."""
    a = make_strategy(config_for(name), SPACE).ask(20)
    b = make_strategy(StrategyConfig(name=name, seed=8), SPACE).ask(20)
    assert a != b
    assert make_strategy(config_for(name), SPACE).ask(20) == a  # deterministic given the seed


@pytest.mark.parametrize("name", NAMES)
def test_loading_another_strategys_state_is_refused(name: str):
    other = "random" if name != "random" else "exhaustive"
    state = make_strategy(config_for(other), SPACE).state_dict()
    with pytest.raises(ValueError, match="cannot load"):
        make_strategy(config_for(name), SPACE).load_state_dict(state)


def test_a_controller_state_saved_before_the_elite_existed_still_loads():
    strategy = make_strategy(config_for("reinforce"), SPACE)
    strategy.tell([(t, fake_reward(t)) for t in strategy.ask(4)])
    state = strategy.state_dict()
    assert state["elite"]
    del state["elite"]  # as saved by a version without priority-queue training
    restored = make_strategy(config_for("reinforce"), SPACE)
    restored.load_state_dict(state)
    assert restored.elite == [] and restored.ask(3) == strategy.ask(3)
