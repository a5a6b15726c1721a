"""The few statistics a ranking needs: mean, spread, a 95% interval, a sign test.

Plain Python (no scipy): the Student t quantiles come from a table for small
samples and the Cornish-Fisher expansion beyond it; the sign test is the
exact binomial tail.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# Two-sided 95% quantiles t_{0.975, df} for df = 1..30.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z975 = 1.959964


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


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
    if len(ours) != len(theirs):
        raise ValueError(f"paired samples differ in length: {len(ours)} and {len(theirs)}")
    better = sum(1 for a, b in zip(ours, theirs, strict=True) if a - b > tolerance)
    worse = sum(1 for a, b in zip(ours, theirs, strict=True) if b - a > tolerance)
    equal = len(ours) - better - worse
    n = better + worse
    p = sum(math.comb(n, k) for k in range(better, n + 1)) / 2**n if n else 1.0
    return SignTest(better, equal, worse, p)
