"""User tasks through the whole search: the digits example on Ray, and failing user code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from torch import nn

from search.cli import main
from search.store import Store

ROOT = Path(__file__).resolve().parent.parent
SPACE = "space: {units: 1, unary: [identity, sigmoid, tanh], binary: [add, mul]}"


def actsearch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search.cli", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=300, env={**os.environ, **(env or {})})


def test_digits_example_runs_on_ray_and_prints_a_top_table(tmp_path):
    config = yaml.safe_load((ROOT / "examples" / "digits.yaml").read_text())
    config["budget"]["max_evaluations"] = 6  # the shipped file, cut to a few children
    config["task"]["fidelity"]["steps"] = 60
    small = tmp_path / "digits.yaml"
    small.write_text(yaml.safe_dump(config))
    done = actsearch("run", str(small), "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert "best: " in done.stdout
    top = actsearch("top", str(tmp_path / "run"), "-k", "5")
    assert top.returncode == 0, top.stderr
    rows = [line for line in top.stdout.splitlines()
            if line.startswith("| ") and "rank" not in line]
    assert len(rows) == 5 and all("| ok |" in row for row in rows)
    with Store(tmp_path / "run") as store:
        rewards = [c.reward for c in store.top(6)]
        assert all(0.1 < r <= 1.0 for r in rewards)  # accuracies of a 10-class task
        evaluation = store.evaluations(store.top(1)[0].id)[0]
        assert evaluation.info["metrics"]["val_accuracy"] == rewards[0]
        assert evaluation.worker and evaluation.worker != "inline"  # trained by a Ray worker


def test_runtime_env_reaches_the_ray_workers(tmp_path):
    log = tmp_path / "trained.log"
    config = tmp_path / "c.yaml"
    config.write_text("\n".join([
        SPACE, "evaluate: tests.fake_tasks:instant", "strategy: {name: exhaustive}",
        "budget: {max_evaluations: 3}",
        "backend: {kind: ray, workers: 2, runtime_env: "
        f"{{env_vars: {{FAKE_TASK_LOG: {log}}}}}}}"]))
    env = {k: v for k, v in os.environ.items() if k != "FAKE_TASK_LOG"}
    done = subprocess.run([sys.executable, "-m", "search.cli", "run", str(config), "--out",
                           str(tmp_path / "run")], cwd=ROOT, text=True, capture_output=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert len(log.read_text().splitlines()) == 3  # only the workers saw the variable


@pytest.mark.parametrize("function, status, why", [
    ("raises", "error", "the user's training blew up"),
    ("no_reward", "error", "val_accuracy"),
    ("nan_reward", "diverged", "val_accuracy"),
])
def test_a_failing_user_task_is_recorded_and_the_search_goes_on(tmp_path, capsys, function,
                                                                 status, why):
    config = tmp_path / "c.yaml"
    config.write_text("\n".join([
        SPACE, "strategy: {name: exhaustive}", "backend: {kind: inline}",
        f"task: {{name: 'tests.user_tasks:{function}'}}",
        "budget: {max_evaluations: 4, max_consecutive_errors: 50}"]))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    with Store(tmp_path / "run") as store:
        trained = [e for e in store.evaluations() if e.worker != "prescreen"]
        assert len(trained) == 4 and {e.status for e in trained} == {status}
        ref = str(trained[0].candidate_id)
    capsys.readouterr()
    assert main(["show", str(tmp_path / "run"), ref]) == 0
    shown = capsys.readouterr().out
    assert f"status {status}" in shown and why in shown
    if function == "raises":
        assert "user_tasks.py:" in shown  # where it raised, from the traceback's last frames


def test_an_unimportable_user_task_is_one_line_before_anything_runs(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("\n".join([SPACE, "backend: {kind: inline}", "budget: {max_evaluations: 5}",
                                 "task: {name: 'nowhere.at_all:train'}"]))
    done = actsearch("run", str(config), "--out", str(tmp_path / "run"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "cannot import 'nowhere.at_all'" in done.stderr
    assert not (tmp_path / "run").exists()


def test_the_cifar10_mlp_example_trains_on_data_in_the_real_format(tmp_path, monkeypatch):
    from examples.cifar10_mlp import train
    from tests.evaluator_fixtures import write_cifar10

    write_cifar10(tmp_path, train_per_class=30)
    monkeypatch.setenv("ACTSEARCH_DATA", str(tmp_path))
    common = dict(fidelity={"steps": 40}, seed=0, device="cpu", hidden=32, layers=2,
                  lr=3e-3, batch_size=32, validation_size=100)
    learned = train(lambda width: nn.ReLU(), **common)
    assert 0.3 < learned["val_accuracy"] <= 1.0  # the synthetic classes are separable
    flat = train(lambda width: _Zero(), **common)  # a dead activation learns nothing
    assert flat["val_accuracy"] < learned["val_accuracy"]
    blown = train(lambda width: _Exploding(), **common)
    assert blown["val_accuracy"] != blown["val_accuracy"]  # NaN: the search records diverged


class _Zero(nn.Module):
    def forward(self, x):
        return x * 0.0


class _Exploding(nn.Module):
    def forward(self, x):
        return x * 1e30
