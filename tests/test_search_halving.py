"""Successive halving: rungs, promotions, budgets and resume (inline backend, fake children)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from search.cli import main
from search.config import config_from_text
from search.halving import promotions
from search.launch import run_search
from search.store import Store
from tests.fake_tasks import score

SPACE = ("space: {units: 1, unary: [identity, neg, sigmoid, tanh, sin, exp], "
         "binary: [add, mul, max, sub]}")


def _config(candidates: int, **sections: str):
    lines = [SPACE, "evaluate: tests.fake_tasks:instant", "backend: {kind: inline, workers: 2}",
             "task: {steps: 7}", "strategy: {name: random, seed: 5}",
             f"budget: {{max_evaluations: {candidates}}}",
             "halving: {rungs: [100, 300, 900], eta: 3}"]
    lines += [f"{key}: {value}" for key, value in sections.items()]
    return config_from_text("\n".join(lines))


@pytest.fixture
def steps_log(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "steps.log"
    monkeypatch.setenv("FAKE_TASK_STEPS_LOG", str(path))
    return path


def _trainings(log: Path) -> list[tuple[int, str, int]]:
    rows = [line.split("\t") for line in log.read_text().splitlines()]
    return [(int(steps), expr, int(seed)) for steps, expr, seed in rows]


def test_eta_3_over_9_candidates_trains_9_then_3_then_1(tmp_path, steps_log, capsys):
    run_dir, progress = run_search(_config(9), out=tmp_path / "run")
    trainings = _trainings(steps_log)
    per_rung = Counter(steps for steps, _, _ in trainings)
    assert per_rung == {100: 9, 300: 3, 900: 1}
    first = {expr for steps, expr, _ in trainings if steps == 100}
    second = {expr for steps, expr, _ in trainings if steps == 300}
    third = {expr for steps, expr, _ in trainings if steps == 900}
    assert second == set(sorted(first, key=score, reverse=True)[:3])  # the best third
    assert third == {max(second, key=score)}
    with Store(run_dir) as store:
        best = store.top(1)[0]
        assert best.text in third and best.rung == 2
        rungs = Counter(e.rung for e in store.evaluations() if e.worker != "prescreen")
        assert rungs == {0: 9, 1: 3, 2: 1}
        assert {e.steps for e in store.evaluations() if e.rung == 2} == {900}
        assert [c.rung for c in store.top(3)] == [2, 1, 1]
    assert progress.best is not None and progress.best.rung == 2
    assert main(["top", str(run_dir), "-k", "3"]) == 0
    table = capsys.readouterr().out
    assert "| rung |" in table and f"| `{best.text}` |" in next(
        line for line in table.splitlines() if line.startswith("| 1"))


def test_seeds_go_up_the_rungs_together(tmp_path, steps_log):
    config = _config(18, seeds="[0, 1]")
    run_search(config, out=tmp_path / "run")
    per_rung = Counter(steps for steps, _, _ in _trainings(steps_log))
    assert per_rung == {100: 18, 300: 6, 900: 2}  # 9 candidates x 2 seeds, then 3, then 1


def test_a_partial_last_cohort_is_ranked_when_the_search_stops(tmp_path, steps_log):
    run_search(_config(15), out=tmp_path / "run")  # cohorts of 9 and 6
    per_rung = Counter(steps for steps, _, _ in _trainings(steps_log))
    assert per_rung == {100: 15, 300: 3 + 2, 900: 1}  # 6 // 3 = 2 promoted, 2 // 3 = none


def test_resume_mid_rung_trains_nothing_twice(tmp_path, steps_log):
    config = _config(9)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _interrupt_after(config, run_dir, trainings=10)  # 9 at rung 0, then one of rung 1
    with Store(run_dir) as store:
        recorded = {(e.steps, store.candidate(e.candidate_id).text, e.seed)
                    for e in store.evaluations() if e.status == "ok"}
        assert store.evaluations(status="running") == []  # a stopped search marks them
        abandoned = store.evaluations(status="abandoned")
    assert len(recorded) == 10 and {e.rung for e in abandoned} == {1}  # stopped mid-rung 1
    steps_log.unlink()
    run_search(None, resume=str(run_dir))
    again = Counter(_trainings(steps_log))
    assert not recorded & set(again)  # nothing recorded is trained again
    assert max(again.values()) == 1
    with Store(run_dir) as store:
        rungs = Counter(e.rung for e in store.evaluations() if e.worker != "prescreen")
        assert rungs == {0: 9, 1: 3, 2: 1} and store.counts()["ok"] == 13


def _interrupt_after(config, run_dir: Path, trainings: int) -> None:
    """Run until ``trainings`` results are recorded, then raise KeyboardInterrupt in the
    driver from inside the store's write (as Ctrl-C would between two results)."""
    from search import store as store_module

    original = store_module.Store.record_result
    count = {"n": 0}

    def record(self, *args, **kwargs):
        if count["n"] >= trainings:
            raise KeyboardInterrupt
        count["n"] += 1
        return original(self, *args, **kwargs)

    store_module.Store.record_result = record
    try:
        _, progress = run_search(config, out=run_dir)
        if progress.stopped_by == "interrupted":
            raise KeyboardInterrupt
    finally:
        store_module.Store.record_result = original


def test_promotions_are_idempotent_and_wait_for_full_cohorts(tmp_path, steps_log):
    run_dir, _ = run_search(_config(9), out=tmp_path / "run")
    config = _config(9)
    with Store(run_dir) as store:
        assert promotions(store, config.halving, closing=True) == []  # all done already


def test_halving_config_is_checked():
    from search.config import ConfigError

    with pytest.raises(ConfigError, match=r"halving\.eta: must be in \[2, 100\], got 1"):
        _config(9, halving="{rungs: [1, 2], eta: 1}")
    with pytest.raises(ConfigError, match=r"halving\.rungs: must increase"):
        _config(9, halving="{rungs: [300, 100]}")
