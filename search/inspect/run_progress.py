"""The report's progress section as data: the best reward so far in the order results
arrived, and random search's expected best-so-far over the functions the run scored
(exhaustive and random runs), with a note that says what the curve is."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from search.rows import Evaluation


class ScoredRun(Protocol):
    """What ``random_baseline`` reads of a run (``run_summary.Overview`` has it)."""

    config: dict[str, Any]  # the resolved config (JSON form)
    finished: int  # functions with a final status
    space_functions: int | None  # the space's distinct functions, small spaces


@dataclass(frozen=True)
class Progress:
    """The scored functions in the order their first-rung results arrived."""

    rewards: list[float]  # mean over seeds; may be non-finite
    seconds: list[float]  # when each arrived, seconds since the run started

    @property
    def best_so_far(self) -> list[float]:
        best, history = -math.inf, []
        for reward in self.rewards:
            if math.isfinite(reward):
                best = max(best, reward)
            history.append(best if math.isfinite(best) else math.nan)
        return history


def progress(results: dict[int, tuple[str, float]], evaluations: Sequence[Evaluation],
             started: float | None) -> Progress:
    """``results``: ``Store.rung_results(0)``, id -> (worst status, mean reward over seeds)."""
    arrived: dict[int, float] = {}
    for e in evaluations:
        if e.rung == 0 and e.candidate_id in results and e.finished is not None:
            arrived[e.candidate_id] = max(arrived.get(e.candidate_id, -math.inf), e.finished)
    order = sorted(arrived, key=lambda cid: (arrived[cid], cid))
    origin = started if started is not None else min(arrived.values(), default=0.0)
    return Progress([results[cid][1] for cid in order], [arrived[cid] - origin for cid in order])


def expected_best_of(values: Sequence[float], n_max: int | None = None) -> list[float]:
    """E[max of n values drawn without replacement] from ``values``, for n = 1..n_max.

    Exact order statistics: with the N values sorted, v_1 <= ... <= v_N, the
    largest of n draws is v_i or less with probability C(i, n) / C(N, n); these
    ratios follow one another as F_{n+1}(i) = F_n(i) (i - n) / (N - n).
    """
    import numpy as np

    v = np.sort(np.asarray(values, dtype=float))
    count = len(v)
    n_max = count if n_max is None else min(n_max, count)
    i = np.arange(count + 1, dtype=float)  # F_n(i) for i = 0..N
    cdf = i / count if count else i
    means = []
    for n in range(1, n_max + 1):
        if n > 1:
            cdf = cdf * np.clip(i - (n - 1), 0.0, None) / (count - (n - 1))
        means.append(float(np.dot(v, np.diff(cdf))))
    return means


@dataclass(frozen=True)
class RandomBaseline:
    """Random search's expected best-so-far, or why it is not drawn."""

    curve: list[float]  # empty when not computed
    note: str  # what the curve is, or why there is none


def random_baseline(view: ScoredRun, rewards: Sequence[float]) -> RandomBaseline:
    """Computed from the run's own rewards when they are the space (exhaustive) or a
    uniform sample of it (random); other strategies choose what they score."""
    strategy = view.config.get("strategy", {})
    name = strategy.get("name", "?")
    finite = [r for r in rewards if math.isfinite(r)]
    if name not in ("exhaustive", "random"):
        return RandomBaseline([], f"not drawn: a {name} search chooses which functions it "
                              "scores, so its rewards are not a sample of the space")
    if not finite:
        return RandomBaseline([], "not drawn: no function scored yet")
    what = (f"expected best of n functions drawn uniformly without replacement from the "
            f"{len(finite)} this run scored (exact order statistics)")
    space_functions = view.space_functions
    if name == "random":
        where = ("; this run's functions are themselves a random sample, so the curve is "
                 "its expectation over orders of discovery")
    elif space_functions is not None and view.finished >= space_functions:
        where = ("; the run scored every function of the space, so this is exactly random "
                 "search's over its distinct functions (random search over token sequences "
                 "meets functions with many spellings sooner)")
    else:
        order = ("best predicted first (strategy.order: predicted)"
                 if strategy.get("order") == "predicted" else "the space's enumeration order")
        covered = (f"{view.finished:,} of the space's {space_functions:,} distinct functions"
                   if space_functions else f"{view.finished:,} functions of the space")
        where = (f"; the run has so far scored {covered}, in {order}, not a random sample: "
                 "indicative until the run has covered the space")
    return RandomBaseline(expected_best_of(finite), what + where)
