"""A driver killed mid-search (SIGKILL) and resumed: every candidate recorded once.

The search runs as ``actsearch run`` in a subprocess with slow fake children;
it is killed with SIGKILL once some results are in, then resumed until done.
Oracles: the fake task's log (which process trained what), and the store.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from search.store import Store

ROOT = Path(__file__).resolve().parent.parent
SPACE = ("space: {units: 1, unary: [identity, neg, sigmoid, tanh, sin, exp], "
         "binary: [add, mul, max, sub]}")


def _finished(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("SELECT COUNT(*) FROM evaluations WHERE status != 'running' "
                               "AND worker != 'prescreen'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _actsearch(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "search.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("strategy", ["exhaustive", "reinforce"])
def test_driver_killed_and_resumed_records_every_candidate_once(tmp_path, strategy):
    log = tmp_path / "trained.log"
    env = {**os.environ, "FAKE_TASK_LOG": str(log), "FAKE_TASK_SECONDS": "0.1"}
    config = tmp_path / "config.yaml"
    config.write_text("\n".join([
        SPACE, "evaluate: tests.fake_tasks:slow", "backend: {kind: inline, workers: 2}",
        f"strategy: {{name: {strategy}, batch_size: 4}}",
        "budget: {max_evaluations: 24, checkpoint_every: 4}"]))
    run_dir = tmp_path / "run"
    driver = _actsearch("run", str(config), "--out", str(run_dir), env=env)
    deadline = time.monotonic() + 300  # a hang guard, generous for a busy machine
    while _finished(run_dir / "search.db") < 9 and time.monotonic() < deadline:
        assert driver.poll() is None, driver.communicate()
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    with Store(run_dir) as store:  # what the killed driver left
        before = {c.canonical: c.reward for c in store.candidates() if c.status != "pending"}
        running = {e.id for e in store.evaluations(status="running")}
    assert len(before) >= 9 and running, "the kill should land while children are out"

    resumed = _actsearch("run", "--resume", str(run_dir), env=env)
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert "resuming" in err

    trained = Counter(line.split(" ", 1)[1] for line in log.read_text().splitlines())
    assert set(trained.values()) == {1}, "a finished candidate was trained again"
    with Store(run_dir) as store:
        assert store.evaluations(status="running") == []
        assert store.count_trained() == sum(trained.values())
        if strategy == "exhaustive" or "max_evaluations reached" in err:
            assert store.count_trained() == 24, err
        else:  # a converging controller may hit the proposal cap (duplicates) first
            assert "max_proposals reached" in err and store.count_trained() <= 24, err
        after = {c.canonical: c.reward for c in store.candidates()}
        assert all(after[k] == v for k, v in before.items())  # nothing recorded was lost
        rerun = [e for e in store.evaluations() if e.id in running]
        assert all(e.status == "ok" and e.attempts == 2 for e in rerun)
        assert len(store.db.execute("SELECT * FROM runs").fetchall()) == 2


def test_sigterm_stops_like_ctrl_c_checkpoints_and_resumes(tmp_path):
    """SIGTERM (a scheduler's stop) to a real search: no traceback, exit 143, the children
    out marked abandoned, a checkpoint, the resume command printed; the resume trains what
    was abandoned and nothing twice."""
    log = tmp_path / "trained.log"
    env = {**os.environ, "FAKE_TASK_LOG": str(log), "FAKE_TASK_SECONDS": "0.3"}
    config = tmp_path / "config.yaml"
    config.write_text("\n".join([
        SPACE, "evaluate: tests.fake_tasks:slow", "backend: {kind: inline, workers: 2}",
        "strategy: {name: exhaustive}", "budget: {max_evaluations: 16, checkpoint_every: 100}"]))
    run_dir = tmp_path / "run"
    driver = _actsearch("run", str(config), "--out", str(run_dir), env=env)
    deadline = time.monotonic() + 300  # a hang guard, generous for a busy machine
    while _finished(run_dir / "search.db") < 3 and time.monotonic() < deadline:
        assert driver.poll() is None, driver.communicate()
        time.sleep(0.05)
    driver.send_signal(signal.SIGTERM)
    out, err = driver.communicate(timeout=600)
    assert driver.returncode == 143, err
    assert "Traceback" not in err
    assert "stopped (terminated by SIGTERM)" in err
    assert f"continue with: actsearch run --resume {run_dir}" in out
    assert not (run_dir / "search.lock").exists()
    with Store(run_dir) as store:
        assert store.evaluations(status="running") == []
        abandoned = {e.id for e in store.evaluations(status="abandoned")}
        assert abandoned
        checkpoints = store.db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
    assert checkpoints == 1  # checkpoint_every is 100: this one was written on the way out

    resumed = _actsearch("run", "--resume", str(run_dir), env={**env, "FAKE_TASK_SECONDS": "0"})
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    trained = Counter(line.split(" ", 1)[1] for line in log.read_text().splitlines())
    with Store(run_dir) as store:
        rerun = [e for e in store.evaluations() if e.id in abandoned]
        assert all(e.status == "ok" and e.attempts == 2 for e in rerun)
        assert store.count_trained() == 16
    # the fake child logs after its wait, so a child cut short by the signal left no line
    assert set(trained.values()) == {1} and sum(trained.values()) == 16


def test_proposals_asked_again_after_a_kill_are_not_counted_as_duplicates_twice(tmp_path):
    """A resumed strategy re-asks what it proposed after its last checkpoint; those answers
    from the store were counted as duplicates a second time (16 against 10 uninterrupted)."""
    env = {**os.environ, "FAKE_TASK_SECONDS": "0.1"}
    config = tmp_path / "config.yaml"
    config.write_text("\n".join([
        SPACE, "evaluate: tests.fake_tasks:slow", "backend: {kind: inline, workers: 2}",
        "strategy: {name: exhaustive}", "budget: {max_evaluations: 30, checkpoint_every: 10}"]))

    def duplicates(run_dir: Path) -> int:
        with Store(run_dir) as store:
            assert store.count_trained() == 30
            return store.count_duplicates()

    whole = _actsearch("run", str(config), "--out", str(tmp_path / "whole"), env=env)
    assert whole.wait(timeout=300) == 0, whole.communicate()
    run_dir = tmp_path / "killed"
    driver = _actsearch("run", str(config), "--out", str(run_dir), env=env)
    deadline = time.monotonic() + 120
    while _finished(run_dir / "search.db") < 15 and time.monotonic() < deadline:
        assert driver.poll() is None, driver.communicate()
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    resumed = _actsearch("run", "--resume", str(run_dir), env=env)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert duplicates(run_dir) == duplicates(tmp_path / "whole") > 0
