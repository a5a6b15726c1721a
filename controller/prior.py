"""A surrogate's prior: rewards of functions measured elsewhere (``surrogate: {prior: PATH}``).

Another run's store or a recorded table says how functions ranked on *its*
task; rewards on two tasks are not on one scale (CIFAR-10 accuracies near 0.4,
digits near 0.95), but ranks may carry over. So the prior keeps each
function's **rank quantile** in its own table, ``(rank - 0.5) / n`` (a diverged
function ranks last), and its shape features.

``SurrogateSearch`` uses it for the cold start only: instead of ``initial``
uniform draws it proposes the functions a model fitted on the prior ranks
best; from this run's first ``initial`` rewards on, the model learns from them
alone. A prior kept in the model beside this run's rewards (its quantiles
mapped onto them) was measured first and lost: from a digits table on the
CIFAR-10 tables, 1.5-2.1x random search's evaluations against 0.25-0.52x for
the cold start alone (tuning seeds 200-219, docs/surrogate.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.features import feature_matrix
from space import Expression


@dataclass(frozen=True)
class Prior:
    """Functions measured elsewhere: shape features and rank quantiles, one row each."""

    features: np.ndarray
    quantiles: np.ndarray

    @classmethod
    def from_rewards(cls, measured: list[tuple[Expression, float]]) -> Prior:
        """From (expression, reward) pairs; NaN (diverged) ranks last, one row a function."""
        from scipy.stats import rankdata

        unique: dict[str, tuple[Expression, float]] = {}
        for expr, reward in measured:
            unique.setdefault(expr.fingerprint, (expr, reward))
        if not unique:
            raise ValueError("the prior has no functions")
        exprs = [e for e, _ in unique.values()]
        rewards = np.array([r for _, r in unique.values()], float)
        rewards = np.where(np.isnan(rewards), -np.inf, rewards)
        quantiles = (rankdata(rewards) - 0.5) / len(rewards)
        return cls(feature_matrix(exprs), quantiles)

    def __len__(self) -> int:
        return len(self.quantiles)
