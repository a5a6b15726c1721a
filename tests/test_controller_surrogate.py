"""The reward surrogate ranks what it has not seen, and the strategies built on it use it.

Oracles: a table whose reward is a smooth function of shape must be ranked well
(cross-validated Spearman >= 0.8) and the same rewards shuffled must not be
(|rho| < 0.2); on a small table the surrogate strategy finds the best function
in fewer evaluations than random search over the same fixed seeds.
"""

from __future__ import annotations

import math
import pickle
import statistics

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.model_selection import KFold

from controller import StrategyConfig, make_strategy
from controller.features import SIZE, feature_matrix, shape_features
from controller.filtered import SurrogateFilter
from controller.model_based import SurrogateSearch, candidate_pool
from controller.rl import RNNController
from controller.surrogate import MODELS, RewardModel, SurrogateConfig, acquisition
from space import SearchSpace, parse

torch.set_num_threads(1)

SPACE = SearchSpace(1, unary=["identity", "neg", "abs", "square", "sin", "tanh", "sigmoid",
                              "max0", "exp"], binary=["add", "mul", "max", "min", "sub"])
POINTS = torch.linspace(-3.0, 3.0, 61, dtype=torch.float64)
SWISH = POINTS * torch.sigmoid(POINTS)


def smooth_reward(expr) -> float:
    """A reward that is a smooth function of shape: closeness to Swish on [-3, 3]."""
    with torch.no_grad():
        values = expr(POINTS, beta=1.0)
    error = torch.nan_to_num((values - SWISH).abs(), nan=1e3, posinf=1e3, neginf=1e3)
    return float(1.0 / (1.0 + error.mean()))


@pytest.fixture(scope="module")
def table():
    """(features, rewards) of every distinct function of SPACE (~250)."""
    pool = candidate_pool(SPACE, 10_000, 0)
    expressions = [SPACE.decode(t) for t in pool]
    return feature_matrix(expressions), np.array([smooth_reward(e) for e in expressions])


def cross_validated_rho(kind: str, features: np.ndarray, rewards: np.ndarray) -> float:
    predicted = np.empty_like(rewards)
    for train, test in KFold(5, shuffle=True, random_state=0).split(features):
        predicted[test] = RewardModel(kind).fit(features[train], rewards[train]).predict(
            features[test])[0]
    return float(spearmanr(predicted, rewards).statistic)


def test_features_are_finite_and_fixed_length_even_for_overflow():
    for text in ["relu(x)", "exp(exp(exp(x)))", "x / x", "log_abs(x)", "beta"]:
        row = shape_features(parse(text))
        assert row.shape == (SIZE,) and np.isfinite(row).all(), text
    assert shape_features(parse("exp(exp(exp(x)))"))[-1] > 0  # says values were not finite
    assert shape_features(parse("relu(x)"))[-1] == 0


@pytest.mark.parametrize("kind", MODELS)
def test_smooth_rewards_are_ranked_and_shuffled_ones_are_not(table, kind):
    features, rewards = table
    assert len(rewards) > 150
    assert cross_validated_rho(kind, features, rewards) >= 0.8
    shuffled = np.random.default_rng(0).permutation(rewards)
    assert abs(cross_validated_rho(kind, features, shuffled)) < 0.2


@pytest.mark.parametrize("kind", ["gp", "knn"])  # a forest's trees agree far away too
def test_uncertainty_grows_away_from_the_data(table, kind):
    features, rewards = table
    model = RewardModel(kind).fit(features[:60], rewards[:60])
    _, near = model.predict(features[:60])
    far_rows = features[60:] + 5.0 * features.std(axis=0)  # far outside the training data
    _, far = model.predict(far_rows)
    assert np.median(far) > np.median(near)


def test_acquisitions():
    mean, std = np.array([0.5, 0.4, 0.4]), np.array([0.01, 0.01, 0.2])
    assert acquisition(mean, std, 0.45, "mean").argmax() == 0
    assert acquisition(mean, std, 0.45, "ucb", kappa=2.0).argmax() == 2
    ei = acquisition(mean, std, 0.45, "ei")
    assert ei[0] == pytest.approx(0.05, abs=1e-3) and (ei >= 0).all()
    assert ei[2] > ei[1]  # same mean, more uncertainty: more expected improvement


