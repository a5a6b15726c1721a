"""Read a finished (or running) search: the top table, one candidate, its exported module.

Everything here opens the store read-only; it is safe while a search writes.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from search.errors import UserError
from search.rows import Candidate
from search.store import Store
from space import parse

# Keys under which an evaluator may report learned beta values in Result.info.
BETA_KEYS = ("beta", "learned_beta", "betas")


class ReportError(UserError, ValueError):
    """A report that cannot be made as asked (one line)."""


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if math.isfinite(value) else repr(value)


def diverged_at(store: Store, candidate: Candidate) -> int | None:
    """The earliest step at which one of the candidate's trainings diverged, if any."""
    steps = [e.step for e in store.evaluations(candidate.id)
             if e.status == "diverged" and e.step is not None]
    return min(steps) if steps else None


def top_rows(store: Store, k: int) -> list[dict[str, Any]]:
    """The ``k`` best candidates as plain rows (rank, id, function, reward, status, ...)."""
    return [{"rank": rank, "id": c.id, "function": c.text, "canonical": c.canonical,
             "reward": c.reward, "status": c.status, "rung": c.rung, "seconds": c.seconds,
             "proposals": c.proposals,
             "diverged_at": diverged_at(store, c) if c.status == "diverged" else None}
            for rank, c in enumerate(store.top(k), start=1)]


def top_table(store: Store, k: int) -> str:
    """A markdown table of the ``k`` best candidates with a one-line summary above it."""
    rows = top_rows(store, k)
    counts = store.counts()
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    rungs = store.rung_members(1) != []  # successive halving: show how far each function got
    lines = [f"{store.count_finished()} functions finished ({summary or 'no evaluations'})", "",
             "| rank | id | function | reward | status | " + ("rung | " if rungs else "")
             + "seconds | proposed |",
             "|---:|---:|---|---:|---|" + ("---:|" if rungs else "") + "---:|---:|"]
    for row in rows:
        rung = f"{row['rung']} | " if rungs else ""
        status = row["status"]
        if row["diverged_at"] is not None:
            status += f" (step {row['diverged_at']})"
        lines.append(f"| {row['rank']} | {row['id']} | `{row['function']}` | "
                     f"{_fmt(row['reward'])} | {status} | {rung}"
                     f"{_fmt(row['seconds'], 1)} | {row['proposals']} |")
    return "\n".join(lines)


def top_json(store: Store, k: int) -> str:
    """The top rows as JSON (non-finite floats as strings "nan"/"inf")."""
    def safe(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        return value
    rows = [{key: safe(value) for key, value in row.items()} for row in top_rows(store, k)]
    return json.dumps(rows, indent=2, allow_nan=False)


MAX_ID = 2**63 - 1  # SQLite's largest rowid: an id with more digits is no candidate's


def find_candidate(store: Store, ref: str) -> Candidate:
    """A candidate by id (ASCII digits only: "²" or "٣" are not ids) or by expression (any
    spelling of the same function)."""
    digits = ref.strip()
    if re.fullmatch(r"[0-9]+", digits):
        too_long = len(digits.lstrip("0")) > len(str(MAX_ID))
        candidate = None if too_long or int(digits) > MAX_ID else store.candidate(int(digits))
        ref = ref if len(ref) <= 30 else f"{digits[:20]}... ({len(digits)} digits)"
        if candidate is None:
            raise ReportError(f"no candidate with id {ref} in {store.run_dir}; "
                              f"see `actsearch top {store.run_dir}`")
        return candidate
    expr = parse(ref)  # ParseError: one line with the column
    candidate = store.find(expr.canonical, expr.fingerprint)
    if candidate is None:
        raise ReportError(f"{ref!r} was not evaluated in {store.run_dir}; try "
                          f"`actsearch eval {ref!r}` to train it once")
    return candidate


def by_rank(store: Store, rank: int) -> Candidate:
    if rank < 1:
        raise ReportError(f"--rank must be >= 1, got {rank}")
    rows = store.top(rank)
    if len(rows) < rank:
        raise ReportError(f"--rank {rank}: the run has only {len(rows)} ranked functions")
    return rows[rank - 1]


def show_text(store: Store, candidate: Candidate) -> str:
    """Everything recorded about one candidate, each evaluation with its error text."""
    expr = parse(candidate.text)
    lines = [f"id:          {candidate.id}",
             f"function:    {candidate.text}",
             f"canonical:   {candidate.canonical}",
             f"latex:       {expr.latex()}",
             f"fingerprint: {candidate.fingerprint}",
             f"tokens:      {list(candidate.tokens)}",
             f"status:      {candidate.status}",
             f"reward:      {_fmt(candidate.reward)}",
             f"seconds:     {_fmt(candidate.seconds, 1)}",
             f"proposed:    {candidate.proposals} time(s)"]
    if candidate.note:
        lines.append(f"note:        {candidate.note}")
    for e in store.evaluations(candidate.id):
        lines.append(f"evaluation {e.id}: rung {e.rung}, seed {e.seed}, {e.fidelity}, "
                     f"status {e.status}, "
                     f"reward {_fmt(e.reward)}, val accuracy {_fmt(e.val_accuracy)}, "
                     f"{_fmt(e.seconds, 1)} s on {e.worker or '-'}, attempts {e.attempts}")
        if e.error:
            lines.append(f"  error: {e.error}")
        for reason in e.retries:
            lines.append(f"  retried: {reason}")
    return "\n".join(lines)


def learned_beta(store: Store, candidate: Candidate) -> Any:
    """Learned beta values the evaluator reported for this candidate, or None."""
    for evaluation in store.evaluations(candidate.id):
        for key in BETA_KEYS:
            if key in evaluation.info:
                return evaluation.info[key]
    return None


def export_file(store: Store, candidate: Candidate, path: str | Path,
                beta_init: float = 1.0) -> str:
    """Write the standalone module file; returns a one-line note about beta values."""
    from space import export_source  # torch: only this command needs it

    expr = parse(candidate.text)
    source = export_source(expr, init=beta_init)
    beta = learned_beta(store, candidate) if expr.uses_beta else None
    if beta is not None:
        source += ("\n# Learned beta values reported by the evaluator for this run's child "
                   "(per activation site, per channel):\n"
                   f"LEARNED_BETA = {json.dumps(beta)}\n")
        note = "learned beta values appended as LEARNED_BETA"
    elif expr.uses_beta:
        note = (f"the run kept no learned beta values (the evaluator does not report them); "
                f"beta starts at {beta_init:g}")
    else:
        note = "the function has no beta"
    Path(path).write_text(source)
    return note
