"""The search loop with the inline backend and instant fake children (tests/fake_tasks.py)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from evaluator import prescreen
from search.config import config_from_text
from search.launch import run_search
from search.runner import RunAborted
from search.store import Store
from space import SearchSpace
from space.enumerate import unique_functions

SPACE = ("space: {units: 1, unary: [identity, neg, sigmoid, tanh, sin, exp], "
         "binary: [add, mul, max, sub]}")


def _config(task: str = "instant", **sections: str):
    lines = [SPACE, f"evaluate: tests.fake_tasks:{task}",
             "backend: {kind: inline, workers: 2}", "task: {steps: 7}"]
    lines += [f"{key}: {value}" for key, value in sections.items()]
    return config_from_text("\n".join(lines))


def _trained(log: Path) -> Counter:
    """How often each expression was trained (from the fake task's log)."""
    if not log.exists():
        return Counter()
    return Counter(line.split(" ", 1)[1] for line in log.read_text().splitlines())


@pytest.fixture
def log(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "trained.log"
    monkeypatch.setenv("FAKE_TASK_LOG", str(path))
    return path


def test_exhaustive_trains_each_valid_function_once(tmp_path, log):
    config = _config(strategy="{name: exhaustive}")
    run_dir, progress = run_search(config, out=tmp_path / "run")
    space = SearchSpace(1, config.space.unary, config.space.binary)
    functions = [expr for _, _, expr in unique_functions(space)]
    valid = [e for e in functions if prescreen(e) is None]
    assert progress.stopped_by == "exhausted"
    trained = _trained(log)
    assert set(trained.values()) == {1}
    assert sorted(trained) == sorted(e.text for e in valid)
    with Store(run_dir) as store:
        candidates = store.candidates()
        assert len(candidates) == len(functions)
        assert all(c.status != "pending" for c in candidates)
        assert sum(c.proposals for c in candidates) == space.size  # every proposal answered
        invalid = store.candidates(status="invalid")
        assert len(invalid) == len(functions) - len(valid)
        assert all(c.note and store.evaluations(c.id)[0].worker == "prescreen" for c in invalid)
        assert store.top(1)[0].canonical == "x * sigmoid(x)"
    assert progress.trained == len(valid) and progress.best.canonical == "x * sigmoid(x)"


def test_canonical_dedup_trains_numerically_equal_spellings_separately(tmp_path, log):
    by_fingerprint = run_search(_config(strategy="{name: exhaustive}"), out=tmp_path / "a")[1]
    log.unlink()
    by_canonical = run_search(_config(strategy="{name: exhaustive}", dedup="canonical"),
                              out=tmp_path / "b")[1]
    assert set(_trained(log).values()) == {1}
    assert by_canonical.trained > by_fingerprint.trained


@pytest.mark.parametrize("name", ["random", "evolution", "reinforce", "ppo"])
def test_every_strategy_runs_to_its_evaluation_budget(tmp_path, log, name):
    config = _config(strategy=f"{{name: {name}, seed: 3, batch_size: 4}}",
                     budget="{max_evaluations: 12}")
    run_dir, progress = run_search(config, out=tmp_path / "run")
    assert progress.stopped_by in ("budget", "proposals")
    assert progress.trained == 12 == sum(_trained(log).values())
    assert set(_trained(log).values()) == {1}
    with Store(run_dir) as store:
        assert store.count_trained() == 12
        assert store.latest_checkpoint() is not None


def test_a_run_full_of_nan_children_completes(tmp_path, log):
    config = _config("nan", strategy="{name: reinforce, batch_size: 4}",
                     budget="{max_evaluations: 10}")
    run_dir, progress = run_search(config, out=tmp_path / "run")
    assert progress.stopped_by in ("budget", "proposals") and progress.trained == 10
    with Store(run_dir) as store:
        evaluations = [e for e in store.evaluations() if e.worker != "prescreen"]
        assert len(evaluations) == 10 and {e.status for e in evaluations} == {"diverged"}
        assert all(math.isinf(e.curves["train_loss"][1]) for e in evaluations)


def test_nan_rewards_are_stored_and_told_as_diverged(tmp_path, log):
    config = _config("nan_ok", strategy="{name: ppo, batch_size: 4}",
                     budget="{max_evaluations: 8}")
    run_dir, progress = run_search(config, out=tmp_path / "run")
    assert progress.trained == 8
    assert progress.best is None or progress.best.status == "invalid"
    with Store(run_dir) as store:
        trained = [c for c in store.candidates() if c.status == "ok"]
        assert len(trained) == 8 and all(math.isnan(c.reward) for c in trained)
        assert all(c.status == "invalid" for c in store.top(10))  # NaN never ranks


def test_seeds_average_and_count_against_the_budget(tmp_path, log):
    config = _config(strategy="{name: random}", seeds="[0, 1, 2]",
                     budget="{max_evaluations: 9}")
    run_dir, progress = run_search(config, out=tmp_path / "run")
    assert progress.trained == 9
    with Store(run_dir) as store:
        done = [c for c in store.candidates() if c.status == "ok"]
        assert len(done) == 3
        assert all(len(store.evaluations(c.id)) == 3 for c in done)


def test_errors_in_a_row_abort_and_keep_what_was_recorded(tmp_path, log):
    config = _config("failing", strategy="{name: random}",
                     budget="{max_consecutive_errors: 4, max_evaluations: 100}")
    with pytest.raises(RunAborted, match=r"4 child trainings in a row.*fake crash in training"):
        run_search(config, out=tmp_path / "run")
    with Store(tmp_path / "run") as store:
        assert store.counts()["error"] == 4


def test_a_broken_setup_stops_at_once_and_resume_reruns_the_child(tmp_path, log, monkeypatch):
    config = _config("broken", strategy="{name: exhaustive}")
    with pytest.raises(RunAborted, match=r"could not run on .*DataError: cifar10 not found"):
        run_search(config, out=tmp_path / "run")
    with Store(tmp_path / "run") as store:  # nothing scored: the children are still to train
        assert "error" not in store.counts() and "running" not in store.counts()
        waiting = {e.id for e in store.evaluations(status="abandoned")}
    assert waiting
    monkeypatch.setenv("FAKE_TASK_FIXED", "1")
    _, progress = run_search(None, resume=str(tmp_path / "run"))
    assert progress.stopped_by == "exhausted" and set(_trained(log).values()) == {1}
    with Store(tmp_path / "run") as store:
        assert all(e.status == "ok" for e in store.evaluations() if e.id in waiting)


def test_time_budget_stops_and_resume_finishes_without_retraining(tmp_path, log, monkeypatch):
    monkeypatch.setenv("FAKE_TASK_SECONDS", "0.05")
    config = _config("slow", strategy="{name: exhaustive}",
                     budget="{max_seconds: 0.4, checkpoint_every: 3}")
    run_dir, first = run_search(config, out=tmp_path / "run")
    assert first.stopped_by == "time" and first.trained > 0
    _, second = run_search(None, resume=str(run_dir))
    assert second.stopped_by in ("time", "exhausted")
    while second.stopped_by == "time":
        _, second = run_search(None, resume=str(run_dir))
    assert set(_trained(log).values()) == {1}
    everything = run_search(_config(strategy="{name: exhaustive}"), out=tmp_path / "fresh")[1]
    assert second.trained == everything.trained


def test_a_second_search_into_the_same_directory_is_refused(tmp_path, log):
    from search.launch import LaunchError
    run_search(_config(strategy="{name: random}", budget="{max_evaluations: 2}"),
               out=tmp_path / "run")
    with pytest.raises(LaunchError, match="already holds a search"):
        run_search(_config(strategy="{name: exhaustive}"), out=tmp_path / "run")


class _Stubborn:
    """A strategy that proposes one function forever (a converged controller)."""

    def __init__(self, tokens):
        self.tokens, self.asked, self.told = tokens, 0, []

    def ask(self, n):
        self.asked += n
        return [self.tokens] * n

    def tell(self, results):
        self.told.extend(results)

    def state_dict(self):
        return {"asked": self.asked}

    def load_state_dict(self, state):
        self.asked = state["asked"]

    @property
    def exhausted(self):
        return False


def test_repeated_proposals_wait_for_the_one_training_and_hit_the_proposal_cap(tmp_path, log):
    from search.backends import InlineBackend
    from search.launch import task_for_children
    from search.runner import Runner

    config = _config(budget="{max_evaluations: 5, max_proposals: 40}")
    space = SearchSpace(1, config.space.unary, config.space.binary)
    swish = (0, 0, 0, 2, 1)  # x * sigmoid(x)
    strategy = _Stubborn(swish)
    task = task_for_children(config)
    with Store(tmp_path / "run", writer=True) as store:
        runner = Runner(config, store, InlineBackend(config.evaluate, task), strategy, space, task)
        progress = runner.run()
        assert progress.stopped_by == "proposals" and strategy.asked == 40
        assert progress.trained == 1 and sum(_trained(log).values()) == 1
        assert len(strategy.told) == 40 and {r for _, r in strategy.told} == {1.0}
        assert store.find("x * sigmoid(x)").proposals == 40


def test_children_get_threads_from_num_cpus_and_an_absolute_data_dir(tmp_path, monkeypatch):
    from search.launch import task_for_children

    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    config = config_from_text("backend: {num_cpus: 3}\ntask: {data_dir: data, threads: 1}")
    task = task_for_children(config)
    assert task["threads"] == 3 and task["data_dir"] == str(tmp_path / "data")


def test_progress_counts_functions_like_top_and_ends_at_its_total(tmp_path, log):
    """The bar's unit is the function: its position and counts by status equal what `top`
    reads from the store at every update, and an exhaustive search ends at its total."""
    from search.inspect.top import summary

    run_dir = tmp_path / "run"
    seen = []

    def on_update(progress) -> None:
        with Store(run_dir) as reader:  # what `actsearch top` would print now
            counts = summary(reader)["functions"]
        assert progress.functions == counts["by_status"]
        assert progress.pending == counts["pending"]
        assert progress.total is None or progress.finished <= progress.total
        seen.append((progress.finished, progress.total))

    config = _config(strategy="{name: exhaustive}")
    _, progress = run_search(config, out=run_dir, on_update=on_update)
    space = SearchSpace(1, ["identity", "neg", "sigmoid", "tanh", "sin", "exp"],
                        ["add", "mul", "max", "sub"])
    functions = sum(1 for _ in unique_functions(space))
    assert seen[-1] == (functions, functions) and progress.functions["invalid"] > 0
    assert {total for _, total in seen} == {functions}  # known from the start


def test_a_time_stop_marks_abandoned_children_and_counts_survive_the_resume(
        tmp_path, log, monkeypatch):
    from search.inspect.top import summary_lines

    monkeypatch.setenv("FAKE_TASK_SECONDS", "0.05")
    config = _config("slow", strategy="{name: exhaustive}",
                     budget="{max_seconds: 0.5, checkpoint_every: 3}")
    run_dir, first = run_search(config, out=tmp_path / "run")
    assert first.stopped_by == "time"
    assert not (run_dir / "search.lock").exists()  # removed when the search ended
    with Store(run_dir) as store:
        assert store.evaluations(status="running") == []
        abandoned = {e.id for e in store.evaluations(status="abandoned")}
        lines = summary_lines(store)
    assert abandoned, "the inline backend leaves its queued children unfinished"
    assert "running" not in lines[1] and f"{len(abandoned)} abandoned" in lines[1]
    starts = []
    _, second = run_search(None, resume=str(run_dir),
                           on_start=lambda d, c, p: starts.append(
                               (p.finished, dict(p.functions), p.duplicates)))
    assert starts[0] == (first.finished, first.functions, first.duplicates)  # from the store
    assert second.duplicates >= first.duplicates and second.finished >= first.finished
    with Store(run_dir) as store:
        again = [e for e in store.evaluations() if e.id in abandoned]
    assert all(e.status != "abandoned" and e.attempts == 2 for e in again)
    assert set(_trained(log).values()) == {1}


def test_the_bar_counts_every_child_out_when_it_is_drawn(tmp_path, log, monkeypatch):
    """Issue 22: drawn right after a result, before the freed worker got its next child,
    the bar said "1 training" while 2 children ran. It is drawn after the refill."""
    from search.cli.run import progress_text

    monkeypatch.setenv("FAKE_TASK_SECONDS", "0.02")
    shown = []

    def on_update(progress) -> None:
        shown.append((progress.training, progress_text(progress)))

    config = _config("slow", strategy="{name: exhaustive}", budget="{max_evaluations: 8}")
    run_search(config, out=tmp_path / "run", on_update=on_update)
    during = [training for training, _ in shown[:-1]]
    assert during and max(during) == 2  # both workers busy while the search runs
    assert any("| 2 training |" in text for _, text in shown)
    assert shown[-1][0] == 0 and "training" not in shown[-1][1]  # the end: none out
