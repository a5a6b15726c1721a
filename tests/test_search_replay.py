"""Offline replay: a search over a CSV reward table (the ``table`` task) instead of training."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from search.cli import main
from search.config import config_from_text
from search.launch import run_search
from search.store import Store
from space import SearchSpace, parse
from space.enumerate import unique_functions

UNARY, BINARY = ["identity", "neg", "sigmoid", "tanh", "sin"], ["add", "mul", "max"]
SPACE = f"space: {{units: 1, unary: [{', '.join(UNARY)}], binary: [{', '.join(BINARY)}]}}"


def _table(path: Path, keep: float = 1.0, seed: int = 0) -> dict[str, float]:
    """A CSV of random rewards for (a share of) the space's functions; text -> reward."""
    rng = random.Random(seed)
    functions = [e for _, _, e in unique_functions(SearchSpace(1, UNARY, BINARY))]
    rows = {e.text: round(rng.random(), 6) for e in functions if rng.random() < keep}
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["expression", "reward", "seconds"])
        for text, reward in rows.items():
            writer.writerow([text, reward, 10.0])
    return rows


def _config(table: Path, strategy: str = "exhaustive"):
    return config_from_text("\n".join([
        SPACE, f"strategy: {{name: {strategy}}}", "backend: {kind: inline}",
        f"task: {{name: table, path: {table}, cost: seconds}}"]))


def test_replayed_exhaustive_search_reports_the_tables_best(tmp_path):
    rows = _table(tmp_path / "table.csv")
    run_dir, progress = run_search(_config(tmp_path / "table.csv"), out=tmp_path / "run")
    assert progress.stopped_by == "exhausted"
    best_text = max(rows, key=rows.get)
    with Store(run_dir) as store:
        top = store.top(1)[0]
        assert parse(top.text).fingerprint == parse(best_text).fingerprint
        assert top.reward == rows[best_text]
        assert store.counts().get("missing", 0) == 0
        assert {e.seconds for e in store.evaluations() if e.worker != "prescreen"} == {10.0}


def test_functions_missing_from_the_table_are_reported_not_guessed(tmp_path, capsys):
    rows = _table(tmp_path / "table.csv", keep=0.5, seed=1)
    run_dir, _ = run_search(_config(tmp_path / "table.csv"), out=tmp_path / "run")
    with Store(run_dir) as store:
        missing = store.candidates(status="missing")
        assert missing and all(c.text not in rows for c in missing)
        assert all(parse(c.text).fingerprint not in {parse(t).fingerprint for t in rows}
                   for c in missing)
        assert all(c.status != "missing" for c in store.top(5))
        ref = str(missing[0].id)
    capsys.readouterr()
    assert main(["top", str(run_dir)]) == 0
    assert f"{len(missing)} missing" in capsys.readouterr().out
    assert main(["show", str(run_dir), ref]) == 0
    assert "not in table" in capsys.readouterr().out


def test_an_unusable_table_stops_the_run_before_it_starts(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("expression,reward\nx,0.5\n__import__('os'),0.9\n")
    config = tmp_path / "c.yaml"
    config.write_text("\n".join([SPACE, "backend: {kind: inline}", "budget: {max_evaluations: 5}",
                                 f"task: {{name: table, path: {bad}}}"]))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.csv:3" in err
    assert not (tmp_path / "run").exists()


def test_strategy_benchmark_replays_a_table(tmp_path):
    import subprocess
    import sys

    table = tmp_path / "rewards.csv"
    rng = random.Random(3)
    rewards = {}
    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["expression", "reward"])
        for _, _, expr in unique_functions(SearchSpace(1)):
            rewards[expr.text] = round(rng.random(), 6)
            writer.writerow([expr.text, rewards[expr.text]])
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "benchmarks/strategy_efficiency.py", "--table",
                           str(table), "--units", "1", "--seeds", "2", "--random-seeds", "4",
                           "--budget", "40", "--strategies", "random,evolution"],
                          cwd=root, text=True, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line.split("|") for line in done.stdout.splitlines() if "table(rewards.csv)" in line]
    assert [row[4].strip() for row in rows] == ["random", "evolution"]
    top_1_percent = sorted(rewards.values())[-len(rewards) // 100]
    assert abs(float(rows[0][3]) - top_1_percent) < 0.01  # the threshold is the table's
    assert all(float(row[10]) <= max(rewards.values()) for row in rows)