def evaluations_to_best(strategy, rewards: dict, best: float, budget: int = 200) -> int:
    seen: dict = {}
    while len(seen) < budget and not strategy.exhausted:
        asked = strategy.ask(2)
        for tokens in asked:
            key = SPACE.decode(tokens).fingerprint
            if key not in seen:
                seen[key] = rewards[key]
                if rewards[key] >= best:
                    return len(seen)
        strategy.tell([(t, seen[SPACE.decode(t).fingerprint]) for t in asked])
    return budget + 1


def test_surrogate_finds_the_best_function_sooner_than_random():
    rewards = {}
    for _, tokens in SPACE.enumerate():
        expr = SPACE.decode(tokens)
        rewards.setdefault(expr.fingerprint, smooth_reward(expr))
    best = max(rewards.values())

    def median(name: str, model: str = "knn") -> float:
        return statistics.median(evaluations_to_best(make_strategy(
            StrategyConfig(name=name, seed=seed), SPACE, SurrogateConfig(model=model)),
            rewards, best) for seed in range(8))

    random = median("random")  # 47.5 of 191 functions when written
    knn, gp = median("surrogate", "knn"), median("surrogate", "gp")  # 30 and 18
    assert knn < 0.8 * random and gp < random / 2, (random, knn, gp)


def test_exhaustive_in_predicted_order_proposes_every_function_once():
    strategy = make_strategy(StrategyConfig(name="exhaustive", order="predicted"), SPACE,
                             SurrogateConfig(initial=4))
    assert isinstance(strategy, SurrogateSearch) and strategy.order == "mean"
    proposed = []
    while not strategy.exhausted:
        asked = strategy.ask(2)
        proposed += asked
        strategy.tell([(t, smooth_reward(SPACE.decode(t))) for t in asked])
    keys = [SPACE.decode(t).fingerprint for t in proposed]
    assert len(keys) == len(set(keys)) == len(strategy.pool)
    predictions = strategy.take_predictions()
    assert len(predictions) == len(proposed)
    assert all(math.isnan(p.mean) for p in predictions[:4])  # before the model is trusted
    assert all(math.isfinite(p.mean) for p in predictions[4:])


def test_the_filter_trains_the_best_predicted_and_reports_the_rest():
    config = StrategyConfig(name="random", seed=3)
    strategy = make_strategy(config, SPACE, SurrogateConfig(filter=4, initial=6))
    assert isinstance(strategy, SurrogateFilter)
    told_inner = []
    inner_tell = strategy.inner.tell
    strategy.inner.tell = lambda results: (told_inner.extend(results), inner_tell(results))
    for _ in range(12):
        asked = strategy.ask(2)
        assert 1 <= len(asked) <= 2
        predictions = strategy.take_predictions()
        trained = [p for p in predictions if p.trained]
        assert [p.tokens for p in trained] == asked
        passed = [p for p in predictions if not p.trained]
        if strategy.fitted_on:  # filtering: the chosen have the best acquisition
            assert passed and all(math.isfinite(p.mean) for p in passed)
        strategy.tell([(t, smooth_reward(SPACE.decode(t))) for t in asked])
    passed_tokens = {p.tokens for p in passed}
    assert passed_tokens & {t for t, _ in told_inner}  # the inner strategy heard predictions
    assert strategy.inner.ledger.state_dict() == []  # nothing of the inner's is left out


def test_the_rnn_answers_its_own_repeats():
    """Repeats by function: another spelling of a told function is answered inside."""
    config = StrategyConfig(name="reinforce", seed=0, lr=0.0)  # uniform: repeats by chance
    space = SearchSpace(1, unary=["identity", "sin", "tanh"], binary=["add", "max", "mul"])
    strategy = make_strategy(config, space)
    assert isinstance(strategy, RNNController)
    told: set[str] = set()
    for _ in range(4):
        asked = strategy.ask(2)
        functions = {space.decode(t).fingerprint for t in asked}
        assert not told & functions  # plenty of new functions are there to draw
        strategy.tell([(t, float(t[2])) for t in asked])
        told |= functions
    assert strategy.samples > 8 and set(strategy.known) == told  # > 8: repeats were drawn


def _smooth_prior():
    from controller.prior import Prior

    space = SearchSpace(1, unary=["identity", "neg", "sin", "tanh", "sigmoid"], binary=["add",
                                                                                      "mul"])
    return Prior.from_rewards(list(_rewards_by_function(space).values()))


