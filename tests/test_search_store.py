"""The store's contract: NaN/inf round-trip, finish-once, versions, one writer, rollback."""

from __future__ import annotations

import math
import sqlite3

import pytest
import torch

from evaluator import Result
from search.store import SCHEMA_VERSION, Store, StoreError
from space import parse


def _result(status="ok", reward=0.5, **kw) -> dict:
    return Result(status=status, reward=reward, **kw).to_dict()


def _add(store: Store, canonical="x", seeds=(0,)):
    return store.add_candidate(canonical, canonical, [0, 0, 0, 0, 0], "f" + canonical,
                               "fid", 10, list(seeds))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0.25, 0.0])
def test_non_finite_values_round_trip(tmp_path, value):
    with Store(tmp_path, writer=True) as store:
        cid, [(eid, _)] = _add(store)
        store.record_result(eid, _result("diverged", reward=value, val_accuracy=value,
                                         curves={"loss": [1.0, value, math.nan]}), "w")
    with Store(tmp_path) as store:  # read-only, as the reports open it
        (evaluation,) = store.evaluations(cid)
        candidate = store.candidate(cid)
    for got in (evaluation.reward, evaluation.val_accuracy, candidate.reward):
        assert got == value or (math.isnan(value) and math.isnan(got))
    loss = Result.from_dict({"status": "ok", "reward": 0.0,
                             "curves": evaluation.curves}).curves["loss"]
    assert loss[0] == 1.0 and math.isnan(loss[2])
    assert loss[1] == value or (math.isnan(value) and math.isnan(loss[1]))


def test_candidate_finishes_when_every_seed_is_in_with_the_mean(tmp_path):
    with Store(tmp_path, writer=True) as store:
        cid, jobs = _add(store, seeds=(0, 1))
        assert store.record_result(jobs[0][0], _result(reward=0.4), "w") is None
        assert store.candidate(cid).status == "pending"
        done = store.record_result(jobs[1][0], _result("diverged", reward=0.0), "w")
        assert done.status == "diverged"
        assert done.reward == pytest.approx(0.2)
        assert store.top(5)[0].id == cid


def test_an_evaluation_finishes_once(tmp_path):
    with Store(tmp_path, writer=True) as store:
        _, [(eid, _)] = _add(store)
        store.record_result(eid, _result(), "w")
        with pytest.raises(StoreError, match="not running"):
            store.record_result(eid, _result(reward=0.9), "w")
        assert [e.reward for e in store.evaluations()] == [0.5]  # the failed write rolled back


def test_canonical_key_is_unique_and_found_by_fingerprint(tmp_path):
    with Store(tmp_path, writer=True) as store:
        _add(store, "x")
        with pytest.raises(StoreError, match="UNIQUE"):
            _add(store, "x")
        assert len(store.candidates()) == 1
        assert store.find("other spelling", "fx").canonical == "x"
        assert store.find("other spelling") is None


def test_transaction_rolls_back_and_names_the_write(tmp_path):
    with Store(tmp_path, writer=True) as store:
        with pytest.raises(StoreError, match="could not test write"), \
                store.transaction("test write") as db:
            db.execute("INSERT INTO meta VALUES ('k', 'v')")
            db.execute("INSERT INTO no_such_table VALUES (1)")
        assert store.db.execute("SELECT * FROM meta WHERE key='k'").fetchone() is None


def test_one_writer_at_a_time_and_readers_cannot_write(tmp_path):
    with Store(tmp_path, writer=True):
        with pytest.raises(StoreError, match="another actsearch process"):
            Store(tmp_path, writer=True)
        reader = Store(tmp_path)
        with pytest.raises(StoreError, match="read-only"):
            _add(reader)
        reader.close()
    Store(tmp_path, writer=True).close()  # the lock is released on close


def test_schema_version_is_checked(tmp_path):
    Store(tmp_path, writer=True).close()
    db = sqlite3.connect(tmp_path / "search.db")
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        Store(tmp_path)


def test_missing_store_is_one_line(tmp_path):
    with pytest.raises(StoreError, match="no search here"):
        Store(tmp_path / "nothing")


