"""The RNN controller learns: on a landscape that rewards one specific function,
the probability of sampling that function rises above 0.9 within a stated
number of updates (REINFORCE and PPO); with a learning rate of zero it does not.

The landscape: reward = fraction of the 5 slots whose token matches the target
``[x x sinc beta_add mul]`` (position 4321 of the one-unit space), taken for
the best-matching spelling of each function, so the reward is a property of
the function (as a search's is: the controller answers other spellings of a
told function with its reward) and the target function alone scores 1 (its
two spellings, sinc(x)·(x+β) and (x+β)·sinc(x)), while every slot gives a
signal. A needle-in-a-haystack reward (1 for the target, 0 otherwise) would
test luck, not learning: the target has probability 2/6250 under the initial
policy.

``tanh_constant=None``: with the squash C·tanh(·), C = 2.5 caps one choice
among 25 at p = 0.86 per slot, so the target could never pass 0.9 at all.
"""

from __future__ import annotations

import math

import pytest
import torch

from controller import RNNController, StrategyConfig, make_strategy
from space import SearchSpace

torch.set_num_threads(1)

SPACE = SearchSpace(1)
TARGET = SPACE.tokens_at(4321)
MAX_UPDATES = 300  # observed: 29-192 updates over the seeds 0-5 that learn, both algorithms
SETTINGS = {  # PPO takes ppo_epochs (4) steps per batch, so a smaller step size
    "reinforce": {"lr": 0.005},
    "ppo": {"lr": 0.002},
}


def _match(tokens: tuple[int, ...]) -> float:
    return sum(a == b for a, b in zip(tokens, TARGET)) / len(TARGET)


def _by_function() -> dict[str, float]:
    best: dict[str, float] = {}
    for _, tokens in SPACE.enumerate():
        key = SPACE.decode(tokens).fingerprint
        best[key] = max(best.get(key, 0.0), _match(tokens))
    return best


BEST = _by_function()
SPELLINGS = [t for _, t in SPACE.enumerate() if BEST[SPACE.decode(t).fingerprint] == 1.0]


def reward(tokens: tuple[int, ...]) -> float:
    return BEST[SPACE.decode(tokens).fingerprint]


def target_probability(strategy: RNNController) -> float:
    return sum(strategy.probability(t) for t in SPELLINGS)


def train(name: str, seed: int, lr: float, updates: int) -> tuple[RNNController, list[float]]:
    """Drive a controller for at most ``updates`` updates; the target's probability after each."""
    config = StrategyConfig(name=name, seed=seed, lr=lr, tanh_constant=None, batch_size=8,
                            temperature=1.0, entropy_weight=0.001, ema_decay=0.9, ppo_epochs=4,
                            ppo_clip=0.2, hidden_size=64, elite_size=0)
    # Pinned: defaults may be retuned. elite_size=0: this tests the policy gradient; without
    # the tanh cap the elite term would make the policy certain of the first 4-of-5 match.
    strategy = make_strategy(config, SPACE)
    assert isinstance(strategy, RNNController)
    history = [target_probability(strategy)]
    while strategy.updates < updates and history[-1] <= 0.9:
        proposals = strategy.ask(config.batch_size)
        strategy.tell([(tokens, reward(tokens)) for tokens in proposals])
        history.append(target_probability(strategy))
    return strategy, history


def test_target_is_the_describe_we_state():
    assert SPACE.describe(TARGET) == "[x x sinc beta_add mul]"


@pytest.mark.parametrize("name", ["reinforce", "ppo"])
def test_probability_of_the_rewarded_function_passes_0_9(name: str):
    """Most seeds learn it; without the tanh cap and the elite term a seed can lock onto a
    4-of-5 sequence (observed over seeds 6-25: 4-5 of 20 for REINFORCE, before and after
    repeats were answered inside the controller), so one seed of six may fail."""
    learned = []
    for seed in range(6):
        _, history = train(name, seed, SETTINGS[name]["lr"], MAX_UPDATES)
        assert history[0] < 0.01
        learned.append(history[-1] > 0.9)
    assert sum(learned) >= 5, f"{name}: p(target) > 0.9 for seeds {learned}"


@pytest.mark.parametrize("name", ["reinforce", "ppo"])
def test_with_lr_zero_nothing_is_learned(name: str):
    strategy, history = train(name, 0, 0.0, 30)
    assert strategy.updates == 30
    assert max(history) < 0.01
    assert history[-1] == pytest.approx(history[0], abs=1e-7)


def test_updates_happen_every_batch_size_results_in_any_chunks():
    strategy = make_strategy(StrategyConfig(name="reinforce", batch_size=5), SPACE)
    proposals = strategy.ask(12)
    strategy.tell([(t, reward(t)) for t in proposals[:3]])
    assert strategy.updates == 0
    strategy.tell([(t, reward(t)) for t in proposals[3:11]])
    assert strategy.updates == 2  # 11 told: two batches of 5, one waiting
    strategy.tell([(proposals[11], reward(proposals[11]))])
    assert strategy.updates == 2


def test_the_untrained_policy_is_uniform_over_allowed_tokens():
    space = SearchSpace(2)
    strategy = make_strategy(StrategyConfig(name="reinforce", seed=3), space)
    tokens = space.tokens_at(12345)
    uniform = 1.0 / math.prod(len(slot.allowed) for slot in space.slots)
    assert strategy.probability(tokens) == pytest.approx(uniform, rel=1e-5)


def test_elite_keeps_the_best_distinct_sequences_told():
    strategy = make_strategy(StrategyConfig(name="reinforce", elite_size=2, batch_size=100),
                             SPACE)
    asked = strategy.ask(6)
    rewards = [0.1, 0.9, 0.5, 0.9, 0.7, 0.2]
    strategy.tell(list(zip(asked, rewards)))
    best = sorted({(r, t) for t, r in zip(asked, rewards)}, key=lambda e: -e[0])
    assert [r for r, _ in strategy.elite] == [0.9, 0.9] or len(set(asked)) < 6
    assert strategy.elite[0] == (0.9, asked[1])  # a tie keeps the one told first
    assert {t for _, t in strategy.elite} <= {t for _, t in best}


def final_probability(name: str, seed: int, elite_size: int) -> float:
    """p(the first batch's one good function) after 5 more batches; only it scores 1."""
    config = StrategyConfig(name=name, seed=seed, elite_size=elite_size, batch_size=8)
    strategy = make_strategy(config, SPACE)
    first = strategy.ask(8)
    good = first[0]
    strategy.tell([(t, 1.0 if t == good else 0.0) for t in first])
    for _ in range(5):
        proposals = strategy.ask(8)
        strategy.tell([(t, 1.0 if t == good else 0.0) for t in proposals])
    return strategy.probability(good)


@pytest.mark.parametrize("name", ["reinforce", "ppo"])
def test_elite_term_keeps_the_best_function_told_likely(name: str):
    """One good function in the first batch (the only one that scores 1): the elite term
    makes it likely and keeps it so; the policy gradient alone forgets it in some seeds.
    (The tanh squash caps p at 0.70 for a sequence of this space.)"""
    with_elite = [final_probability(name, seed, 1) for seed in range(4)]
    without = [final_probability(name, seed, 0) for seed in range(4)]
    assert min(with_elite) > 0.25, with_elite
    assert min(without) < 0.05, without
