"""The few statistics a ranking needs: mean, spread, a 95% interval, a sign test.

The Student t quantile and the binomial tail are ``scipy.stats``'; this module
only says which interval and which test a ranking reports.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.stats import t

    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return float(t.ppf(0.975, df))


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and the 95% t interval of the mean."""

    n: int
    mean: float
    std: float  # sample (n - 1); 0 for one value
    low: float  # 95% interval of the mean; the mean itself when n == 1 (unknown spread)
    high: float

    def overlaps(self, other: Summary) -> bool:
        return self.low <= other.high and other.low <= self.high


def summarize(values: Sequence[float]) -> Summary:
    """Summary of finite ``values`` (at least one)."""
    values = [float(v) for v in values]
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"need at least one finite value, got {values}")
    mean = statistics.fmean(values)
    if len(values) == 1:
        return Summary(1, mean, 0.0, mean, mean)
    std = statistics.stdev(values)
    half = t_quantile_975(len(values) - 1) * std / math.sqrt(len(values))
    return Summary(len(values), mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class SignTest:
    """Paired comparison of a function against a baseline over matched units (models)."""

    better: int
    equal: int
    worse: int
    p_value: float  # one-sided: P(at least `better` wins of better + worse | no difference)


def sign_test(ours: Sequence[float], theirs: Sequence[float], tolerance: float = 0.0) -> SignTest:
    """Exact one-sided sign test that ``ours`` beats ``theirs``; ties (within
    ``tolerance``) are dropped, as is conventional."""
    from scipy.stats import binom

    if len(ours) != len(theirs):
        raise ValueError(f"paired samples differ in length: {len(ours)} and {len(theirs)}")
    better = sum(1 for a, b in zip(ours, theirs, strict=True) if a - b > tolerance)
    worse = sum(1 for a, b in zip(ours, theirs, strict=True) if b - a > tolerance)
    equal = len(ours) - better - worse
    n = better + worse
    p = float(binom.sf(better - 1, n, 0.5)) if n else 1.0  # P(wins >= better)
    return SignTest(better, equal, worse, p)
