"""Rows of the results store, and how floats that may be NaN or inf are kept.

SQLite turns NaN into NULL, so every float that may be NaN or inf is stored
twice: a REAL column (NULL unless finite, for sorting) and a ``*_text`` column
holding ``repr(value)`` ("nan", "inf", ...), which is what is read back. Curves
and info are JSON in ``Result.to_dict``'s form (non-finite floats as the
strings "nan"/"inf"/"-inf"), decoded back to floats here.

Every column is checked as it is read: SQLite keeps whatever a hand (or
another program) writes, of any type (``seconds = 'abc'``, ``started = 9e999``,
a finished row's reward NULL, a config section that is a number), and each
reader of a run would otherwise fail on it in its own way. A value that is not
what this code writes is a ``DamagedRow`` naming the table, the row and the
column; the store turns it into one line (``search.store.damaged``).
"""

from __future__ import annotations

import json
import math
import re
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


# -- checked columns -------------------------------------------------------------------

FINAL = ("ok", "diverged", "invalid", "error", "timeout", "missing")
UNFINISHED = ("running", "abandoned")  # abandoned: cancelled when a search stopped; rerun
EPOCH_MAX = 32_503_680_000.0  # 3000-01-01 in seconds since 1970: later is no time of a run


class DamagedRow(ValueError):
    """A stored row that cannot be read back (edited by hand, or damaged)."""


def _bad(row: Any, column: str, table: str, expected: str) -> DamagedRow:
    shown = "NULL" if row[column] is None else repr(row[column])
    shown = shown if len(shown) <= 40 else shown[:40] + "..."
    return DamagedRow(f"{table} row {row['id']}: {column} holds {shown}, not {expected}")


def _whole(row: Any, column: str, table: str, optional: bool = False,
           low: int | None = None) -> int | None:
    value = row[column]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None
                                                                and value < low):
        raise _bad(row, column, table, "an integer" + ("" if low is None else f" >= {low}"))
    return value


def _string(row: Any, column: str, table: str, optional: bool = False,
            choices: tuple[str, ...] | None = None) -> str | None:
    value = row[column]
    if value is None and optional:
        return None
    if not isinstance(value, str) or (choices is not None and value not in choices):
        raise _bad(row, column, table, "a string" if choices is None else
                   f"one of {', '.join(choices)}")
    return value


def _finite(row: Any, column: str, table: str, optional: bool = False, low: float = 0.0,
            high: float = math.inf, what: str = "a finite number >= 0") -> float | None:
    """A REAL column: a finite number in [low, high] (NULL where ``optional``)."""
    value = row[column]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or not low <= value <= high:
        raise _bad(row, column, table, what)
    return float(value)


def _epoch(row: Any, column: str, table: str, optional: bool = False) -> float | None:
    return _finite(row, column, table, optional, 0.0, EPOCH_MAX,
                   "a time (seconds since 1970, before the year 3000)")


def _float(row: Any, column: str, table: str) -> float | None:
    """A ``*_text`` column: the repr of a float (nan and inf included), or NULL."""
    value = row[column]
    if value is None:
        return None
    if (isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip())) or \
            (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return float(value)
    raise _bad(row, column, table, "a number")


_FLOAT_TEXT = re.compile(r"[-+]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|nan|inf)",
                         re.ASCII)


def _sorted_by(row: Any, value: float | None, table: str) -> None:
    """The REAL ``reward`` column (what ``top`` sorts by) must agree with ``reward_text``
    (what is read): the same float where finite, NULL where not."""
    if row["reward"] != real(value):
        raise _bad(row, "reward", table, f"{real(value)!r} (its reward_text holds "
                                         f"{row['reward_text']!r})")


def stored_number(row: Any, column: str, table: str) -> float:
    """A ``*_text`` column that must hold a number (a finished evaluation's reward)."""
    value = _float(row, column, table)
    if value is None:
        raise _bad(row, column, table, "a number (the row is finished)")
    return value


def by_status(rows: Any, table: str) -> dict[str, int]:
    """``{status: count}`` from ``SELECT status, COUNT(*), MIN(id) AS id ... GROUP BY
    status``, each status checked (a BLOB or an unknown word names its first row)."""
    choices = ("pending", *FINAL) if table == "candidates" else (*FINAL, *UNFINISHED)
    return {_string(row, "status", table, choices=choices): row[1] for row in rows}


# -- rows ----------------------------------------------------------------------------


def json_column(row: sqlite3.Row, column: str, table: str, default: str | None = None) -> Any:
    """The JSON of one column, or ``DamagedRow`` naming the row and column."""
    raw = row[column]
    if not raw and default is not None:
        raw = default
    try:
        return json.loads(raw)
    except (TypeError, ValueError, RecursionError):  # RecursionError: [[[[... nested deep
        shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:40] + "..."
        raise DamagedRow(f"{table} row {row['id']}: {column} holds {shown}, not JSON") from None


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
        table = "candidates"
        tokens = json_column(row, "tokens", table)
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise DamagedRow(f"candidates row {row['id']}: tokens holds {row['tokens']!r:.40}, "
                             "not a list of integers")
        status = _string(row, "status", table, choices=("pending", *FINAL))
        reward = (_float if status == "pending" else stored_number)(row, "reward_text", table)
        _sorted_by(row, reward, table)
        return cls(_whole(row, "id", table), _string(row, "canonical", table),
                   _string(row, "text", table), tuple(tokens),
                   _string(row, "fingerprint", table), status, reward,
                   _finite(row, "seconds", table, optional=True),
                   _whole(row, "proposals", table, low=0), _string(row, "note", table),
                   _whole(row, "rung", table, low=0))


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
        status = _string(row, "status", table, choices=(*FINAL, *UNFINISHED))
        reward = (stored_number if status in FINAL else _float)(row, "reward_text", table)
        _sorted_by(row, reward, table)
        return cls(_whole(row, "id", table), _whole(row, "candidate_id", table),
                   _string(row, "fidelity", table), _whole(row, "steps", table, optional=True),
                   _whole(row, "seed", table), status, reward,
                   _float(row, "val_accuracy_text", table),
                   _whole(row, "step", table, optional=True), _decode(curves), _decode(info),
                   _finite(row, "seconds", table, optional=True),
                   _string(row, "worker", table, optional=True),
                   _string(row, "error", table, optional=True),
                   _whole(row, "attempts", table, low=0), _epoch(row, "started", table),
                   _epoch(row, "finished", table, optional=True), _whole(row, "rung", table, low=0))


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
        table = "predictions"
        return cls(key=_string(row, "key", table), text=_string(row, "text", table),
                   mean=_finite(row, "mean", table, low=-math.inf, what="a finite number"),
                   std=_finite(row, "std", table, optional=True),
                   trained=bool(_whole(row, "trained", table, low=0)))


