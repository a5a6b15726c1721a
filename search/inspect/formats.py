"""What the readers of a run share: one-line errors, number formats, status counts, ties."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from search.errors import UserError
from search.rows import Candidate

SHOWN_ORDER = ("ok", "diverged", "invalid", "error", "timeout", "missing")

# Keys under which an evaluator may report learned beta values in Result.info.
BETA_KEYS = ("beta", "learned_beta", "betas")


class ReportError(UserError, ValueError):
    """A report that cannot be made as asked (one line)."""

SCALED_FROM = 1e9  # rewards this large: shown as 1e+308, drawn divided by a power of ten


def fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if math.isfinite(value) and abs(value) >= SCALED_FROM:  # 1e308 in 5 characters, not 309
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}" if math.isfinite(value) else repr(value)


BETA_DIGITS = 3  # significant digits of a learned parameter, everywhere it is printed


def beta_fmt(value: float) -> str:
    """A learned β (or α) to ``BETA_DIGITS`` significant digits, trailing zeros kept so
    values line up: ``1.00``, ``0.829``, ``1.20``, ``12.0``, ``123``, ``1.23e+03``."""
    if not math.isfinite(value):
        return repr(value)
    text = f"{value:#.{BETA_DIGITS}g}"
    return text[:-1] if text.endswith(".") else text


def reward_scale(values: Iterable[float | None]) -> float:
    """1, or the power of ten a figure divides rewards by when they reach ``SCALED_FROM``
    (a replay table may hold 1e308): near the float limit matplotlib's axis limits and
    ticks overflow, and a histogram's bins vanish in the spacing between floats."""
    big = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    return 1.0 if big < SCALED_FROM else 10.0 ** math.floor(math.log10(big))


def scaled_label(label: str, scale: float) -> str:
    """An axis label that says the factor its values were divided by."""
    return label if scale == 1.0 else f"{label} (× {scale:.0e})"


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


TIE_NOTE = ("A rank with = has exactly the same reward as another row: a tie (the earlier "
            "function is listed first).")


def tied_with(ranked: Sequence[Candidate]) -> dict[int, list[int]]:
    """Each candidate's id -> the ids of the others in ``ranked`` it ties with (in
    ``ranked``'s order; one pass, so a whole run's ranking is cheap)."""
    keys = {c.id: tie_key(c) for c in ranked}
    groups: dict[tuple, list[int]] = {}
    for c in ranked:
        if keys[c.id] is not None:
            groups.setdefault(keys[c.id], []).append(c.id)
    return {c.id: [other for other in groups.get(keys[c.id], []) if other != c.id]
            for c in ranked}


def rank_label(rank: int, tied: bool) -> str:
    """``5`` or, tied with another row, ``5=`` (as `top` and the report print it)."""
    return f"{rank}=" if tied else str(rank)
