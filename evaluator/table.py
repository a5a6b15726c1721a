"""Table tasks: replay recorded rewards from a CSV file instead of training.

A table is a CSV file with a header row; one column holds expressions (our
grammar, read with ``space.parse``: nothing in the file is evaluated as
Python), one the reward, and optionally one the cost in seconds::

    expression,reward,seconds
    x * sigmoid(beta * x),0.9231,412.5
    relu(x),0.9170,398.1

Rows are matched to a candidate by function, not spelling: by ``fingerprint``
(outputs on fixed points, so ``x*sigmoid(x)`` finds ``sigmoid(x)*x``) or by
``canonical`` text. A candidate the table lacks is ``missing`` (reported with
the task's ``missing_reward``, never guessed); a NaN or infinite reward in the
table is ``diverged``. Benchmarks of search strategies replay such tables in
milliseconds per candidate.

A table that cannot be used (missing file or column, a row that does not
parse, two rows of one function with different rewards) is a ``TableError``
(a ``ValueError``) naming ``file:line``: a setup problem, raised, not scored.
The file is read by ``space.files.read_text`` (a regular UTF-8 file of at most
``MAX_BYTES``, a byte-order mark dropped; a FIFO or a device is refused unread).
Numbers are read with the expression grammar's ASCII rule, plus ``nan`` and
``inf``: ``0_5``, ``٠.٥`` or ``０.９`` are not numbers (Python's ``float`` would
read them).
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from evaluator.config import strict_from_dict
from evaluator.result import Result
from space import Expression, parse
from space.files import FileError, read_text
from space.parser import NUMBER

MATCHES = ("fingerprint", "canonical")
MAX_BYTES = 256_000_000  # a table file: millions of rows; a larger one is refused unread
_SHOWN = 60  # characters of a bad cell quoted in an error
_CELL = re.compile(rf"[+-]?(?:{NUMBER}|nan|inf|infinity)", re.IGNORECASE | re.ASCII)


class TableError(ValueError):
    """A reward table that cannot be used; the message is one line naming file:line."""


@dataclass(frozen=True, kw_only=True)
class TableTask:
    """Rewards looked up in a CSV table (see the module docstring)."""

    name: str = "table"
    path: str = ""  # the CSV file (required; relative: from the worker's working directory)
    expression: str = "expression"  # column of expressions
    reward: str = "reward"  # column of rewards
    cost: str | None = None  # optional column of seconds: Result.seconds and info["cost"]
    maximize: bool = True  # False: reward = -value (a table of losses)
    match: str = "fingerprint"  # "fingerprint" (same outputs) | "canonical" (same text)
    missing_reward: float = 0.0  # a function the table has no row for
    diverged_reward: float = 0.0  # a row whose reward is NaN or infinite
    error_reward: float = 0.0  # candidate text that does not parse
    invalid_reward: float = 0.0  # what a pre-screen before the table scores (the runner's)

    # The range of each number, read by the search's config loader (search.ranges).
    RANGES: ClassVar[dict[str, str]] = {
        "missing_reward": "(-inf, inf)", "diverged_reward": "(-inf, inf)",
        "error_reward": "(-inf, inf)", "invalid_reward": "(-inf, inf)"}

    def __post_init__(self) -> None:
        problems = []
        if self.name != "table":
            problems.append(f"name must be 'table', got {self.name!r}")
        if not isinstance(self.path, str) or not self.path:
            problems.append("path must name the CSV file")
        for key in ("expression", "reward"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                problems.append(f"{key} must name a column")
        if self.cost is not None and (not isinstance(self.cost, str) or not self.cost):
            problems.append("cost must name a column or be null")
        if self.match not in MATCHES:
            problems.append(f"match {self.match!r} is not one of {', '.join(MATCHES)}")
        if problems:
            raise ValueError("invalid TableTask: " + "; ".join(problems))

    def load(self) -> RewardTable:
        """The table (cached per process by path and modification time)."""
        return RewardTable.load(self.path, expression=self.expression, reward=self.reward,
                                cost=self.cost, match=self.match)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, the form that crosses to a worker."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableTask:
        """The inverse of ``to_dict``; unknown keys are a ``ValueError`` naming them."""
        return strict_from_dict(cls, data)


@dataclass(frozen=True)
class Entry:
    """One row of a table: the expression as written, its reward and cost, its line."""

    text: str
    reward: float
    cost: float | None
    line: int


class RewardTable:
    """Rows of a reward table keyed by function (fingerprint or canonical text)."""

    def __init__(self, path: str, entries: dict[str, Entry], match: str = "fingerprint") -> None:
        self.path, self.entries, self.match = path, entries, match

    @classmethod
    def load(cls, path: str | Path, expression: str = "expression", reward: str = "reward",
             cost: str | None = None, match: str = "fingerprint") -> RewardTable:
        """Read and check ``path``; cached per process by path, size and modification time."""
        if match not in MATCHES:
            raise TableError(f"match {match!r} is not one of {', '.join(MATCHES)}")
        try:
            stat = Path(path).stat()
        except OSError as error:
            raise TableError(f"{path}: cannot read the reward table "
                             f"({error.strerror or error})") from None
        return _load_cached(str(path), str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size,
                            expression, reward, cost, match)

    def __len__(self) -> int:
        return len(self.entries)

    def key(self, expr: Expression) -> str:
        return expr.fingerprint if self.match == "fingerprint" else expr.canonical

    def entry(self, expr: Expression | str) -> Entry | None:
        """The row for ``expr``'s function, or None (text is parsed; ParseError if bad)."""
        return self.entries.get(self.key(parse(expr) if isinstance(expr, str) else expr))

    def lookup(self, expr: Expression | str) -> tuple[float, float | None] | None:
        """(reward, cost or None) recorded for ``expr``'s function, or None if absent."""
        found = self.entry(expr)
        return None if found is None else (found.reward, found.cost)

    def best(self, maximize: bool = True) -> tuple[str, float]:
        """(expression text, reward) of the best finite reward (lowest if not ``maximize``)."""
        finite = [e for e in self.entries.values() if math.isfinite(e.reward)]
        if not finite:
            raise TableError(f"{self.path}: no row has a finite reward")
        sign = 1.0 if maximize else -1.0
        top = max(finite, key=lambda e: (sign * e.reward, -e.line))  # ties: the earliest row
        return top.text, top.reward


