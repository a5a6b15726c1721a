"""The results store: one SQLite database per run directory, the search's memory.

Where its parts live: this module opens the database and holds every write
(``Store``); ``search.store_queries`` the read-only queries (``StoreQueries``, the
base class); ``search.store_schema`` the tables and migrations; ``search.store_files``
the run directory's files, how they are opened, and ``StoreError``;
``search.run_lock`` the writer's lock. Importers use ``search.store`` for all of it.

Who may write: only the runner of the run, in the driver process, through a
``Store`` opened with ``writer=True`` while it holds the run's ``RunLock`` (an
exclusive lock file, so a second ``actsearch run --resume`` on the same
directory is refused; ``search.launch`` takes it before it starts Ray). Workers
never touch the database; report commands open it read-only.

Damage: a store opened read-only is checked first (``PRAGMA quick_check``), and
every SQLite error while reading, or a row whose JSON does not decode, is one
``StoreError`` line naming the file and the way out (``sqlite3 search.db
".recover" | sqlite3 recovered.db``, or ``.dump`` where a sqlite3 build lacks
``.recover``); ``DAMAGED`` says what happened. Rows are checked column by column
as they are read (``search.rows``): a hand-edited value of the wrong type is one
line naming the table, row and column.

Files: ``search.db`` and SQLite's files beside it must be regular files; a
folder, a FIFO (opening one would block, SIGTERM included), a device or a
symbolic link to nothing is one line before anything is opened. Readers open
the store with ``mode=ro``; in a folder they cannot write (a read-only mount,
another user's run) also with ``immutable=1``, unless the store's latest
results sit in a ``-wal`` file without its ``-shm`` (SQLite cannot read those
there: one line says to copy the run).

Disk: a write the disk refuses (full, read-only, failing; at ``COMMIT`` in WAL
mode) is one ``StoreError`` line naming the store, what was being written and
the way out (free space, then ``actsearch run --resume``); every later write of
that store raises the same line, so a search stops with its cause and keeps
what it committed. A new store that could not be created is removed again (no
empty ``search.db`` is left to be called damaged).

Contract:

* Every write goes through ``transaction()``: ``BEGIN IMMEDIATE`` ... commit,
  or rollback and a ``StoreError`` naming what failed.
* WAL journal, ``synchronous=NORMAL``: a committed result survives the driver
  being killed (a power cut may lose the last transactions).
* ``schema_version`` lives in the ``meta`` table; a store of another version is
  refused with a clear line.
* A candidate is a canonical expression (unique). Its evaluations are one row
  per (candidate, fidelity, seed) (unique): created ``running`` when submitted,
  moved to a final status exactly once by ``record_result`` (a second finish of
  the same row is an error). A search that stops with children out (time limit,
  Ctrl-C, SIGTERM, an abort) marks their rows ``abandoned``; a resume moves them
  back to ``running`` and trains them again. Each evaluation belongs to a ``rung`` (0 unless
  successive halving promoted the candidate to a longer training). When the
  last evaluation of a rung finishes, the candidate takes that rung's status
  and reward (the mean over its seeds), in the same transaction, unless it
  already holds a higher rung.
* ``attempts`` counts submissions of an evaluation: a resume that reruns it
  and a retry after its worker process died (``search.backends``) each add
  one; the reason of each retry is kept in its ``info`` as ``"retries"``.
* ``predictions`` keeps what the reward surrogate expected of a function when
  it was proposed (``mean``, ``std``): ``trained`` 1 for a proposal sent to
  training, 0 for one the surrogate filter passed over (recorded, never
  dropped). ``key`` is the function's fingerprint (its canonical text with
  ``dedup: canonical``); the first prediction of a key and kind is kept. A
  passed-over function that was trained later is no longer "predicted, not
  trained". Stores written before the table existed gain it when resumed; read
  as they are, they have no predictions.
* ``checkpoints`` keeps the strategy's ``state_dict`` (the last ``KEEP_CHECKPOINTS``)
  as data that runs no code when read: ``search.checkpoint``'s tagged JSON, tensors
  and arrays as bytes. Old-format policy: a row an older actsearch wrote
  (``torch.save`` bytes) is converted with ``torch.load(weights_only=True)``; bytes
  that reader refuses (a crafted pickle) are never unpickled: one log line says the
  checkpoint is ignored and the search resumes from its recorded results (a fresh
  strategy, answered from the store, trains nothing twice). A new-format row that does
  not decode is damage. No schema version for this: the column is unchanged, every
  version-4 row stays readable, and an older actsearch calls a new row damaged (one
  line) rather than resuming it wrongly; a bump would also refuse older readers
  (``top``) on new stores.
* SQLite turns NaN into NULL, so every float that may be NaN or inf is stored
  twice: a REAL column (NULL unless finite, for sorting) and a ``*_text``
  column holding ``repr(value)`` ("nan", "inf", ...), which is what is read back.
  Curves and info are JSON with non-finite floats as the strings "nan"/"inf".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from search.rows import (
    UNFINISHED,  # the statuses are defined with the rows that hold them (search.rows)
    Candidate,
    DamagedRow,
    json_column,
    real,
    text,
    to_float,
)
from search.run_lock import RunLock
from search.store_files import (
    CONFIG_NAME,
    DB_NAME,
    LOCK_NAME,
    SIDE_FILES,
    StoreError,
    check_files,
    damaged,
    disk_trouble,
    reader_uri,
    remedy,
    remove_new_store,
)
from search.store_queries import STATUS_ORDER, StoreQueries, reads
from search.store_schema import MIGRATIONS, READABLE_VERSIONS, SCHEMA, SCHEMA_VERSION
from space.files import FileError, read_text

__all__ = ["CONFIG_NAME", "DB_NAME", "KEEP_CHECKPOINTS", "LOCK_NAME", "SCHEMA_VERSION",
           "SIDE_FILES", "UNFINISHED", "RunLock", "Store", "StoreError", "damaged"]

KEEP_CHECKPOINTS = 3

log = logging.getLogger(__name__)


class Store(StoreQueries):
    """The SQLite database of one run directory (see the module docstring)."""

    def __init__(self, run_dir: str | Path, writer: bool = False,
                 lock: RunLock | None = None) -> None:
        """``writer``: the run's writer, holding ``lock`` (taken here when not given)."""
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        self.writer = writer
        self._own_lock = None
        self._failed: StoreError | None = None  # a write the disk refused: nothing more tried
        self._cause: sqlite3.Error | None = None  # ... and SQLite's error
        exists = check_files(self.path)  # a folder, FIFO, device or dangling link: one line
        if not writer and not exists:
            raise StoreError(f"{self.run_dir}: no search here (no {DB_NAME}); "
                             "give the directory that 'actsearch run' printed")
        if writer and lock is None:
            lock = self._own_lock = RunLock(self.run_dir)
        created = writer and not exists
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None) if writer else \
                sqlite3.connect(reader_uri(self.path), uri=True, isolation_level=None)
        except sqlite3.DatabaseError as error:
            self.close()
            raise self._cannot_open(error, created) from None
        except BaseException:
            self.close()
            raise
        self.db.row_factory = sqlite3.Row
        try:
            if writer:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self.db.executescript(SCHEMA)  # idempotent: CREATE ... IF NOT EXISTS
                with self.transaction("create the schema"):
                    self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                    (str(SCHEMA_VERSION),))
                self._upgrade()
            self._check_version()
            if not writer:
                self.check()
        except sqlite3.DatabaseError as error:
            self.close()
            raise self._cannot_open(error, created) from None
        except StoreError:
            self.close()
            if self._cause is not None:  # the disk refused the schema or its upgrade
                raise self._cannot_open(self._cause, created) from None
            raise
        except BaseException:
            self.close()
            raise

    def _cannot_open(self, error: sqlite3.DatabaseError, created: bool) -> StoreError:
        """The one line for a store that could not be opened; a store this call was creating
        is removed again (a full disk leaves no empty search.db behind to be called damaged)."""
        if not self.writer or not disk_trouble(error):
            return damaged(self.path, error)
        why = " ".join(str(error).split())
        if created:
            remove_new_store(self.path)
            return StoreError(f"{self.path}: cannot create the store ({why}); "
                              f"{remedy(error, self.run_dir)} or choose another --out, then "
                              "run again")
        return StoreError(f"{self.path}: cannot write the store ({why}); "
                          f"{remedy(error, self.run_dir)}, then `actsearch run --resume "
                          f"{self.run_dir}`")

    def check(self) -> None:
        """``PRAGMA quick_check``: the store's pages and indexes are sound, or one line."""
        try:
            rows = [row[0] for row in self.db.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as error:
            raise damaged(self.path, error) from None
        if rows != ["ok"]:
            raise damaged(self.path, f"quick_check: {rows[0]}"
                          + (f" and {len(rows) - 1} more problems" if len(rows) > 1 else ""))

    def _upgrade(self) -> None:
        """Bring an older store to ``SCHEMA_VERSION``, one migration at a time, each in its
        own transaction (a store is never left between two versions)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row["value"]) if row is not None and row["value"].isdigit() else None
        while version is not None and version in MIGRATIONS and version < SCHEMA_VERSION:
            migrate = MIGRATIONS[version]
            with self.transaction(f"upgrade the store to schema version {version + 1}") as db:
                migrate(db)
                db.execute("UPDATE meta SET value=? WHERE key='schema_version'",
                           (str(version + 1),))
            version += 1

    def _check_version(self) -> None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as error:
            raise damaged(self.path, error) from None
        found = None if row is None else row["value"]
        version = int(found) if found is not None and found.isdigit() else None
        if version == SCHEMA_VERSION or (not self.writer and version in READABLE_VERSIONS):
            return
        if version is not None and version < SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema version {found} is older than this "
                             f"actsearch's {SCHEMA_VERSION}; `actsearch run --resume "
                             f"{self.run_dir}` upgrades it in place")
        raise StoreError(f"{self.path}: store schema version {found}, this actsearch reads "
                         f"{SCHEMA_VERSION}; use the actsearch version that wrote it")

    def close(self) -> None:
        """Close the database; a lock the store took itself is released (its file removed)."""
        if hasattr(self, "db"):
            self.db.close()
        if self._own_lock is not None:
            self._own_lock.release()
            self._own_lock = None

    def writer_alive(self) -> bool:
        """Whether a search is writing this run now: the lock file names a live process
        of this machine (a search killed with SIGKILL leaves the file with a dead pid)."""
        try:  # a regular file of a few bytes; a FIFO planted there is not read (it blocks)
            pid = int(read_text(self.run_dir / LOCK_NAME, 64, "the lock file").strip() or "0")
        except (FileError, ValueError):
            return False
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, another user's
            return True
        return True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, what: str = "write") -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; on any error roll back and raise StoreError."""
        if not self.writer:
            raise StoreError(f"{self.path}: opened read-only, cannot {what}")
        if self._failed is not None:  # the disk refused a write: the search is stopping
            raise self._failed
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise self._write_failed(what, error) from None
        try:
            yield self.db
        except BaseException as error:
            self._rollback()
            if isinstance(error, sqlite3.Error) and disk_trouble(error):
                raise self._write_failed(what, error) from None
            if isinstance(error, (sqlite3.Error, ValueError, TypeError)):
                raise StoreError(f"store: could not {what}: {error}") from error
            raise
        else:
            try:
                self.db.execute("COMMIT")  # where a full disk shows (WAL frames are written)
            except sqlite3.Error as error:
                self._rollback()
                raise self._write_failed(what, error) from None

    def _rollback(self) -> None:
        """Roll back what is open; SQLite may already have (after a full disk), or the
        rollback itself may fail on a failing disk: what was committed stays either way."""
        if self.db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")

    def _write_failed(self, what: str, error: sqlite3.Error) -> StoreError:
        """One line for a write that did not commit. A disk that is full, read-only or
        failing also stops every later write of this store (each raises the same line), so
        a search winding down after it reports the cause, not a follow-on failure."""
        why = " ".join(str(error).split())
        if not disk_trouble(error):
            return StoreError(f"store: could not {what}: {why}")
        failure = StoreError(
            f"{self.path}: cannot write the store ({why}) while trying to {what}; the search "
            f"stopped and what it recorded before is kept: {remedy(error, self.run_dir)}, "
            f"then `actsearch run --resume {self.run_dir}`")
        self._failed, self._cause = failure, error
        return failure

    def add_run(self, config_yaml: str, config_json: str, code_version: str,
                argv: Sequence[str]) -> int:
        """One row per invocation (a first run or a resume), with the resolved config."""
        with self.transaction("save the run's config") as db:
            cursor = db.execute(
                "INSERT INTO runs (started, code_version, config_yaml, config_json, argv) "
                "VALUES (?, ?, ?, ?, ?)",
                (time.time(), code_version, config_yaml, config_json, json.dumps(list(argv))))
            return int(cursor.lastrowid)

    def add_candidate(self, canonical: str, expr_text: str, tokens: Sequence[int],
                      fingerprint: str, fidelity: str, steps: int | None,
                      seeds: Sequence[int]) -> tuple[int, list[tuple[int, int]]]:
        """A new candidate and its ``running`` evaluations; returns (id, [(eval id, seed)])."""
        with self.transaction(f"add candidate {canonical!r}") as db:
            return _insert(db, canonical, expr_text, tokens, fingerprint, fidelity, steps, seeds)

    def add_evaluations(self, candidate_id: int, fidelity: str, steps: int | None,
                        seeds: Sequence[int], rung: int = 0) -> list[tuple[int, int]]:
        """``running`` evaluations of a stored candidate at another fidelity or rung;
        returns [(evaluation id, seed)] of the rows created (existing rows are kept)."""
        with self.transaction(f"add evaluations of candidate {candidate_id}") as db:
            return _add_evaluations(db, candidate_id, fidelity, steps, seeds, rung, time.time())

    def ensure_candidate(self, canonical: str, expr_text: str, fingerprint: str,
                         note: str = "") -> Candidate:
        """The stored candidate with this canonical form, created (no tokens) if missing."""
        with self.transaction(f"add candidate {canonical!r}") as db:
            db.execute("INSERT OR IGNORE INTO candidates (canonical, text, tokens, fingerprint, "
                       "created, note) VALUES (?, ?, '[]', ?, ?, ?)",
                       (canonical, expr_text, fingerprint, time.time(), note))
        found = self.find(canonical)
        assert found is not None
        return found

    def add_scored(self, canonical: str, expr_text: str, tokens: Sequence[int],
                   fingerprint: str, fidelity: str, steps: int | None, seed: int,
                   result: dict[str, Any], note: str = "") -> Candidate:
        """A candidate scored without training (the pre-screen), finished at once."""
        with self.transaction(f"add scored candidate {canonical!r}") as db:
            _, [(eid, _)] = _insert(db, canonical, expr_text, tokens, fingerprint, fidelity,
                                    steps, [seed])
            candidate = _finish(db, eid, result, "prescreen", note)
        assert candidate is not None
        return candidate

    def count_proposal(self, candidate_id: int) -> None:
        """The strategy proposed a stored candidate again."""
        with self.transaction("count a duplicate") as db:
            db.execute("UPDATE candidates SET proposals = proposals + 1 WHERE id=?",
                       (candidate_id,))

    def restart(self, evaluation_id: int) -> None:
        """A ``running`` or ``abandoned`` evaluation is submitted again (after a resume)."""
        with self.transaction("restart an evaluation") as db:
            db.execute("UPDATE evaluations SET status='running', attempts = attempts + 1, "
                       "started=? WHERE id=? AND status IN ('running', 'abandoned')",
                       (time.time(), evaluation_id))

    def abandon_running(self) -> int:
        """The search stops with children out: mark them ``abandoned`` (a resume reruns
        them); returns how many."""
        with self.transaction("mark unfinished evaluations abandoned") as db:
            return db.execute("UPDATE evaluations SET status='abandoned' "
                              "WHERE status='running'").rowcount

    def record_result(self, evaluation_id: int, result: dict[str, Any], worker: str,
                      note: str = "", retries: Sequence[str] = ()) -> Candidate | None:
        """Finish one evaluation with a ``Result.to_dict()``; the candidate if now finished.
        ``retries``: why earlier attempts of this child ended (each one an attempt more)."""
        with self.transaction(f"record evaluation {evaluation_id}") as db:
            return _finish(db, evaluation_id, result, worker, note, retries)

    def add_predictions(self, rows: Sequence[tuple[str, str, float, float, bool]]) -> None:
        """Record (key, text, mean, std, trained) predictions; a key's first one stays."""
        if not rows:
            return
        now = time.time()
        with self.transaction("record the surrogate's predictions") as db:
            db.executemany("INSERT OR IGNORE INTO predictions (key, text, mean, std, trained, "
                           "made) VALUES (?, ?, ?, ?, ?, ?)",
                           [(key, text_, mean, real(std), int(trained), now)
                            for key, text_, mean, std, trained in rows])

    def save_checkpoint(self, state: dict[str, Any], told: int,
                        outstanding: Sequence[tuple[Sequence[int], int]],
                        counters: dict[str, Any]) -> None:
        """The strategy's ``state_dict`` as data (``search.checkpoint``: JSON, tensors as
        bytes; nothing that runs code when read), keeping the last few."""
        from search import checkpoint  # here, not above: the read commands never load numpy
        state_text = checkpoint.encode(state)  # a TypeError here is a strategy's bug
        with self.transaction("save a strategy checkpoint") as db:
            db.execute("INSERT INTO checkpoints (created, told, state, outstanding, counters) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (time.time(), told, state_text,
                        json.dumps([[list(t), c] for t, c in outstanding]),
                        json.dumps(counters)))
            db.execute("DELETE FROM checkpoints WHERE id NOT IN (SELECT id FROM checkpoints "
                       "ORDER BY id DESC LIMIT ?)", (KEEP_CHECKPOINTS,))

    @reads
    def latest_checkpoint(self) -> tuple[dict[str, Any], list[tuple[tuple[int, ...], int]],
                                         dict[str, Any]] | None:
        """(state, outstanding [(tokens, candidate id)], counters) of the newest checkpoint;
        None when there is none, or when it is in the older format and the safe reader
        refuses it (one line on the log: the search resumes from its recorded results)."""
        row = self.db.execute("SELECT * FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        from search import checkpoint

        try:
            state = checkpoint.decode(row["state"])
        except checkpoint.LegacyRefused as error:
            log.warning("actsearch: %s: checkpoint %d ignored: %s; the search resumes from "
                        "its recorded results (no finished candidate is trained again)",
                        self.path, row["id"], error)
            return None
        except checkpoint.CheckpointError as error:
            raise DamagedRow(f"checkpoints row {row['id']}: {error}; `DELETE FROM "
                             "checkpoints` resumes from the recorded results") from None
        waiting = json_column(row, "outstanding", "checkpoints")
        outstanding = [(tuple(t), int(c)) for t, c in waiting]
        return state, outstanding, json_column(row, "counters", "checkpoints")


# -- writes ------------------------------------------------------------------------------


def _insert(db: sqlite3.Connection, canonical: str, expr_text: str, tokens: Sequence[int],
            fingerprint: str, fidelity: str, steps: int | None,
            seeds: Sequence[int]) -> tuple[int, list[tuple[int, int]]]:
    now = time.time()
    cid = int(db.execute(
        "INSERT INTO candidates (canonical, text, tokens, fingerprint, created) "
        "VALUES (?, ?, ?, ?, ?)",
        (canonical, expr_text, json.dumps(list(tokens)), fingerprint, now)).lastrowid)
    return cid, _add_evaluations(db, cid, fidelity, steps, seeds, 0, now)


def _add_evaluations(db: sqlite3.Connection, candidate_id: int, fidelity: str,
                     steps: int | None, seeds: Sequence[int], rung: int,
                     now: float) -> list[tuple[int, int]]:
    jobs = []
    for seed in seeds:
        cursor = db.execute(
            "INSERT OR IGNORE INTO evaluations (candidate_id, fidelity, steps, seed, started, "
            "rung) VALUES (?, ?, ?, ?, ?, ?)", (candidate_id, fidelity, steps, seed, now, rung))
        if cursor.rowcount == 1:
            jobs.append((int(cursor.lastrowid), seed))
    return jobs


def _finish(db: sqlite3.Connection, evaluation_id: int, result: dict[str, Any], worker: str,
            note: str, retries: Sequence[str] = ()) -> Candidate | None:
    """Move a running evaluation to its final status; aggregate its rung when complete."""
    reward = to_float(result["reward"])
    info = dict(result.get("info", {}))
    if retries:
        info["retries"] = list(retries)
    changed = db.execute(
        "UPDATE evaluations SET status=?, reward=?, reward_text=?, val_accuracy_text=?, "
        "step=?, curves=?, info=?, seconds=?, worker=?, error=?, finished=?, "
        "attempts = attempts + ? WHERE id=? AND status='running'",
        (result["status"], real(reward), text(reward),
         text(to_float(result.get("val_accuracy"))), result.get("step"),
         json.dumps(result.get("curves", {})), json.dumps(info),
         real(to_float(result.get("seconds", 0.0))), worker, result.get("error", ""),
         time.time(), len(retries), evaluation_id)).rowcount
    if changed != 1:
        raise ValueError(f"evaluation {evaluation_id} is not running (finished twice?)")
    cid, rung = db.execute("SELECT candidate_id, rung FROM evaluations WHERE id=?",
                           (evaluation_id,)).fetchone()
    rows = db.execute("SELECT status, reward_text, seconds FROM evaluations "
                      "WHERE candidate_id=? AND rung=?", (cid, rung)).fetchall()
    if any(r["status"] in UNFINISHED for r in rows):
        return None
    held = db.execute("SELECT rung, status FROM candidates WHERE id=?", (cid,)).fetchone()
    if held["status"] != "pending" and held["rung"] > rung:
        return None  # a result of a lower rung arriving late changes nothing
    rewards = [float(r["reward_text"]) for r in rows]
    mean = sum(rewards) / len(rewards)
    statuses = [r["status"] for r in rows]
    status = next((s for s in STATUS_ORDER if s in statuses), "ok")
    seconds = db.execute("SELECT SUM(seconds) FROM evaluations WHERE candidate_id=?",
                         (cid,)).fetchone()[0] or 0.0
    db.execute("UPDATE candidates SET status=?, reward=?, reward_text=?, seconds=?, "
               "finished=?, note=?, rung=? WHERE id=?",
               (status, real(mean), text(mean), seconds, time.time(), note, rung, cid))
    return Candidate.from_row(db.execute("SELECT * FROM candidates WHERE id=?",
                                         (cid,)).fetchone())
