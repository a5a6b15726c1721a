"""The reward surrogate: a regressor with an uncertainty, fitted on the rewards told so far.

``RewardModel(kind, seed).fit(X, y).predict(X) -> (mean, std)`` over the
shape features of ``controller.features``; every model is scikit-learn's:

* ``gp``: a Gaussian process (Matérn 5/2 times a constant, plus white noise for
  the seed-to-seed spread, hyperparameters by maximum likelihood, targets
  normalised); its posterior standard deviation is the uncertainty.
* ``forest``: a random forest; the uncertainty is the spread of its trees.
* ``knn``: distance-weighted nearest neighbours (AQuaSurF's regressor); the
  uncertainty blends the neighbours' spread with the spread of all rewards told
  (the prior), by the share ``d / (d + d0)`` of the distance ``d`` to the
  neighbours (``d0``: the typical gap between told points). Far-away candidates
  are as uncertain as the prior, never more: an unbounded distance term made
  expected improvement chase outliers (divisions with poles) on the digits
  landscape.

``acquisition(mean, std, best, kind)`` turns predictions into scores to
maximise: expected improvement over the best reward told (``ei``), an upper
confidence bound ``mean + kappa * std`` (``ucb``), or the mean (``mean``).

Its settings are ``controller.config.SurrogateConfig``, the ``surrogate:``
block of a run's config.
"""

from __future__ import annotations

import warnings

import numpy as np

from controller.config import MODELS, SurrogateConfig  # noqa: F401  (re-exported)


class RewardModel:
    """A regressor over features with a predictive standard deviation."""

    def __init__(self, kind: str = "gp", seed: int = 0) -> None:
        if kind not in MODELS:
            raise ValueError(f"model {kind!r} is not one of {', '.join(MODELS)}")
        self.kind, self.seed = kind, seed
        self._fitted = None
        self._scale = None

    def fit(self, features: np.ndarray, rewards: np.ndarray) -> RewardModel:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.preprocessing import StandardScaler

        features, rewards = np.asarray(features, float), np.asarray(rewards, float)
        self._scale = StandardScaler().fit(features)
        inputs = self._scale.transform(features)
        self._train_rewards = rewards
        if self.kind == "gp":
            with warnings.catch_warnings():  # hyperparameters at a bound are expected (flat data)
                warnings.simplefilter("ignore", ConvergenceWarning)
                self._fitted = _gp(self.seed).fit(inputs, rewards)
        elif self.kind == "forest":
            from sklearn.ensemble import RandomForestRegressor

            self._fitted = RandomForestRegressor(
                n_estimators=200, min_samples_leaf=2, random_state=self.seed).fit(inputs, rewards)
        else:
            from sklearn.neighbors import NearestNeighbors

            k = min(KNN_NEIGHBOURS, len(rewards))
            self._fitted = NearestNeighbors(n_neighbors=k).fit(inputs)
            self._typical = _typical_distance(inputs)
        return self

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, standard deviation) for each row of ``features``."""
        if self._fitted is None:
            raise RuntimeError("predict() before fit()")
        inputs = self._scale.transform(np.asarray(features, float))
        if self.kind == "gp":
            mean, std = self._fitted.predict(inputs, return_std=True)
        elif self.kind == "forest":
            trees = np.stack([tree.predict(inputs) for tree in self._fitted.estimators_])
            mean, std = trees.mean(axis=0), trees.std(axis=0)
        else:
            distance, index = self._fitted.kneighbors(inputs)
            weights = 1.0 / np.maximum(distance, 1e-9)
            values = self._train_rewards[index]
            mean = (weights * values).sum(axis=1) / weights.sum(axis=1)
            spread = np.sqrt((weights * (values - mean[:, None]) ** 2).sum(axis=1)
                             / weights.sum(axis=1))
            far = distance.mean(axis=1)
            weight = far / (far + self._typical)  # 0 on a told point, 1/2 at a typical gap
            std = (1.0 - weight) * spread + weight * self._train_rewards.std()
        return np.asarray(mean, float), np.maximum(np.asarray(std, float), 1e-12)


KNN_NEIGHBOURS = 5


def _gp(seed: int):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(length_scale=10.0, nu=2.5,
                                                        length_scale_bounds=(1e-1, 1e4))
              + WhiteKernel(0.1, (1e-6, 1e1)))
    return GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)


def _typical_distance(inputs: np.ndarray) -> float:
    """Median distance between a point and its nearest other point (knn's unit of far)."""
    from sklearn.neighbors import NearestNeighbors

    if len(inputs) < 2:
        return 1.0
    distance, _ = NearestNeighbors(n_neighbors=2).fit(inputs).kneighbors(inputs)
    return max(float(np.median(distance[:, 1])), 1e-9)


def acquisition(mean: np.ndarray, std: np.ndarray, best: float, kind: str = "ei",
                kappa: float = 2.0) -> np.ndarray:
    """Scores to maximise: expected improvement over ``best``, an upper bound, or the mean."""
    if kind == "mean":
        return mean
    if kind == "ucb":
        return mean + kappa * std
    from scipy.stats import norm

    z = (mean - best) / std
    return (mean - best) * norm.cdf(z) + std * norm.pdf(z)
