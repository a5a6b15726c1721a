"""Exhaustive enumeration with de-duplication, in the grammar's resumable order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from space.expression import Expression
from space.grammar import SearchSpace


@dataclass
class EnumerationStats:
    """Counts from one pass over a space."""

    raw: int = 0
    canonical: int = 0
    fingerprints: int = 0
    seconds: float = 0.0


def unique_functions(space: SearchSpace, start: int = 0, by: str = "fingerprint",
                     ) -> Iterator[tuple[int, tuple[int, ...], Expression]]:
    """First occurrence of each function from ``start`` on: (position, tokens, expression).

    ``by`` is ``"canonical"`` (exact spelling after normalisation) or
    ``"fingerprint"`` (same outputs at the sample points). To resume at
    ``start`` the positions before it are replayed to rebuild what was seen,
    so a resumed pass yields exactly what the uninterrupted one would.
    """
    if by not in ("canonical", "fingerprint"):
        raise ValueError(f"by must be 'canonical' or 'fingerprint', got {by!r}")
    seen: set[str] = set()
    for position, tokens in space.enumerate(0):
        expression = space.decode(tokens)
        key = expression.canonical if by == "canonical" else expression.fingerprint
        if key in seen:
            continue
        seen.add(key)
        if position >= start:
            yield position, tokens, expression


def count(space: SearchSpace) -> EnumerationStats:
    """Raw, canonical and fingerprint counts of a whole space, with the time taken."""
    began = time.perf_counter()
    canonical: set[str] = set()
    fingerprints: set[str] = set()
    stats = EnumerationStats()
    fingerprint_of: dict[str, str] = {}
    for _, tokens in space.enumerate():
        stats.raw += 1
        expression = space.decode(tokens)
        key = expression.canonical
        if key not in canonical:
            canonical.add(key)
            fingerprint_of[key] = expression.fingerprint
            fingerprints.add(fingerprint_of[key])
    stats.canonical = len(canonical)
    stats.fingerprints = len(fingerprints)
    stats.seconds = time.perf_counter() - began
    return stats