@lru_cache(maxsize=8)
def _load_cached(shown: str, path: str, mtime_ns: int, size: int, expression: str, reward: str,
                 cost: str | None, match: str) -> RewardTable:
    del mtime_ns, size  # part of the cache key only: an edited file is read again
    entries: dict[str, Entry] = {}
    try:
        text = read_text(path, MAX_BYTES, "the reward table")
    except FileError as error:
        raise TableError(str(error).replace(path, shown, 1)) from None
    try:
        with io.StringIO(text, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise TableError(f"{shown}: empty file; expected a header row naming the columns")
            header = [h.strip() for h in header]
            wanted = [c for c in (expression, reward, cost) if c is not None]
            absent = [c for c in wanted if c not in header]
            if absent:
                raise TableError(f"{shown}:1: no column {', '.join(map(repr, absent))} "
                                 f"(columns: {', '.join(header)})")
            where = {c: header.index(c) for c in wanted}
            for row in reader:
                if not row or not any(cell.strip() for cell in row):
                    continue  # blank line
                found, expr = _entry(row, where, expression, reward, cost, shown,
                                     reader.line_num)
                key = expr.fingerprint if match == "fingerprint" else expr.canonical
                other = entries.get(key)
                if other is None:
                    entries[key] = found
                elif not _same(other.reward, found.reward):
                    raise TableError(
                        f"{shown}: lines {other.line} and {found.line} are the same function "
                        f"({other.text!r}, {found.text!r}) with different rewards "
                        f"({other.reward:g} and {found.reward:g})")
    except csv.Error as error:
        raise TableError(f"{shown}: cannot read the reward table ({error})") from None
    if not entries:
        raise TableError(f"{shown}: the table has a header but no rows")
    return RewardTable(shown, entries, match)


def _entry(row: list[str], where: dict[str, int], expression: str, reward: str,
           cost: str | None, shown: str, line: int) -> tuple[Entry, Expression]:
    """One row checked: the expression parses, the reward (and cost) are numbers."""
    at = f"{shown}:{line}"
    if len(row) <= max(where.values()):
        raise TableError(f"{at}: {len(row)} cells, the header has more columns")
    text = row[where[expression]].strip()
    try:
        expr = parse(text)
    except ValueError as error:
        raise TableError(f"{at}: expression {_quote(text)} does not parse ({error})") from None
    value = _number(row[where[reward]], at, f"reward column {reward!r}")
    seconds = None
    if cost is not None and row[where[cost]].strip():
        seconds = _number(row[where[cost]], at, f"cost column {cost!r}")
        if not math.isfinite(seconds) or seconds < 0:
            raise TableError(f"{at}: cost {seconds} must be a finite number of seconds >= 0")
    return Entry(text, value, seconds, line), expr


def _number(cell: str, at: str, what: str) -> float:
    """A cell read with the grammar's ASCII number rule (and nan, inf): Python's float()
    alone would read ``0_5`` as 5 and Arabic or full-width digits as numbers."""
    if not _CELL.fullmatch(cell.strip()):
        raise TableError(f"{at}: {what} holds {_quote(cell)}, not a number (digits 0-9, "
                         "e.g. 0.91, -1.5e-3, nan or inf)")
    return float(cell)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _quote(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


# -- replaying a table -----------------------------------------------------------------


def run_table_task(expr_text: str, task: TableTask, seed: int = 0) -> Result:
    """The recorded reward of ``expr_text``'s function; raises only if the table is unusable."""
    start = time.perf_counter()
    table = task.load()

    def finish(status: str, reward: float, seconds: float | None = None, **kw: Any) -> Result:
        took = time.perf_counter() - start if seconds is None else seconds
        return Result(status=status, reward=float(reward), seconds=took, expr=expr_text,
                      seed=seed, **kw)

    try:
        expr = parse(expr_text)
    except ValueError as e:
        return finish("error", task.error_reward, error=f"cannot parse {expr_text!r}: {e}")
    entry = table.entry(expr)
    if entry is None:
        return finish("missing", task.missing_reward, error=f"not in table {task.path}",
                      info={"table": task.path})
    info = {"table": task.path, "line": entry.line, "matched": entry.text, "cost": entry.cost}
    if not math.isfinite(entry.reward):
        return finish("diverged", task.diverged_reward, entry.cost, info=info,
                      error=f"reward {entry.reward} recorded in {task.path}:{entry.line}")
    sign = 1.0 if task.maximize else -1.0
    return finish("ok", sign * entry.reward, entry.cost, val_accuracy=entry.reward, info=info)