@pytest.mark.parametrize("build", [
    lambda: make_strategy(StrategyConfig(name="exhaustive", order="predicted", seed=2), SPACE,
                          SurrogateConfig(initial=5)),
    lambda: make_strategy(StrategyConfig(name="surrogate", seed=2), SPACE,
                          SurrogateConfig(initial=5, acquisition="mix"), _smooth_prior()),
    lambda: make_strategy(StrategyConfig(name="evolution", seed=2, population_size=6,
                                         sample_size=2), SPACE, SurrogateConfig(filter=3,
                                                                                initial=5)),
    lambda: make_strategy(StrategyConfig(name="reinforce", seed=2, batch_size=4), SPACE,
                          SurrogateConfig(filter=3, initial=5, model="knn")),
])
def test_restored_surrogate_strategies_propose_what_the_uninterrupted_would(build):
    from tests.test_controller_resume import drive

    rng = np.random.default_rng(0)
    original, pending = build(), []
    drive(original, 10, rng, pending)
    saved = pickle.loads(pickle.dumps(original.state_dict()))
    rng_state, pending_copy = rng.bit_generator.state, list(pending)
    uninterrupted = drive(original, 12, rng, pending)
    restored = build()
    restored.load_state_dict(saved)
    rng.bit_generator.state = rng_state
    assert drive(restored, 12, rng, pending_copy) == uninterrupted


def test_mix_alternates_the_best_mean_and_the_best_expected_improvement():
    strategy = make_strategy(StrategyConfig(name="surrogate"), SPACE,
                             SurrogateConfig(acquisition="mix"))
    strategy.told = [(0, 0.5)]
    mean = np.array([0.60, 0.55, 0.40, 0.10])
    std = np.array([0.001, 0.001, 0.001, 1.0])  # row 3: poor mean, most improvement
    assert acquisition(mean, std, 0.5, "ei").argmax() == 3
    assert list(strategy._ranked(mean, std, 3)) == [0, 3, 1]  # mean, EI, mean
    strategy.proposed[0] = True  # one proposal made: EI's turn comes first
    assert list(strategy._ranked(mean, std, 2)) == [3, 0]


def _rewards_by_function(space) -> dict[str, tuple]:
    """fingerprint -> (expression, smooth reward) of every function of ``space``."""
    found = {}
    for _, tokens in space.enumerate():
        expr = space.decode(tokens)
        found.setdefault(expr.fingerprint, (expr, smooth_reward(expr)))
    return found


def test_a_prior_keeps_rank_quantiles_one_row_a_function():
    from controller.prior import Prior

    exprs = [parse(t) for t in ("x", "sin(x)", "x * sigmoid(x)", "exp(x)", "x + x")]
    prior = Prior.from_rewards([(exprs[0], 0.2), (exprs[1], 0.1), (exprs[2], 0.9),
                                (exprs[3], math.nan), (exprs[4], 0.3), (exprs[2], 0.0)])
    assert len(prior) == 5  # one row a function: the first reward of a function counts
    assert list(prior.quantiles) == [0.5, 0.3, 0.9, 0.1, 0.7]  # a diverged one ranks last
    assert prior.features.shape == (5, SIZE)


def test_a_prior_from_the_same_landscape_finds_the_best_first_and_a_shuffled_one_does_not():
    from controller.prior import Prior

    functions = _rewards_by_function(SPACE)
    rewards = {key: reward for key, (_, reward) in functions.items()}
    best = max(rewards.values())
    truth = Prior.from_rewards(list(functions.values()))
    shuffled_rewards = np.random.default_rng(0).permutation(list(rewards.values()))
    shuffled = Prior.from_rewards([(e, r) for (e, _), r in zip(functions.values(),
                                                               shuffled_rewards)])

    def evaluations(prior, seed: int) -> int:
        strategy = make_strategy(StrategyConfig(name="surrogate", seed=seed), SPACE,
                                 SurrogateConfig(initial=8), prior)
        return evaluations_to_best(strategy, rewards, best)

    assert all(evaluations(truth, seed) <= 2 for seed in range(4))  # its best, proposed first
    assert statistics.median(evaluations(shuffled, seed) for seed in range(4)) > 4
    strategy = make_strategy(StrategyConfig(name="surrogate"), SPACE, SurrogateConfig(), truth)
    strategy.ask(2)
    assert all(math.isnan(p.mean) for p in strategy.take_predictions())  # ranks, not rewards
    for _ in range(2):  # the cold start over, the model learns from this run alone
        strategy.tell([(t, 0.5) for t in strategy.ask(2)])
    strategy.ask(2)
    assert strategy.fitted_on == 4 and strategy._model._train_rewards.tolist() == [0.5] * 4
