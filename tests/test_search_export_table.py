"""``actsearch export-table``: a finished run becomes a replay table that replays it exactly."""

from __future__ import annotations

import csv
import math

from search.cli import main
from search.config import config_from_text
from search.launch import run_search
from search.store import Store

SPACE = "space: {units: 1, unary: [identity, neg, sigmoid, tanh, sin], binary: [add, mul, max]}"


def _run(tmp_path, *lines: str):
    config = config_from_text("\n".join([SPACE, "backend: {kind: inline}",
                                         "strategy: {name: exhaustive}", *lines]))
    run_dir, _ = run_search(config, out=tmp_path / ("run" + str(len(list(tmp_path.iterdir())))))
    return run_dir


def _read(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_run_becomes_a_table_that_replays_it(tmp_path, capsys):
    original = _run(tmp_path, "evaluate: tests.fake_tasks:mixed", "seeds: [0, 1]")
    table = tmp_path / "rewards.csv"
    assert main(["export-table", str(original), "-o", str(table)]) == 0
    said = capsys.readouterr().out
    rows = _read(table)
    with Store(original) as store:
        finished = {c.text: c for c in store.candidates()}
        invalid = [c for c in finished.values() if c.status == "invalid"]
    assert invalid and f"left out {len(invalid)} invalid" in said
    assert len(rows) == len(finished) - len(invalid)
    for row in rows:
        candidate = finished[row["expression"]]
        assert row["status"] == candidate.status and row["seeds"] == "2"
        if candidate.status == "ok":
            assert float(row["reward"]) == candidate.reward  # the mean over both seeds
            assert math.isclose(float(row["std"]), 0.01 / math.sqrt(2), rel_tol=1e-6)
        else:
            assert row["status"] == "diverged" and "tanh" in row["expression"]
            assert math.isnan(float(row["reward"])) and row["std"] == ""
        assert float(row["seconds"]) == (3.0 if candidate.status == "ok" else 0.0)

    replay = _run(tmp_path, f"task: {{name: table, path: {table}, cost: seconds}}")
    with Store(replay) as store:
        replayed = {c.text: c for c in store.candidates()}
    assert replayed.keys() == finished.keys()
    for text, candidate in finished.items():
        assert replayed[text].status == candidate.status, text
        if candidate.status == "ok":
            assert replayed[text].reward == candidate.reward


def test_an_empty_run_writes_a_header(tmp_path):
    run_dir = _run(tmp_path, "evaluate: tests.fake_tasks:failing",
                   "budget: {max_evaluations: 3, max_consecutive_errors: 100}")
    table = tmp_path / "empty.csv"
    assert main(["export-table", str(run_dir), "-o", str(table)]) == 0
    assert table.read_text().splitlines() == ["expression,reward,seconds,status,seeds,std"]
