"""What the readers of a run share: one-line errors, number formats, status counts, ties."""

from __future__ import annotations

import math

from search.errors import UserError
from search.rows import Candidate

SHOWN_ORDER = ("ok", "diverged", "invalid", "error", "timeout", "missing")

# Keys under which an evaluator may report learned beta values in Result.info.
BETA_KEYS = ("beta", "learned_beta", "betas")


class ReportError(UserError, ValueError):
    """A report that cannot be made as asked (one line)."""

def fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if math.isfinite(value) else repr(value)

def status_counts(counts: dict[str, int]) -> str:
    """``74 ok, 8 diverged, 10 invalid``: nonzero counts in a fixed order."""
    known = [s for s in SHOWN_ORDER if counts.get(s)]
    other = sorted(s for s in counts if s not in SHOWN_ORDER and counts[s])
    return ", ".join(f"{counts[s]} {s}" for s in known + other)

def tie_key(candidate: Candidate) -> tuple | None:
    """Candidates with equal keys are tied: ok, same rung, the same reward exactly."""
    if candidate.status != "ok" or candidate.reward is None or not math.isfinite(
            candidate.reward):
        return None
    return candidate.rung, candidate.reward
