"""What the store answers without writing: candidates, evaluations, counts, rungs and the
surrogate's predictions. ``StoreQueries`` is the read half of ``search.store.Store``; every
query turns an SQLite error or an undecodable row into one ``StoreError`` line."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from search.rows import (
    UNFINISHED,
    Candidate,
    DamagedRow,
    Evaluation,
    Prediction,
    by_status,
    config_object,
    run_row,
    stored_number,
)
from search.store_files import damaged

# Worst first: a candidate with several seeds takes the worst status among them.
STATUS_ORDER = ("error", "timeout", "diverged", "invalid", "missing")

_Method = TypeVar("_Method", bound=Callable[..., Any])


def reads(method: _Method) -> _Method:
    """A query of the store: an SQLite error or an undecodable row is one line (damaged)."""
    @functools.wraps(method)
    def reading(self: StoreQueries, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.DatabaseError, DamagedRow) as error:
            raise damaged(self.path, error) from None
    return reading  # type: ignore[return-value]


class StoreQueries:
    """The read-only queries of a store; ``Store`` opens the database and adds the writes."""

    db: sqlite3.Connection
    path: Path

    @reads
    def first_run(self) -> sqlite3.Row | None:
        """The first invocation's row (its columns checked): its config is the run's."""
        row = self.db.execute("SELECT * FROM runs ORDER BY id LIMIT 1").fetchone()
        return None if row is None else run_row(row)

    @reads
    def runs(self) -> list[sqlite3.Row]:
        """Every invocation's row (a first run, then each resume), columns checked."""
        return [run_row(row) for row in self.db.execute("SELECT * FROM runs ORDER BY id")]

    @reads
    def config(self) -> dict[str, Any] | None:
        """The run's resolved config as plain data (the first invocation's), or None."""
        row = self.first_run()
        return None if row is None else config_object(row)

    @reads
    def find(self, canonical: str, fingerprint: str | None = None) -> Candidate | None:
        """The stored candidate with this canonical form, else (if given) this fingerprint."""
        row = self.db.execute("SELECT * FROM candidates WHERE canonical=?", (canonical,)).fetchone()
        if row is None and fingerprint is not None:
            row = self.db.execute("SELECT * FROM candidates WHERE fingerprint=? ORDER BY id "
                                  "LIMIT 1", (fingerprint,)).fetchone()
        return None if row is None else Candidate.from_row(row)

    @reads
    def candidate(self, candidate_id: int) -> Candidate | None:
        row = self.db.execute("SELECT * FROM candidates WHERE id=?", (candidate_id,)).fetchone()
        return None if row is None else Candidate.from_row(row)

    @reads
    def candidates(self, status: str | None = None) -> list[Candidate]:
        """All candidates in the order they were met (optionally of one status)."""
        query, args = "SELECT * FROM candidates", ()
        if status is not None:
            query, args = query + " WHERE status=?", (status,)
        return [Candidate.from_row(r) for r in self.db.execute(query + " ORDER BY id", args)]

    @reads
    def top(self, k: int) -> list[Candidate]:
        """The ``k`` best finished candidates: trained without failure first, then the
        highest rung reached (successive halving), then reward (ties: the earlier first)."""
        rows = self.db.execute("SELECT * FROM candidates WHERE status != 'pending' "
                               "AND reward IS NOT NULL ORDER BY status = 'ok' DESC, rung DESC, "
                               "reward DESC, id LIMIT ?", (k,))
        return [Candidate.from_row(r) for r in rows]

    @reads
    def finished_in_order(self) -> list[Candidate]:
        """Finished candidates in the order their results arrived."""
        rows = self.db.execute("SELECT * FROM candidates WHERE status != 'pending' "
                               "ORDER BY finished, id")
        return [Candidate.from_row(r) for r in rows]

    @reads
    def evaluations(self, candidate_id: int | None = None,
                    status: str | None = None) -> list[Evaluation]:
        clauses, args = [], []
        if candidate_id is not None:
            clauses.append("candidate_id=?")
            args.append(candidate_id)
        if status is not None:
            clauses.append("status=?")
            args.append(status)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = self.db.execute(f"SELECT * FROM evaluations{where} ORDER BY id", args)
        return [Evaluation.from_row(r) for r in rows]

    @reads
    def count_trained(self, rung: int | None = None, running: bool = False) -> int:
        """Evaluations that took a child training (pre-screened ones excluded), at one rung
        or (None) at all; ``running``: those still out (or abandoned) count too."""
        query = ("SELECT COUNT(*) FROM evaluations WHERE IFNULL(worker, '') != 'prescreen'"
                 + ("" if running else " AND status NOT IN ('running', 'abandoned')"))
        args: tuple = ()
        if rung is not None:
            query, args = query + " AND rung=?", (rung,)
        return self.db.execute(query, args).fetchone()[0]

    @reads
    def rung_results(self, rung: int,
                     candidate_id: int | None = None) -> dict[int, tuple[str, float]]:
        """Candidates (all, or one) whose evaluations at ``rung`` all finished:
        id -> (worst status, mean reward over seeds)."""
        query, args = ("SELECT id, candidate_id, status, reward_text FROM evaluations "
                       "WHERE rung=?", (rung,))
        if candidate_id is not None:
            query, args = query + " AND candidate_id=?", (rung, candidate_id)
        rows = self.db.execute(query + " ORDER BY candidate_id", args).fetchall()
        grouped: dict[int, list[sqlite3.Row]] = {}
        for row in rows:
            grouped.setdefault(row["candidate_id"], []).append(row)
        results = {}
        for cid, group in grouped.items():
            statuses = [r["status"] for r in group]
            if any(s in UNFINISHED for s in statuses):
                continue
            rewards = [stored_number(r, "reward_text", "evaluations") for r in group]
            status = next((s for s in STATUS_ORDER if s in statuses), "ok")
            results[cid] = (status, sum(rewards) / len(rewards))
        return results

    @reads
    def rung_members(self, rung: int) -> list[int]:
        """Candidates trained (or training) at ``rung``, in the order they were created;
        pre-screened candidates are not among them."""
        rows = self.db.execute("SELECT DISTINCT candidate_id FROM evaluations WHERE rung=? "
                               "AND IFNULL(worker, '') != 'prescreen' ORDER BY candidate_id",
                               (rung,))
        return [r[0] for r in rows]

    @reads
    def count_finished(self) -> int:
        """Candidates with every seed finished."""
        return self.db.execute("SELECT COUNT(*) FROM candidates "
                               "WHERE status != 'pending'").fetchone()[0]

    @reads
    def counts(self) -> dict[str, int]:
        """Evaluations by status (``running`` included)."""
        rows = self.db.execute("SELECT status, COUNT(*), MIN(id) AS id FROM evaluations "
                               "GROUP BY status")
        return by_status(rows, "evaluations")

    @reads
    def training_counts(self) -> dict[str, int]:
        """Child trainings (pre-screened evaluations excluded) by status."""
        rows = self.db.execute("SELECT status, COUNT(*), MIN(id) AS id FROM evaluations WHERE "
                               "IFNULL(worker, '') != 'prescreen' GROUP BY status")
        return by_status(rows, "evaluations")

    @reads
    def function_counts(self) -> dict[str, int]:
        """Candidates (distinct functions) by status; ``pending``: not all seeds finished."""
        rows = self.db.execute("SELECT status, COUNT(*), MIN(id) AS id FROM candidates "
                               "GROUP BY status")
        return by_status(rows, "candidates")

    def count_duplicates(self) -> int:
        """Proposals answered from the store: every proposal of a function after its first."""
        return self.db.execute("SELECT IFNULL(SUM(proposals - 1), 0) "
                               "FROM candidates").fetchone()[0]

    def _has_predictions(self) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' "
                               "AND name='predictions'").fetchone() is not None

    @reads
    def predicted_untrained(self, k: int | None = None) -> tuple[int, list[Prediction]]:
        """(how many, the ``k`` best) functions the filter passed over and no one trained,
        by predicted reward."""
        if not self._has_predictions():
            return 0, []
        where = ("FROM predictions p WHERE trained=0 AND NOT EXISTS (SELECT 1 FROM "
                 "candidates c WHERE c.fingerprint=p.key OR c.canonical=p.key)")
        count = self.db.execute(f"SELECT COUNT(*) {where}").fetchone()[0]
        rows = self.db.execute(f"SELECT * {where} ORDER BY mean DESC, id LIMIT ?",
                               (-1 if k is None else k,))
        return count, [Prediction.from_row(r) for r in rows]

    @reads
    def prediction(self, fingerprint: str, canonical: str) -> Prediction | None:
        """What the surrogate expected of one function (the trained proposal's, if any),
        recorded under either key (``dedup`` picks which)."""
        if not self._has_predictions():
            return None
        row = self.db.execute("SELECT * FROM predictions WHERE key IN (?, ?) ORDER BY "
                              "trained DESC LIMIT 1", (fingerprint, canonical)).fetchone()
        return None if row is None else Prediction.from_row(row)

    @reads
    def prediction_pairs(self) -> list[tuple[str, float, float]]:
        """(text, predicted, measured) for every trained proposal the surrogate predicted
        and that finished ok: how well the surrogate did in this run."""
        if not self._has_predictions():
            return []
        rows = self.db.execute(
            "SELECT p.*, c.id AS candidate, c.reward_text FROM predictions p JOIN candidates "
            "c ON c.fingerprint=p.key OR c.canonical=p.key WHERE p.trained=1 AND "
            "c.status='ok' ORDER BY c.id")
        pairs = []
        for row in rows:
            prediction = Prediction.from_row(row)
            measured = stored_number({"id": row["candidate"], "reward_text": row["reward_text"]},
                                     "reward_text", "candidates")
            pairs.append((prediction.text, prediction.mean, measured))
        return pairs
