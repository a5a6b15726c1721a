"""The Strategy protocol: grammar-valid proposals (property test), tell in any
order, refusal of unasked tokens and bad rewards, config validation, and the
exhaustive strategy's exactly-once cover."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller import NAMES, Strategy, StrategyConfig, make_strategy
from space import BINARY, UNARY, SearchSpace
from space.enumerate import unique_functions

torch.set_num_threads(1)


@st.composite
def spaces(draw) -> SearchSpace:
    units = draw(st.integers(1, 3))
    unary = draw(st.lists(st.sampled_from(list(UNARY)), min_size=1, max_size=6, unique=True))
    binary = draw(st.lists(st.sampled_from(list(BINARY)), min_size=1, max_size=4, unique=True))
    return SearchSpace(units, unary=unary, binary=binary)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(space=spaces(), name=st.sampled_from(NAMES), seed=st.integers(0, 2**31 - 1),
       rewards=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=5))
def test_every_proposal_is_a_sequence_the_grammar_allows(space, name, seed, rewards):
    config = StrategyConfig(name=name, seed=seed, batch_size=3, population_size=4, sample_size=2)
    strategy = make_strategy(config, space)
    assert isinstance(strategy, Strategy)
    for round_ in range(6):
        proposals = strategy.ask(5)
        assert len(proposals) == 5 or strategy.exhausted
        for tokens in proposals:
            assert isinstance(tokens, tuple) and all(type(t) is int for t in tokens)
            assert space.is_valid(tokens), space.check(tokens)
        strategy.tell([(t, rewards[(i + round_) % len(rewards)]) for i, t in
                       enumerate(reversed(proposals))])


@pytest.mark.parametrize("name", NAMES)
def test_tell_accepts_results_out_of_order_and_refuses_unasked_tokens(name):
    space = SearchSpace(1, unary=["identity", "sin", "tanh"], binary=["add", "max"])
    strategy = make_strategy(StrategyConfig(name=name, batch_size=2, population_size=3,
                                            sample_size=2), space)
    asked = strategy.ask(6)
    order = np.random.default_rng(1).permutation(len(asked))
    strategy.tell([(asked[i], 0.1 * i) for i in order[:4]])
    strategy.tell([(list(asked[i]), 0.5) for i in order[4:]])  # lists are fine too
    with pytest.raises(ValueError, match="not asked"):
        strategy.tell([(asked[0], 0.5)])  # already told
    with pytest.raises(ValueError, match="finite"):
        fresh = strategy.ask(1)
        strategy.tell([(fresh[0], math.nan)])


def test_exhaustive_covers_the_space_exactly_once_then_is_exhausted():
    space = SearchSpace(2, unary=["identity", "sin"], binary=["add", "mul"])
    strategy = make_strategy(StrategyConfig(name="exhaustive"), space)
    proposals = []
    while not strategy.exhausted:
        batch = strategy.ask(7)
        assert batch
        strategy.tell([(t, 0.0) for t in batch])
        proposals.extend(batch)
    assert len(proposals) == space.size == 256
    assert proposals == [tokens for _, tokens in space.enumerate()]
    assert strategy.ask(3) == []


def test_exhaustive_skip_duplicates_proposes_each_function_once():
    # no "beta" unary: space's fingerprint fails on b(beta, beta) (constant output)
    space = SearchSpace(1, unary=["identity", "neg", "abs", "square", "max0", "min0"],
                        binary=["add", "sub", "max", "min", "mul"])
    strategy = make_strategy(StrategyConfig(name="exhaustive", skip_duplicates=True), space)
    proposals = []
    while not strategy.exhausted:
        proposals.extend(strategy.ask(4))
    expected = [tokens for _, tokens, _ in unique_functions(space)]
    assert proposals == expected
    assert len(expected) < space.size  # the test would be vacuous otherwise


@pytest.mark.parametrize("field, value", [("name", "bayes"), ("batch_size", 0), ("lr", -1.0),
                                          ("ema_decay", 1.0), ("ppo_clip", 0.0),
                                          ("elite_size", -1), ("elite_weight", -0.5),
                                          ("sample_size", 50), ("tanh_constant", 0.0)])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        StrategyConfig(**{field: value})