# -- the runs table and its config ---------------------------------------------------------


def run_row(row: sqlite3.Row) -> sqlite3.Row:
    """A ``runs`` row with its columns checked (the config's shape by ``config_object``)."""
    table = "runs"
    _whole(row, "id", table)
    _epoch(row, "started", table)
    for column in ("code_version", "config_yaml"):
        _string(row, column, table)
    config_object(row)
    return row


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _wholes(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                           for v in value)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


_TEXT, _MAPPING = (lambda v: isinstance(v, str), "a string"), (lambda v: isinstance(v, dict),
                                                                 "a mapping")
_WHOLE, _NUMBER = (_is_whole, "an integer"), (_is_number, "a finite number")
_FLAG, _TEXTS = (lambda v: isinstance(v, bool), "true or false"), (_texts, "a list of strings")
# What the readers of a run (top, show, report, plot, export) take from its saved config:
# a key that is present must have this shape (None where the config allows null). Keys not
# named here are not read, and stores of other versions may lack any of these.
CONFIG_SHAPE: dict[str, tuple[tuple[Any, str], bool]] = {
    "name": (_TEXT, False), "kind": (_TEXT, False), "dedup": (_TEXT, False),
    "evaluate": (_TEXT, False), "seeds": ((_wholes, "a list of integers"), False),
    **{section: (_MAPPING, False) for section in
       ("space", "strategy", "task", "budget", "backend", "surrogate")},
    "halving": (_MAPPING, True), "space.units": (_WHOLE, False),
    "space.unary": (_TEXTS, True), "space.binary": (_TEXTS, True),
    "space.functions": (_TEXTS, True), "space.pool": (_TEXT, True),
    "strategy.name": (_TEXT, False), "strategy.seed": (_WHOLE, False),
    "strategy.skip_duplicates": (_FLAG, False), "task.name": (_TEXT, False),
    "task.beta_init": (_NUMBER, False), "task.maximize": (_FLAG, False),
    "task.reward": (_TEXT, False), "budget.max_evaluations": (_NUMBER, True),
    "budget.max_seconds": (_NUMBER, True), "backend.kind": (_TEXT, False),
    "backend.workers": (_WHOLE, False), "halving.rungs": ((_wholes, "a list of integers"),
                                                          False),
    "halving.eta": (_WHOLE, False),
}


def config_object(row: sqlite3.Row) -> dict[str, Any]:
    """The run's saved config (``config_json``): a JSON object whose keys have the shapes
    ``CONFIG_SHAPE`` names, or ``DamagedRow`` naming the key."""
    data = json_column(row, "config_json", "runs")
    if not isinstance(data, dict):
        raise DamagedRow(f"runs row {row['id']}: config_json is not a JSON object")
    for key, ((fits, expected), nullable) in CONFIG_SHAPE.items():
        section, _, name = key.rpartition(".")
        holder = data.get(section) if section else data
        if not isinstance(holder, dict) or name not in holder:
            continue
        value = holder[name]
        if not (value is None and nullable) and not fits(value):
            shown = json.dumps(value)[:40]
            raise DamagedRow(f"runs row {row['id']}: config_json's {key} holds {shown}, "
                             f"not {expected}")
    return data