def test_wal_mode_and_checkpoint_round_trip(tmp_path):
    with Store(tmp_path, writer=True) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.latest_checkpoint() is None
        for i in range(5):
            store.save_checkpoint({"step": i, "w": torch.arange(3.0) * i}, told=i,
                                  outstanding=[((1, 2, 3), 7)], counters={"proposals": i})
        state, outstanding, counters = store.latest_checkpoint()
        assert state["step"] == 4 and torch.equal(state["w"], torch.arange(3.0) * 4)
        assert outstanding == [((1, 2, 3), 7)]
        assert counters == {"proposals": 4}
        kept = store.db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
        assert kept == 3


def test_a_version_2_store_is_upgraded_in_place(tmp_path):
    """Schema 2 -> 3 recomputes fingerprints (three beta values); readers still read 2."""
    with Store(tmp_path, writer=True) as store:
        _add(store)
    db = sqlite3.connect(tmp_path / "search.db")
    db.execute("UPDATE candidates SET fingerprint='old'")
    db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    db.commit()
    db.close()
    with Store(tmp_path) as reader:  # read-only: as it is
        assert {c.fingerprint for c in reader.candidates()} == {"old"}
    with Store(tmp_path, writer=True) as store:
        version = store.db.execute("SELECT value FROM meta WHERE key='schema_version'")
        assert version.fetchone()[0] == str(SCHEMA_VERSION)
        for candidate in store.candidates():
            assert candidate.fingerprint == parse(candidate.text).fingerprint


def test_a_version_1_store_is_refused_to_readers_with_the_upgrade_command(tmp_path):
    Store(tmp_path, writer=True).close()
    db = sqlite3.connect(tmp_path / "search.db")
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="run --resume"):
        Store(tmp_path)


def test_a_version_3_store_is_upgraded_and_its_running_rows_are_kept(tmp_path):
    """Schema 3 -> 4 (``abandoned`` evaluations) changes no row; an older actsearch (3)
    would not rerun abandoned rows, so it is refused a version-4 store."""
    with Store(tmp_path, writer=True) as store:
        _, [(eid, _)] = _add(store)
    db = sqlite3.connect(tmp_path / "search.db")
    db.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    db.commit()
    db.close()
    with Store(tmp_path, writer=True) as store:
        version = store.db.execute("SELECT value FROM meta WHERE key='schema_version'")
        assert version.fetchone()[0] == "4" == str(SCHEMA_VERSION)
        assert [e.id for e in store.evaluations(status="running")] == [eid]


def test_abandoned_evaluations_are_restarted_and_finish_once(tmp_path):
    with Store(tmp_path, writer=True) as store:
        cid, jobs = _add(store, seeds=(0, 1))
        store.record_result(jobs[0][0], _result(reward=0.4), "w")
        assert store.abandon_running() == 1
        assert store.count_trained() == 1 and store.count_trained(running=True) == 2
        assert store.rung_results(0) == {}  # an abandoned seed leaves the rung unfinished
        assert store.candidate(cid).status == "pending"
        with pytest.raises(StoreError, match="not running"):  # not finished while abandoned
            store.record_result(jobs[1][0], _result(reward=0.6), "w")
        store.restart(jobs[1][0])
        (again,) = store.evaluations(status="running")
        assert again.id == jobs[1][0] and again.attempts == 2
        assert store.record_result(jobs[1][0], _result(reward=0.6), "w").reward == \
            pytest.approx(0.5)


def test_the_lock_file_is_removed_after_a_clean_close(tmp_path):
    store = Store(tmp_path, writer=True)
    assert (tmp_path / "search.lock").exists()
    with Store(tmp_path) as reader:
        assert reader.writer_alive()
    store.close()
    assert not (tmp_path / "search.lock").exists()
    with Store(tmp_path) as reader:
        assert not reader.writer_alive()
    (tmp_path / "search.lock").write_text("999999999")  # what a SIGKILLed driver leaves
    with Store(tmp_path) as reader:
        assert not reader.writer_alive()
    Store(tmp_path, writer=True).close()  # a stale lock file does not block a new writer
