"""The Ray backend on one local Ray of 2 CPUs (started once for this module)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
import ray

from search.backends import BackendError
from search.config import config_from_text
from search.inspect.show import show_text
from search.launch import run_search
from search.ray_backend import init_options
from search.store import Store

ROOT = Path(__file__).resolve().parent.parent

SPACE = "space: {units: 1, unary: [identity, neg, sigmoid, tanh], binary: [add, mul, max]}"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Fault-injection files; the environment is set before Ray starts so workers see it."""
    root = tmp_path_factory.mktemp("ray")
    paths = {"log": root / "trained.log", "crash": root / "crashed"}
    saved = {k: os.environ.get(k) for k in ("FAKE_TASK_LOG", "FAKE_TASK_CRASH_ONCE")}
    os.environ["FAKE_TASK_LOG"] = str(paths["log"])
    os.environ["FAKE_TASK_CRASH_ONCE"] = str(paths["crash"])
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield paths
    ray.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _config(task: str, **sections: str):
    lines = [SPACE, f"evaluate: tests.fake_tasks:{task}", "task: {steps: 7}",
             "strategy: {name: exhaustive}"]
    backend = sections.pop("backend", "{}")
    lines.append(f"backend: {{kind: ray, workers: 2, num_cpus: 1, {backend.strip('{}')}}}")
    lines += [f"{key}: {value}" for key, value in sections.items()]
    return config_from_text("\n".join(lines))


def _trained(log: Path) -> Counter:
    return Counter(line.split(" ", 1)[1] for line in log.read_text().splitlines())


def test_ray_search_matches_inline(files, tmp_path):
    files["log"].unlink(missing_ok=True)
    run_dir, progress = run_search(_config("instant"), out=tmp_path / "ray")
    inline_dir, inline = run_search(
        config_from_text("\n".join([SPACE, "evaluate: tests.fake_tasks:instant",
                                    "task: {steps: 7}", "strategy: {name: exhaustive}",
                                    "backend: {kind: inline}"])), out=tmp_path / "inline")
    assert progress.stopped_by == inline.stopped_by == "exhausted"
    assert ray.is_initialized()  # a Ray the run did not start is left running
    with Store(run_dir) as a, Store(inline_dir) as b:
        rows = {(c.canonical, c.status, c.reward) for c in a.candidates()}
        assert rows == {(c.canonical, c.status, c.reward) for c in b.candidates()}
        workers = {e.worker for e in a.evaluations() if e.worker != "prescreen"}
        assert all(":" in w for w in workers) and os.getpid() not in {
            int(w.split()[0].split(":")[1]) for w in workers}  # children ran in worker processes


def test_worker_killed_mid_child_is_retried_and_recorded_once(files, tmp_path):
    files["log"].unlink(missing_ok=True)
    files["crash"].unlink(missing_ok=True)
    run_dir, progress = run_search(_config("crash_once", budget="{max_evaluations: 6}",
                                           backend="{max_retries: 2}"), out=tmp_path / "run")
    pid, crashed_expr = files["crash"].read_text().split(" ", 1)
    crashed_expr = crashed_expr.strip()
    assert progress.trained == 6 and progress.failures == 0
    trained = _trained(files["log"])
    assert trained[crashed_expr] == 1 and set(trained.values()) == {1}
    assert int(pid) not in {int(line.split()[0]) for line in
                            files["log"].read_text().splitlines()}  # a new process finished it
    with Store(run_dir) as store:
        candidate = store.find(crashed_expr)
        (evaluation,) = store.evaluations(candidate.id)
        assert evaluation.status == "ok" and candidate.status == "ok"
        # the retry leaves a trace: the attempt count and why the first attempt ended
        assert evaluation.attempts == 2
        assert evaluation.retries == ["attempt 1: the worker process died (WorkerCrashedError)"]
        assert "attempts 2" in show_text(store, candidate)
        assert "retried: attempt 1: the worker process died" in show_text(store, candidate)
        others = [e for e in store.evaluations() if e.candidate_id != candidate.id]
        assert all(e.attempts == 1 and e.retries == [] for e in others)


def test_worker_dying_on_every_attempt_is_recorded_as_error(files, tmp_path):
    files["crash"].unlink(missing_ok=True)
    run_dir, progress = run_search(_config("crash_once", budget="{max_evaluations: 3}",
                                           backend="{max_retries: 0}"), out=tmp_path / "run")
    assert progress.trained == 3 and progress.failures == 1
    with Store(run_dir) as store:
        (failed,) = store.evaluations(status="error")
        assert "worker process died on every attempt (1)" in failed.error
        assert failed.attempts == 1 and failed.retries == []


def test_hard_timeout_kills_a_hung_child(files, tmp_path):
    run_dir, progress = run_search(_config("sleepy", budget="{max_evaluations: 2}",
                                           backend="{timeout_s: 1.5}"), out=tmp_path / "run")
    assert progress.trained == 2 and progress.failures == 2
    with Store(run_dir) as store:
        assert {e.status for e in store.evaluations() if e.worker != "prescreen"} == {"timeout"}
        assert all("timeout_s=1.5" in e.error for e in store.evaluations(status="timeout"))


def test_gpu_request_no_node_can_meet_fails_in_one_line(files, tmp_path):
    with pytest.raises(BackendError, match=r"no Ray node can run a child needing 1 CPU and "
                                           r"0.5 GPU .*set backend.num_gpus: 0"):
        run_search(_config("instant", backend="{num_gpus: 0.5}"), out=tmp_path / "run")


