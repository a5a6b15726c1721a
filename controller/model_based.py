"""Model-based search: propose the candidates a reward surrogate expects most from.

``SurrogateSearch`` holds a **pool** of candidate functions, one token sequence
per distinct function (``candidate_pool``): the whole space when it has at
most ``ENUMERABLE`` sequences (the one-unit space: 6,250 sequences, 4,052
functions; a user's pool of expressions), else ``pool_size`` uniform draws.
Each ``ask(n)``:

1. until ``initial`` rewards are in, proposes pool members uniformly at random
   (with a ``prior``, ``controller.prior``: the prior's best predicted instead);
2. then fits the surrogate (``controller.surrogate.RewardModel``) on the
   rewards told so far, scores
   every pool member not yet proposed with the acquisition and proposes the
   best ``n``; ``mix`` alternates the best predicted mean and the best
   expected improvement.

The model is refitted only once the rewards told grew by ``refit_growth``
(5 %, at least one), so a search of thousands pays for ~log of them fits; the
fit is a function of the first ``m`` rewards in the order told, so a restored
strategy refits the same model and proposes what the uninterrupted one would.
Every proposal carries its prediction (``take_predictions``), which the
runner stores next to the measured reward. The strategy is exhausted when the
pool is.

``order="mean"`` with the whole space as the pool is an exhaustive search in
predicted order (``exhaustive`` with ``order: predicted``): every function is
proposed once, the ones the model expects most from first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from controller.base import Ledger, Results, Tokens, check_kind, check_n, rng_state, set_rng_state
from controller.config import StrategyConfig, SurrogateConfig
from controller.features import feature_matrix
from controller.prior import Prior
from controller.surrogate import RewardModel, acquisition

ENUMERABLE = 100_000  # spaces with at most this many sequences are pooled whole


@dataclass(frozen=True)
class Prediction:
    """What the surrogate expected of a proposal when it was made."""

    tokens: Tokens
    mean: float
    std: float
    trained: bool = True  # False: the filter passed it over (recorded, not trained)


def candidate_pool(space, size: int, seed: int) -> list[Tokens]:
    """One sequence per distinct function (by fingerprint): all of a small space, in its
    order, or the distinct functions among ``size`` seeded uniform draws of a large one."""
    from controller.base import random_tokens

    if space.size <= ENUMERABLE:
        from space.enumerate import unique_functions

        return [tokens for _, tokens, _ in unique_functions(space)]
    rng = np.random.default_rng([seed, 7919])
    seen, pool = set(), []
    for _ in range(size):
        tokens = random_tokens(space, rng)
        key = space.decode(tokens).fingerprint
        if key not in seen:
            seen.add(key)
            pool.append(tokens)
    return pool


class SurrogateSearch:
    """Propose the pool's best candidates by the surrogate's acquisition."""

    kind = "surrogate"

    def __init__(self, config: StrategyConfig, space, surrogate: SurrogateConfig | None = None,
                 order: str | None = None, prior: Prior | None = None) -> None:
        self.space = space
        self.surrogate = (surrogate or SurrogateConfig()).for_search()
        self.order = order or self.surrogate.acquisition
        self.seed = config.seed
        self.pool = candidate_pool(space, self.surrogate.pool_size, config.seed)
        self.index = {tokens: i for i, tokens in enumerate(self.pool)}
        self.rng = np.random.default_rng(config.seed)
        self.ledger = Ledger()
        self.proposed = np.zeros(len(self.pool), dtype=bool)
        self.told: list[tuple[int, float]] = []  # (pool index, reward) in the order told
        self.fitted_on = 0  # the model was fitted on told[:fitted_on]
        self._features: np.ndarray | None = None
        self._model: RewardModel | None = None
        self._predictions: list[Prediction] = []
        self.prior = prior

    # -- the surrogate -----------------------------------------------------------------

    @property
    def features(self) -> np.ndarray:
        """Shape features of the whole pool (computed once, ~0.2 ms a function)."""
        if self._features is None:
            self._features = feature_matrix([self.space.decode(t) for t in self.pool])
        return self._features

    def model(self) -> RewardModel | None:
        """The surrogate fitted on the rewards told so far (refitted as they grow)."""
        told = len(self.told)
        if told < self.surrogate.initial:
            if self.prior is None:
                return None
            if self._model is None:
                self._fit(0)  # the prior alone until this run's own rewards are in
            return self._model
        grown = told >= self.fitted_on + max(1, math.floor(self.surrogate.refit_growth
                                                           * self.fitted_on))
        if self._model is None or grown:
            self._fit(told)
        return self._model

    def _fit(self, count: int) -> None:
        rows = [i for i, _ in self.told[:count]]
        features, rewards = self.features[rows], np.array([r for _, r in self.told[:count]])
        if count == 0 and self.prior is not None:  # the cold start: the prior alone
            features, rewards = self.prior.features, self.prior.quantiles
        self._model = RewardModel(self.surrogate.model, self.seed).fit(features, rewards)
        self.fitted_on = count

    def predict(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The surrogate's (mean, std) for pool rows, or None before it is trusted."""
        model = self.model()
        return None if model is None else model.predict(self.features[rows])

    # -- ask and tell ----------------------------------------------------------------

    def ask(self, n: int) -> list[Tokens]:
        check_n(n)
        free = np.flatnonzero(~self.proposed)
        n = min(n, len(free))
        if n == 0:
            return []
        predicted = self.predict(free)
        if predicted is None:
            chosen = self.rng.choice(free, size=n, replace=False)
            means = stds = [math.nan] * n
        elif self.fitted_on == 0:  # the prior alone: its best first (its scale is ranks,
            # not rewards, so no prediction is recorded)
            order = np.argsort(-predicted[0], kind="stable")[:n]
            chosen, means, stds = free[order], [math.nan] * n, [math.nan] * n
        else:
            mean, std = predicted
            picks = self._ranked(mean, std, n)
            chosen, means, stds = free[picks], mean[picks], std[picks]
        proposals = []
        for row, m, s in zip(chosen, means, stds):
            tokens = self.pool[int(row)]
            self.proposed[row] = True
            self.ledger.add(tokens)
            proposals.append(tokens)
            self._predictions.append(Prediction(tokens, float(m), float(s)))
        return proposals

    def _ranked(self, mean: np.ndarray, std: np.ndarray, n: int) -> np.ndarray:
        """Positions of the ``n`` free candidates to propose, best first. ``mix``
        alternates the best predicted mean and the best expected improvement, by the
        parity of the proposals made so far (so a restored search alternates the same)."""
        best = max(r for _, r in self.told)
        kappa = self.surrogate.kappa
        if self.order != "mix":
            scores = acquisition(mean, std, best, self.order, kappa)
            return np.argsort(-scores, kind="stable")[:n]  # ties: the pool's order
        rankings = [np.argsort(-acquisition(mean, std, best, kind, kappa), kind="stable")
                    for kind in ("mean", "ei")]
        turn, picks, taken = int(self.proposed.sum()), [], set()
        cursors = [0, 0]
        while len(picks) < n:
            which = turn % 2
            ranking = rankings[which]
            while int(ranking[cursors[which]]) in taken:
                cursors[which] += 1
            pick = int(ranking[cursors[which]])
            picks.append(pick)
            taken.add(pick)
            turn += 1
        return np.array(picks, dtype=int)

    def tell(self, results: Results) -> None:
        for tokens, reward, _ in self.ledger.settle(results):
            self.told.append((self.index[tokens], reward))

    def take_predictions(self) -> list[Prediction]:
        """The predictions of the proposals made since the last call (NaN before the
        surrogate is trusted)."""
        taken, self._predictions = self._predictions, []
        return taken

    def discard(self, proposals: list[Tokens]) -> None:
        """Forget proposals that will never be told (they stay proposed)."""
        for tokens in proposals:
            self.ledger.take(tokens)

    @property
    def exhausted(self) -> bool:
        return bool(self.proposed.all())

    # -- save and restore ----------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rng": rng_state(self.rng), "pool_size": len(self.pool),
                "proposed": np.flatnonzero(self.proposed).tolist(), "told": list(self.told),
                "fitted_on": self.fitted_on, "ledger": self.ledger.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_kind(state, self.kind)
        if state["pool_size"] != len(self.pool):
            raise ValueError(f"state was saved with a pool of {state['pool_size']} functions, "
                             f"this strategy's pool has {len(self.pool)}")
        set_rng_state(self.rng, state["rng"])
        self.proposed[:] = False
        self.proposed[state["proposed"]] = True
        self.told = [(int(i), float(r)) for i, r in state["told"]]
        self.ledger.load_state_dict(state["ledger"])
        self._model = None
        if state["fitted_on"]:
            self._fit(state["fitted_on"])
        self.fitted_on = state["fitted_on"]
        self._predictions = []
