"""Rows of the results store, and how floats that may be NaN or inf are kept.

SQLite turns NaN into NULL, so every float that may be NaN or inf is stored
twice: a REAL column (NULL unless finite, for sorting) and a ``*_text`` column
holding ``repr(value)`` ("nan", "inf", ...), which is what is read back. Curves
and info are JSON in ``Result.to_dict``'s form (non-finite floats as the
strings "nan"/"inf"/"-inf"), decoded back to floats here.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from typing import Any

# -- non-finite floats ----------------------------------------------------------------


def real(value: float | None) -> float | None:
    """The REAL column value: the float when finite, else NULL."""
    return value if value is not None and math.isfinite(value) else None


def text(value: float | None) -> str | None:
    """The exact text column value: ``repr`` keeps nan and inf."""
    return None if value is None else repr(float(value))


def from_text(value: str | None) -> float | None:
    return None if value is None else float(value)  # float("nan"), float("inf") parse


# -- rows ----------------------------------------------------------------------------


class DamagedRow(ValueError):
    """A stored row that cannot be read back (edited by hand, or damaged)."""


def json_column(row: sqlite3.Row, column: str, table: str, default: str | None = None) -> Any:
    """The JSON of one column, or ``DamagedRow`` naming the row and column."""
    raw = row[column]
    if not raw and default is not None:
        raw = default
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:40] + "..."
        raise DamagedRow(f"{table} row {row['id']}: {column} holds {shown}, not JSON") from None


def _float(row: sqlite3.Row, column: str, table: str) -> float | None:
    try:
        return from_text(row[column])
    except (TypeError, ValueError):
        raise DamagedRow(f"{table} row {row['id']}: {column} holds {row[column]!r}, "
                         "not a number") from None


@dataclass(frozen=True)
class Candidate:
    """One function the search met, with its aggregate outcome."""

    id: int
    canonical: str
    text: str
    tokens: tuple[int, ...]
    fingerprint: str
    status: str  # pending until every seed finished, then the worst status over seeds
    reward: float | None
    seconds: float | None
    proposals: int  # how often the strategy proposed it (duplicates included)
    note: str  # the pre-screen's reason for invalid candidates
    rung: int = 0  # the highest rung whose evaluations all finished (successive halving)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Candidate:
        tokens = json_column(row, "tokens", "candidates")
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise DamagedRow(f"candidates row {row['id']}: tokens holds {row['tokens']!r:.40}, "
                             "not a list of integers")
        return cls(row["id"], row["canonical"], row["text"], tuple(tokens),
                   row["fingerprint"], row["status"], _float(row, "reward_text", "candidates"),
                   row["seconds"], row["proposals"], row["note"], row["rung"])


@dataclass(frozen=True)
class Evaluation:
    """One child training (candidate, fidelity, seed)."""

    id: int
    candidate_id: int
    fidelity: str
    steps: int | None
    seed: int
    status: str
    reward: float | None
    val_accuracy: float | None
    step: int | None
    curves: dict[str, list[Any]]
    info: dict[str, Any]
    seconds: float | None
    worker: str | None
    error: str | None
    attempts: int
    started: float
    finished: float | None
    rung: int = 0

    @property
    def retries(self) -> list[str]:
        """Why earlier attempts of this child ended (its worker died, ...), oldest first."""
        return list(self.info.get("retries", []))

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Evaluation:
        table = "evaluations"
        curves = json_column(row, "curves", table, "{}")
        info = json_column(row, "info", table, "{}")
        if not isinstance(curves, dict) or not isinstance(info, dict):
            raise DamagedRow(f"{table} row {row['id']}: curves and info must be JSON objects")
        return cls(row["id"], row["candidate_id"], row["fidelity"], row["steps"], row["seed"],
                   row["status"], _float(row, "reward_text", table),
                   _float(row, "val_accuracy_text", table), row["step"],
                   _decode(curves), _decode(info),
                   row["seconds"], row["worker"], row["error"], row["attempts"],
                   row["started"], row["finished"], row["rung"])


_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _decode(value: Any) -> Any:
    """JSON from ``Result.to_dict`` back to floats: "nan"/"inf"/"-inf" strings become floats."""
    if isinstance(value, str):
        return _NONFINITE.get(value, value)
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def to_float(value: Any) -> float | None:
    """A float from a Result field (which may carry "nan"/"inf" strings)."""
    if value is None:
        return None
    return float(value)


@dataclass(frozen=True)
class Prediction:
    """What the reward surrogate expected of a function when it was proposed."""

    key: str  # the function's fingerprint (canonical text with dedup: canonical)
    text: str
    mean: float
    std: float | None
    trained: bool  # False: the surrogate filter passed it over

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Prediction:
        return cls(key=row["key"], text=row["text"], mean=float(row["mean"]),
                   std=None if row["std"] is None else float(row["std"]),
                   trained=bool(row["trained"]))
