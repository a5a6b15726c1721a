"""A surrogate's prior: rewards of functions measured elsewhere (``surrogate: {prior: PATH}``).

Another run's store or a recorded table says how functions ranked on *its*
task; rewards on two tasks are not on one scale (CIFAR-10 accuracies near 0.4,
digits near 0.95), but ranks may carry over. So the prior keeps each
function's **rank quantile** in its own table, ``(rank - 0.5) / n`` (a diverged
function ranks last), and its shape features.

``SurrogateSearch`` fits its model on the prior alone until this run's first
``initial`` rewards are in (proposing the prior's best first, instead of
uniform draws), and from then on on this run's rewards plus the prior's
functions not measured here, their quantiles mapped onto this run's rewards
(``numpy.quantile`` of the rewards told: a prior function at quantile 0.9
counts as this run's 90th percentile). A function measured here drops out of
the prior: its own reward decides. How far ranks carry between tasks is
measured in ``docs/surrogate.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.features import feature_matrix
from space import Expression


@dataclass(frozen=True)
class Prior:
    """Functions measured elsewhere: features, rank quantiles, fingerprints."""

    features: np.ndarray
    quantiles: np.ndarray
    fingerprints: tuple[str, ...]

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
        return cls(feature_matrix(exprs), quantiles, tuple(unique))

    def __len__(self) -> int:
        return len(self.fingerprints)

    def points(self, rewards: np.ndarray | None, measured: set[str]
               ) -> tuple[np.ndarray, np.ndarray]:
        """(features, targets) of the prior's functions not in ``measured``: quantiles,
        or with this run's ``rewards`` (two or more) those quantiles of them."""
        keep = np.array([f not in measured for f in self.fingerprints], bool)
        targets = self.quantiles[keep]
        if rewards is not None and len(rewards) >= 2:
            targets = np.quantile(rewards, targets)
        return self.features[keep], targets
