"""The declared range of every number in a config, and the check the loader makes.

Each config dataclass declares the range of each of its numeric fields in a
class-level table, in interval notation::

    RANGES: ClassVar[dict[str, str]] = {"lr": "(0, 100]", "steps": "[1, 10000000]"}

``[`` and ``]`` include the bound, ``(`` and ``)`` exclude it; ``(-inf, inf)``
means any finite number. A tuple field's range applies to each item; ``None``
(where the type allows it) is always accepted. NaN is in no range, and a float
field without a declared range must still be finite. ``search.config`` checks
every value it reads against these tables before it builds the dataclass, so
the message names the key's full path::

    task.lr: must be in (0, 100], got inf
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

_SPEC = re.compile(r"\s*([\[(])\s*([^,\s]+)\s*,\s*([^\s\])]+)\s*([\])])\s*")
SHOWN = 40  # characters of an offending value quoted in a message
FINITE = "(-inf, inf)"  # any finite number


@cache
def interval(spec: str) -> tuple[float | int, float | int, bool, bool]:
    """(low, high, low included, high included) of ``"[a, b)"``-style text."""
    match = _SPEC.fullmatch(spec)
    if match is None:
        raise ValueError(f"not an interval: {spec!r}")
    opening, low, high, closing = match.groups()
    return _bound(low), _bound(high), opening == "[", closing == "]"


def _bound(text: str) -> float | int:
    """Integers stay exact (2**63 - 1 as a float would round up past SQLite's limit)."""
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def contains(spec: str, value: float | int) -> bool:
    """Whether ``value`` lies in the interval ``spec`` (NaN never does)."""
    low, high, low_in, high_in = interval(spec)
    above = value >= low if low_in else value > low
    below = value <= high if high_in else value < high
    return bool(above and below)


def shown(value: Any) -> str:
    """``repr(value)``, shortened when it is long (a 5,000-digit integer)."""
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}... ({len(text)} characters)"


def problem(spec: str | None, value: Any) -> str | None:
    """Why ``value`` is out of range, or None; ``spec`` None: any finite number."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if spec is None or spec == FINITE:
        return None if math.isfinite(value) else f"must be a finite number, got {shown(value)}"
    if contains(spec, value):
        return None
    return f"must be in {spec}, got {shown(value)}"
