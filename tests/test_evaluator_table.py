"""Reward tables: lookup by function, missing and diverged rows, clear errors, no eval."""

from __future__ import annotations

import math
import os

import pytest

from evaluator import Result, RewardTable, TableTask, run_task
from evaluator.table import TableError

ROWS = """expression,reward,seconds
x * sigmoid(beta * x),0.93,400
relu(x),0.91,350.5
tanh(x),0.88,
exp(8 * x),nan,12
"""


def write(tmp_path, text: str = ROWS, name: str = "rewards.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def table_task(path, **fields) -> dict:
    return TableTask(path=str(path), **fields).to_dict()


def test_lookup_matches_another_spelling_of_the_function(tmp_path):
    path = write(tmp_path, "expression,reward\nx*sigmoid(x),0.9\n")
    table = RewardTable.load(path)
    assert table.lookup("sigmoid(x)*x") == (0.9, None)
    assert table.lookup("x * sigmoid(x) + 0") == (0.9, None)  # same outputs, other tree
    assert table.lookup("x * tanh(x)") is None
    result = run_task("sigmoid(x) * x", table_task(path), seed=2)
    assert (result.status, result.reward, result.val_accuracy) == ("ok", 0.9, 0.9)
    assert result.info["line"] == 2 and result.info["matched"] == "x*sigmoid(x)"
    assert result.seed == 2 and result.expr == "sigmoid(x) * x"


def test_canonical_matching_is_by_text(tmp_path):
    path = write(tmp_path, "expression,reward\nx*sigmoid(x),0.9\nx + x,0.1\n")
    by_text = table_task(path, match="canonical")
    assert run_task("sigmoid(x) * x", by_text).status == "ok"  # commutative args sorted
    assert run_task("2 * x", by_text).status == "missing"  # same function, other text
    assert run_task("2 * x", table_task(path)).reward == 0.1  # found by fingerprint


def test_missing_function_is_reported_not_guessed(tmp_path):
    path = write(tmp_path)
    result = run_task("sin(x)", table_task(path, missing_reward=-1.0))
    assert (result.status, result.reward) == ("missing", -1.0)
    assert result.error == f"not in table {path}" and result.val_accuracy is None
    assert Result.from_dict(result.to_dict()) == result


def test_cost_column_becomes_seconds(tmp_path):
    path = write(tmp_path)
    task = table_task(path, cost="seconds")
    relu = run_task("relu(x)", task)
    assert relu.seconds == 350.5 and relu.info["cost"] == 350.5
    tanh = run_task("tanh(x)", task)  # an empty cost cell: unknown, the lookup's own time
    assert tanh.info["cost"] is None and tanh.seconds < 1.0
    assert RewardTable.load(path, cost="seconds").lookup("relu(x)") == (0.91, 350.5)


def test_non_finite_reward_is_diverged(tmp_path):
    path = write(tmp_path)
    result = run_task("exp(8*x)", table_task(path, diverged_reward=-3.0, cost="seconds"))
    assert (result.status, result.reward, result.seconds) == ("diverged", -3.0, 12.0)
    assert f"{path}:5" in result.error


def test_minimising_negates_the_reward(tmp_path):
    path = write(tmp_path, "expression,loss\nrelu(x),0.25\n")
    result = run_task("relu(x)", table_task(path, reward="loss", maximize=False))
    assert (result.reward, result.val_accuracy) == (-0.25, 0.25)


def test_best(tmp_path):
    table = RewardTable.load(write(tmp_path))
    assert table.best() == ("x * sigmoid(beta * x)", 0.93)  # the NaN row never wins
    assert table.best(maximize=False) == ("tanh(x)", 0.88)
    assert len(table) == 4


def test_unparseable_candidate_is_an_error_result(tmp_path):
    result = run_task("x * sigmoid(", table_task(write(tmp_path), error_reward=-1.0))
    assert (result.status, result.reward) == ("error", -1.0) and "column" in result.error


@pytest.mark.parametrize("text, line, words", [
    ("expression,reward\nrelu(x),0.9\nrelu(x,0.8\n", 3, "does not parse"),
    ("expression,reward\nrelu(x),0.9\n\ntanh(x),high\n", 4, "not a number"),
    ("expression,reward\nrelu(x)\n", 2, "cells"),
    ("expression,reward,seconds\nrelu(x),0.9,-4\n", 2, "cost"),
])
def test_bad_row_names_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(TableError, match=words) as info:
        RewardTable.load(path, cost="seconds" if "seconds" in text else None)
    assert f"{path}:{line}:" in str(info.value) and "\n" not in str(info.value)


def test_duplicate_function_with_two_rewards_names_both_lines(tmp_path):
    path = write(tmp_path, "expression,reward\nrelu(x),0.9\ntanh(x),0.8\n\"max(x, 0)\",0.7\n")
    with pytest.raises(TableError, match="lines 2 and 4") as info:
        RewardTable.load(path)
    assert "relu(x)" in str(info.value) and "max(x, 0)" in str(info.value)
    same = write(tmp_path, "expression,reward\nrelu(x),0.9\n\"max(x, 0)\",0.9\n", "same.csv")
    assert RewardTable.load(same).entry("relu(x)").line == 2  # agreeing duplicates: the first


def test_unusable_tables_raise_one_line(tmp_path):
    with pytest.raises(TableError, match="cannot read"):
        run_task("relu(x)", table_task(tmp_path / "absent.csv"))
    columns = r"no column 'score' \(columns: expression, reward, seconds\)"
    with pytest.raises(TableError, match=columns):
        RewardTable.load(write(tmp_path), reward="score")
    with pytest.raises(TableError, match="no rows"):
        RewardTable.load(write(tmp_path, "expression,reward\n", "empty.csv"))
    with pytest.raises(ValueError, match="match"):
        TableTask(path="r.csv", match="spelling")


def test_hostile_text_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    hostile = f"__import__('os').system('touch {marker}')"
    path = write(tmp_path, f'expression,reward\nrelu(x),0.9\n"{hostile}",1.0\n')
    with pytest.raises(TableError, match=f"{path}:3: expression") as info:
        RewardTable.load(path)
    assert "__import__" in str(info.value)
    assert not marker.exists()
    # Nor is a candidate's text, nor a reward cell (float() only reads numbers).
    ok = write(tmp_path, "expression,reward\nrelu(x),__import__('os')\n", "cell.csv")
    with pytest.raises(TableError, match="not a number"):
        RewardTable.load(ok)
    result = run_task(hostile, table_task(write(tmp_path, name="fine.csv")))
    assert result.status == "error" and not marker.exists()


def test_loaded_once_per_process_until_the_file_changes(tmp_path):
    path = write(tmp_path, "expression,reward\nrelu(x),0.9\n")
    first = RewardTable.load(path)
    assert RewardTable.load(path) is first
    path.write_text("expression,reward\nrelu(x),0.95\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = RewardTable.load(path)
    assert second is not first and second.lookup("relu(x)") == (0.95, None)
    assert math.isclose(first.lookup("relu(x)")[0], 0.9)
