"""Damaged stores and a second driver: every reading command works or says so in one line.

The damage is what a disk or a hand does to a file: 8 KiB of random bytes written
at half the size of a store of several pages, a row whose JSON was overwritten,
a ``search.db`` that is a folder. A command that reads the store either works
or ends in one line naming the file and the way out (exit 2); ``run --resume``
finds the damage before it starts anything, Ray included. Commands run as
``main`` in this process, except where a second process is the point (the lock)
or where the process must not be able to import Ray at all.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search.cli import main

ROOT = Path(__file__).resolve().parent.parent
SPACE = ("space: {units: 1, unary: [identity, neg, abs, square, sigmoid, tanh, sin, exp], "
         "binary: [add, mul, max, sub]}")
WITHOUT_RAY = ("import sys\nsys.modules['ray'] = None  # any attempt to import Ray fails\n"
               "from search.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def _config(root: Path, evaluations: int, task: str = "instant") -> Path:
    config = root / "config.yaml"
    config.write_text("\n".join([SPACE, f"evaluate: tests.fake_tasks:{task}",
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}",
                                 f"budget: {{max_evaluations: {evaluations}}}"]))
    return config


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A finished run whose store has a few dozen pages."""
    root = tmp_path_factory.mktemp("damage")
    assert main(["run", str(_config(root, 120)), "--out", str(root / "run")]) == 0
    assert (root / "run" / "search.db").stat().st_size >= 16 * 4096
    return root / "run"


@pytest.fixture()
def run_dir(pristine, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(pristine, copy)
    return copy


def _damage_the_middle(run_dir: Path) -> None:
    db = run_dir / "search.db"
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(size // 2)
        f.write(random.Random(13).randbytes(8192))


def _one_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("actsearch: error: "), err
    for needle in needles:
        assert needle in err, err
    return err


def _without_ray(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_RAY, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


READERS = [("top",), ("top", "--json"), ("show", "1"), ("show", "x * sigmoid(x)"),
           ("export", "--rank", "1", "-o", "{tmp}/act.py"), ("plot", "-o", "{tmp}/top.png")]


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_store_damaged_in_the_middle_is_one_line_for_every_reader(command, run_dir,
                                                                    tmp_path, capsys):
    _damage_the_middle(run_dir)
    args = [a.format(tmp=tmp_path) for a in command]
    assert main([args[0], str(run_dir), *args[1:]]) == 2
    _one_line(capsys, f"{run_dir / 'search.db'}: the store is damaged",
              f'sqlite3 {run_dir / "search.db"} ".recover" | sqlite3 recovered.db')
    assert not (tmp_path / "act.py").exists() and not (tmp_path / "top.png").exists()


def test_resume_of_a_damaged_store_stops_before_it_starts_anything(run_dir):
    _damage_the_middle(run_dir)
    before = (run_dir / "search.db").read_bytes()
    done = _without_ray("run", "--resume", str(run_dir), "--address", "ray://127.0.0.1:1")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "the store is damaged" in done.stderr
    assert (run_dir / "search.db").read_bytes() == before  # nothing was written


@pytest.mark.parametrize(("table", "column", "value", "command"), [
    ("candidates", "tokens", "not json", ("show", "{id}")),
    ("candidates", "reward_text", "lots", ("top",)),
    ("evaluations", "curves", "{broken", ("show", "{id}")),
    ("evaluations", "info", "[1, 2]", ("show", "{id}")),
])
def test_a_hand_damaged_row_is_one_line(table, column, value, command, run_dir, capsys):
    with sqlite3.connect(run_dir / "search.db") as db:
        cid = db.execute("SELECT id FROM candidates WHERE status = 'ok' ORDER BY reward DESC "
                         "LIMIT 1").fetchone()[0]
        key = "id" if table == "candidates" else "candidate_id"
        db.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (value, cid))
    args = [a.format(id=cid) for a in command]
    assert main([args[0], str(run_dir), *args[1:]]) == 2
    _one_line(capsys, "the store is damaged", f"{table} row", column, "sqlite3")


def test_a_search_db_that_is_a_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "run" / "search.db").mkdir(parents=True)
    for command in (["top", str(tmp_path / "run")], ["show", str(tmp_path / "run"), "1"],
                    ["run", "--resume", str(tmp_path / "run")]):
        assert main(command) == 2
        _one_line(capsys, "search.db is a folder, not a store")


def test_resume_finds_a_damaged_row_before_it_starts_anything(run_dir):
    with sqlite3.connect(run_dir / "search.db") as db:
        db.execute("UPDATE candidates SET tokens = 'not json' WHERE id = 7")
    done = _without_ray("run", "--resume", str(run_dir), "--address", "ray://127.0.0.1:1")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "candidates row 7: tokens" in done.stderr


def test_a_second_driver_is_refused_before_it_starts_ray(tmp_path):
    """The first driver holds the run's lock; the second (which cannot even import Ray,
    and asks for a Ray cluster) must be refused by the lock, not reach Ray."""
    env = {**os.environ, "FAKE_TASK_SECONDS": "0.2"}
    first = subprocess.Popen([sys.executable, "-m", "search.cli", "run",
                              str(_config(tmp_path, 40, task="slow")), "--out",
                              str(tmp_path / "run")], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300  # a hang guard, generous for a busy machine
        while time.monotonic() < deadline and not _finished(tmp_path / "run" / "search.db"):
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        second = _without_ray("run", "--resume", str(tmp_path / "run"), "--address",
                              "ray://127.0.0.1:1")
        assert first.poll() is None, "the first driver should still be running"
        assert second.returncode == 2, second.stderr
        assert second.stderr.count("\n") == 1
        assert "another actsearch process is writing this run" in second.stderr
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGINT)
        first.communicate(timeout=600)
    assert main(["top", str(tmp_path / "run")]) == 0  # the first run's results are intact


def _finished(db: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("SELECT COUNT(*) FROM evaluations WHERE status = 'ok' "
                               "AND worker != 'prescreen'").fetchone()[0] > 0
    except sqlite3.Error:
        return False
