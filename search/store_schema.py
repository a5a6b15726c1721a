"""The store's tables, its schema version and the migrations from older versions."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 4  # 2: rung columns; 3: fingerprints over three beta values; 4: `abandoned`

READABLE_VERSIONS = (2, 3, 4)  # read-only commands read these as they are (2: older fingerprints)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, code_version TEXT NOT NULL,
    config_yaml TEXT NOT NULL, config_json TEXT NOT NULL, argv TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY, canonical TEXT NOT NULL UNIQUE, text TEXT NOT NULL,
    tokens TEXT NOT NULL, fingerprint TEXT NOT NULL, created REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', reward REAL, reward_text TEXT,
    seconds REAL, finished REAL, proposals INTEGER NOT NULL DEFAULT 1,
    note TEXT NOT NULL DEFAULT '', rung INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS candidates_fingerprint ON candidates(fingerprint);
CREATE INDEX IF NOT EXISTS candidates_reward ON candidates(reward);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    fidelity TEXT NOT NULL, steps INTEGER, seed INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'running', reward REAL, reward_text TEXT,
    val_accuracy_text TEXT, step INTEGER, curves TEXT, info TEXT, seconds REAL,
    worker TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 1,
    started REAL NOT NULL, finished REAL, rung INTEGER NOT NULL DEFAULT 0,
    UNIQUE (candidate_id, fidelity, seed));
CREATE INDEX IF NOT EXISTS evaluations_status ON evaluations(status);
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY, created REAL NOT NULL, told INTEGER NOT NULL,
    state BLOB NOT NULL, outstanding TEXT NOT NULL, counters TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL, text TEXT NOT NULL, mean REAL NOT NULL,
    std REAL, trained INTEGER NOT NULL, made REAL NOT NULL, UNIQUE (key, trained));
"""


# -- migrations: version -> the step to version + 1 --------------------------------------


def _add_rungs(db: sqlite3.Connection) -> None:
    """1 -> 2: successive halving's rungs; every existing evaluation is rung 0."""
    for table in ("candidates", "evaluations"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN rung INTEGER NOT NULL DEFAULT 0")


def _refingerprint(db: sqlite3.Connection) -> None:
    """2 -> 3: fingerprints are taken at three beta values instead of one, so functions
    that agree only for some beta are told apart; recompute them from the stored text."""
    from space import parse

    rows = db.execute("SELECT id, text FROM candidates").fetchall()
    db.executemany("UPDATE candidates SET fingerprint=? WHERE id=?",
                   [(parse(row["text"]).fingerprint, row["id"]) for row in rows])


def _allow_abandoned(db: sqlite3.Connection) -> None:
    """3 -> 4: evaluations may be ``abandoned`` (cancelled when a search stopped). No row
    changes (older stores hold none); the version keeps an older actsearch, which reruns
    only ``running`` rows and would leave abandoned ones untrained, from resuming it."""

MIGRATIONS = {1: _add_rungs, 2: _refingerprint, 3: _allow_abandoned}