def test_time_budget_then_resume_trains_no_recorded_child_again(files, tmp_path):
    """Regression: children done when the time ran out were dropped, then trained again.

    A child still running at the stop is cancelled (best effort: Ray may let it
    finish unseen) and rerun by the resume; one recorded as finished never is.
    """
    files["log"].unlink(missing_ok=True)
    config = _config("slow", budget="{max_seconds: 1.5, checkpoint_every: 2}")
    run_dir, progress = run_search(config, out=tmp_path / "run")
    assert progress.stopped_by == "time"
    for _ in range(20):
        _, progress = run_search(None, resume=str(run_dir))
        if progress.stopped_by != "time":
            break
    assert progress.stopped_by == "exhausted"
    trained = _trained(files["log"])
    with Store(run_dir) as store:
        assert store.evaluations(status="running") == []
        for expr, times in trained.items():
            (evaluation,) = store.evaluations(store.find(expr).id)
            assert evaluation.status == "ok"
            assert times <= evaluation.attempts  # trained again only if it was out at a stop


def test_raylet_warnings_are_written_above_the_progress_bar(tmp_path):
    """Ray prints '(raylet) A worker died ...' to stdout from a thread; in a terminal that
    line used to be drawn across the progress bar. It must start a line of its own."""
    config = tmp_path / "crash.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:crash_once",
                                 "task: {steps: 7}", "strategy: {name: exhaustive}",
                                 "backend: {kind: ray, workers: 1, num_cpus: 1}",
                                 "budget: {max_evaluations: 4}"]))
    env = {**os.environ, "FAKE_TASK_CRASH_ONCE": str(tmp_path / "crashed"),
           "PYTHONUNBUFFERED": "1"}  # as on a terminal: each print reaches the screen at once
    done = subprocess.run([sys.executable, "-m", "search.cli", "run", str(config), "--out",
                           str(tmp_path / "run")], cwd=ROOT, env=env, text=True, timeout=240,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # one screen
    out = done.stdout
    assert done.returncode == 0, out
    warnings = [m.start() for m in re.finditer(r"\(raylet\)", out)]
    assert warnings, out  # Ray did warn about the dead worker
    for at in warnings:
        line_start = max(out.rfind("\n", 0, at), out.rfind("\r", 0, at)) + 1
        assert re.fullmatch(r"(\x1b\[[0-9;]*m)*", out[line_start:at]), repr(out[line_start:at])


def test_local_ray_starts_without_the_dashboard_unless_asked():
    assert init_options(None, 2, 1.0, None)["include_dashboard"] is False
    assert init_options(None, 2, 1.0, None, dashboard=True)["include_dashboard"] is True
    assert "include_dashboard" not in init_options("ray://head:10001", 2, 1.0, None)
    assert config_from_text("backend: {dashboard: true}").backend.dashboard is True
    assert config_from_text("backend: {}").backend.dashboard is False


def test_a_local_search_starts_its_own_ray_whatever_the_machine_names(tmp_path):
    """With ``address: null`` a search used to join whatever RAY_ADDRESS (or a ``ray start``
    left on the machine) named, and was refused its local sizing: it must start its own."""
    config = tmp_path / "local.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:instant",
                                 "strategy: {name: exhaustive}", "budget: {max_evaluations: 2}",
                                 "backend: {kind: ray, workers: 1, num_cpus: 1, address: null}"]))
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:9"}  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "search.cli", "run", str(config), "--out",
                           str(tmp_path / "run")], cwd=ROOT, env=env, text=True, timeout=240,
                          capture_output=True)
    assert done.returncode == 0, done.stderr
    with Store(tmp_path / "run") as store:
        statuses = [e.status for e in store.evaluations()]
    assert "ok" in statuses and "running" not in statuses, statuses


def _ray_processes_of(tmp: Path) -> list[str]:
    """Command lines of the processes a Ray started under the temp folder ``tmp`` left."""
    done = subprocess.run(["ps", "-eo", "pid,args"], text=True, capture_output=True)
    return [line for line in done.stdout.splitlines() if str(tmp) in line]


def test_sigterm_while_ray_starts_ends_in_one_line_and_leaves_no_ray_behind(tmp_path):
    """A scheduler's SIGTERM during ray.init used to exit 15 silently (or abort with Ray's
    stack dump) and leave Ray's agents running with no parent."""
    config = tmp_path / "c.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:instant",
                                 "strategy: {name: exhaustive}", "budget: {max_evaluations: 3}",
                                 "backend: {kind: ray, workers: 1, num_cpus: 1}"]))
    ray_tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # Ray's socket paths are short
    env = {k: v for k, v in os.environ.items() if k != "RAY_DISABLE_FAILURE_SIGNAL_HANDLER"}
    env["RAY_TMPDIR"] = str(ray_tmp)
    driver = subprocess.Popen([sys.executable, "-m", "search.cli", "run", str(config), "--out",
                               str(tmp_path / "run")], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(ray_tmp.rglob("session_*")) and time.monotonic() < deadline:
        time.sleep(0.05)  # Ray has begun to start: its session folder is there
    driver.send_signal(signal.SIGTERM)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("actsearch:"), err
    assert "Traceback" not in err and "SIGTERM received" not in err, err
    deadline = time.monotonic() + 60
    while _ray_processes_of(ray_tmp) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _ray_processes_of(ray_tmp) == []
    shutil.rmtree(ray_tmp, ignore_errors=True)
