"""The reward surrogate inside a search: config, pool, recorded predictions, resume.

Inline backend and instant fake children (tests/fake_tasks.py), so the runner,
the store and the read commands are the real ones.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search.cli import main
from search.config import ConfigError, config_from_text
from search.inspect.show import predicted_text, show_text
from search.inspect.top import top_table
from search.launch import LaunchError, run_search
from search.store import Store

ROOT = Path(__file__).resolve().parent.parent
SPACE = ("space: {units: 1, unary: [identity, neg, sigmoid, tanh, sin, exp, abs, square], "
         "binary: [add, mul, max, min]}")


def _config(*lines: str, space: str = SPACE):
    return config_from_text("\n".join([space, "evaluate: tests.fake_tasks:instant",
                                       "backend: {kind: inline, workers: 2}", *lines]))


def test_surrogate_keys_are_checked_with_their_ranges():
    assert _config("strategy: {name: surrogate}", "budget: {max_evaluations: 5}"
                   ).surrogate.model == "knn"
    for bad, words in [("surrogate: {kappa: -1}", "surrogate.kappa: must be in [0, 100]"),
                       ("surrogate: {filter: 0}", "surrogate.filter: must be in [1, 100]"),
                       ("surrogate: {model: svm}", "surrogate.model 'svm' is not one of"),
                       ("surrogate: {modle: gp}", "did you mean 'model'"),
                       ("space: {pool: f.txt, unary: [sin]}", "space.pool: a pool is the whole")]:
        with pytest.raises(ConfigError, match=".*".join(map(_escaped, words.split()))):
            _config(bad, "budget: {max_evaluations: 5}")


def _escaped(word: str) -> str:
    import re

    return re.escape(word)


def test_filtered_search_records_passed_over_functions_as_predicted(tmp_path):
    config = _config("strategy: {name: random, seed: 3}", "surrogate: {filter: 4, initial: 4}",
                     "budget: {max_evaluations: 16}")
    run_dir, progress = run_search(config, out=tmp_path / "run")
    assert progress.stopped_by == "budget"
    with Store(run_dir) as store:
        count, best = store.predicted_untrained()
        trained = {c.fingerprint for c in store.candidates()}
        assert count >= 12 and len(best) == count  # 4x over-proposed, 3 of 4 passed over
        assert not {p.key for p in best} & trained  # a trained function is not "predicted"
        assert best == sorted(best, key=lambda p: -p.mean)
        pairs = store.prediction_pairs()
        assert len(pairs) >= 8  # every proposal after the first `initial` was predicted
        table = top_table(store, 5)
        assert f"predicted, not trained: {count} functions" in table
        assert f"`{best[0].text}`" in table
        shown = predicted_text(store, best[0].text)
        assert "status:      predicted, not trained" in shown
        predicted_candidate = next(c for c in store.candidates() if c.text == pairs[-1][0])
        assert "predicted:   " in show_text(store, predicted_candidate)
    table_file = tmp_path / "rewards.csv"
    assert main(["export-table", str(run_dir), "-o", str(table_file)]) == 0
    with open(table_file, newline="") as f:
        exported = [row["expression"] for row in csv.DictReader(f)]
    assert len(exported) == 16 and best[0].text not in exported  # predictions stay out


def test_a_search_without_the_surrogate_records_no_prediction(tmp_path):
    run_dir, _ = run_search(_config("strategy: {name: random}", "budget: {max_evaluations: 6}"),
                            out=tmp_path / "run")
    with Store(run_dir) as store:
        assert store.predicted_untrained() == (0, [])
        assert store.prediction_pairs() == []
        assert "predicted" not in top_table(store, 5)


def test_a_pool_file_is_searched_and_kept_with_the_run(tmp_path):
    pool = tmp_path / "pool.txt"
    functions = ["x * sigmoid(x)", "max(x, 0)", "tanh(x)", "x + sin(x)", "# a comment", "",
                 "sigmoid(x) * x"]  # the last is the first one again: one function
    pool.write_text("\n".join(functions) + "\n")
    config = _config("strategy: {name: exhaustive, order: predicted}",
                     "surrogate: {initial: 2}", space=f"space: {{pool: {pool}}}")
    run_dir, progress = run_search(config, out=tmp_path / "run")
    assert progress.stopped_by == "exhausted"
    pool.write_text("cos(x)\n")  # a changed file does not change the run
    with Store(run_dir) as store:
        texts = sorted(c.text for c in store.candidates())
        assert texts == sorted(["x * sigmoid(x)", "max(x, 0)", "tanh(x)", "x + sin(x)"])
        assert store.config()["space"]["functions"][0] == "x * sigmoid(x)"


def test_a_bad_pool_line_is_one_line_naming_file_and_line(tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("tanh(x)\nsin(x +\n")
    config = _config("strategy: {name: surrogate}", "budget: {max_evaluations: 5}",
                     space=f"space: {{pool: {pool}}}")
    with pytest.raises(LaunchError, match=rf"space.pool: .*{pool.name}:2"):
        run_search(config, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


# -- killed and resumed ----------------------------------------------------------------


SURROGATE_RUN = [SPACE, "evaluate: tests.fake_tasks:slow",
                 # One worker: each proposal is made after every earlier one was told, so
                 # the order the strategy hears rewards in is the same with and without a
                 # kill (with more workers it depends on which child finishes first).
                 "backend: {kind: inline, workers: 1}",
                 "strategy: {name: surrogate, seed: 5}", "surrogate: {initial: 6}",
                 "budget: {max_evaluations: 18, checkpoint_every: 3}"]


def _proposed(run_dir: Path) -> list[str]:
    with Store(run_dir) as store:
        return [c.canonical for c in store.candidates()]  # in the order first proposed


def _actsearch(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "search.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_surrogate_search_killed_and_resumed_proposes_what_an_uninterrupted_one_would(
        tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("\n".join(SURROGATE_RUN))
    env = {**os.environ, "FAKE_TASK_SECONDS": "0.15"}
    whole = _actsearch("run", str(config), "--out", str(tmp_path / "whole"), env=env)
    assert whole.wait(timeout=600) == 0, whole.communicate()
    expected = _proposed(tmp_path / "whole")
    assert len(expected) >= 18  # and the pre-screened, which take no training

    run_dir = tmp_path / "killed"
    driver = _actsearch("run", str(config), "--out", str(run_dir), env=env)
    deadline = time.monotonic() + 300  # a hang guard, generous for a busy machine
    while len(_done(run_dir)) < 4 and time.monotonic() < deadline:  # in the uniform start
        assert driver.poll() is None, driver.communicate()
        time.sleep(0.03)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert 4 <= len(_done(run_dir)) < len(expected)
    resumed = _actsearch("run", "--resume", str(run_dir), env=env)
    assert resumed.wait(timeout=600) == 0, resumed.communicate()
    assert _proposed(run_dir) == expected


def _done(run_dir: Path) -> list[str]:
    if not (run_dir / "search.db").exists():
        return []
    try:
        with Store(run_dir) as store:
            return [c.canonical for c in store.candidates() if c.status != "pending"]
    except Exception:  # the store is being created
        return []


def _first_trained(run_dir: Path, count: int) -> list[str]:
    with Store(run_dir) as store:
        trained = [c for c in store.candidates() if c.status == "ok"]
        return [c.text for c in trained[:count]]


def test_a_prior_table_starts_the_search_at_its_best_and_is_kept_by_absolute_path(
        tmp_path, monkeypatch):
    table = tmp_path / "prior.csv"
    table.write_text("expression,reward\nsin(x),0.1\nx * sigmoid(x),0.95\ntanh(x) + x,0.9\n"
                     "exp(x),nan\nabs(x),0.2\n")
    monkeypatch.chdir(tmp_path)
    config = _config("strategy: {name: surrogate, seed: 4}",
                     "surrogate: {prior: prior.csv, initial: 6}", "budget: {max_evaluations: 8}")
    run_dir, _ = run_search(config, out=tmp_path / "run")
    from space import parse

    first = {parse(text).fingerprint for text in _first_trained(run_dir, 2)}
    assert first == {parse("tanh(x) + x").fingerprint, parse("x * sigmoid(x)").fingerprint}
    saved = (run_dir / "config.yaml").read_text()
    assert f"prior: {table}" in saved  # absolute: a resume from elsewhere reads the same file


def test_an_earlier_run_is_a_prior(tmp_path):
    first, _ = run_search(_config("strategy: {name: exhaustive}", "budget: {max_evaluations: 12}"),
                          out=tmp_path / "first")
    with Store(first) as store:
        best = store.top(1)[0].canonical
    second, _ = run_search(_config("strategy: {name: exhaustive, order: predicted}",
                                   f"surrogate: {{prior: {first}}}",
                                   "budget: {max_evaluations: 3}"), out=tmp_path / "second")
    with Store(second) as store:
        assert best in [c.canonical for c in store.candidates()][:2]


@pytest.mark.parametrize("lines, error, words", [
    (["strategy: {name: surrogate}", "surrogate: {prior: nowhere.csv}"], "PriorError",
     "nowhere.csv does not exist; give an earlier run's directory or a reward table"),
    (["strategy: {name: surrogate}", "surrogate: {prior: empty}"], "PriorError",
     "surrogate.prior: "),
    (["strategy: {name: random}", "surrogate: {prior: p.csv}"], "ConfigError",
     "surrogate.prior: is read by strategy surrogate and by exhaustive"),
])
def test_a_prior_that_cannot_be_used_is_one_line_and_no_run(tmp_path, monkeypatch, lines,
                                                            error, words):
    from search.prior import PriorError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises((PriorError, ConfigError)) as raised:
        run_search(_config(*lines, "budget: {max_evaluations: 3}"), out=tmp_path / "run")
    assert type(raised.value).__name__ == error
    message = str(raised.value)
    assert words in message and "\n" not in message
    assert not (tmp_path / "run").exists()
