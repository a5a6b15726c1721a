"""A search on a multi-node Ray cluster made here (``ray.cluster_utils.Cluster``).

Every node declares GPUs; no CUDA is needed (children train nothing). The
evaluate target lives only in a temporary folder that reaches the workers
through ``backend.runtime_env.working_dir``; it appends one line per child
start and end (node, pid, time, ``CUDA_VISIBLE_DEVICES``, where its module was
loaded from) to a log: the oracle for placement, node loss and "trained once".
The driver is this process (``run_search`` joins the cluster and leaves it)
or an ``actsearch run`` subprocess; nothing here calls ``ray.init`` itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from functools import partial
from pathlib import Path

import pytest
import ray
import torch
from ray._private import ray_constants
from ray.cluster_utils import Cluster

from search.child import cpu_fallback
from search.config import config_from_text
from search.inspect.show import show_text
from search.inspect.top import top_table
from search.launch import run_search
from search.runner import RunAborted
from search.store import Store

ROOT = Path(__file__).resolve().parent.parent
SPACE = ("space: {units: 1, unary: [identity, neg, sigmoid, tanh, sin, exp], "
         "binary: [add, mul, max, sub]}")
HANG_S = 240  # a guard against a hang only: every search here takes seconds
# Ray's node failure detector, faster than its defaults (3 s x 5 missed checks) so a
# lost node is declared dead in a few seconds; loose enough for a loaded machine.
FAST_HEALTH_CHECK = {"health_check_initial_delay_ms": 1000, "health_check_period_ms": 1000,
                     "health_check_timeout_ms": 2000, "health_check_failure_threshold": 4}

TASK_MODULE = '''
import os, time
import ray
from evaluator import Result
from tests.fake_tasks import score

def _log(event, expr_text):
    node = ray.get_runtime_context().get_node_id()
    line = "\\t".join([event, node, str(os.getpid()), repr(time.time()), expr_text,
                      os.environ.get("CUDA_VISIBLE_DEVICES", "-"), __file__])
    with open(os.environ["CLUSTER_TASK_LOG"], "a") as log:
        log.write(line + "\\n")

def run(expr_text, task, seed=0, device=None):
    _log("start", expr_text)
    time.sleep(float(os.environ.get("CLUSTER_TASK_SECONDS", "0.4")))
    reward = score(expr_text)
    _log("end", expr_text)
    return Result(status="ok", reward=reward, val_accuracy=reward, step=task.steps,
                  seconds=0.4, expr=expr_text, seed=seed)
'''


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head and one more node, each 1 CPU and 1 GPU; the task's folder and log.

    Nodes inherit this environment: the log's path, and this checkout on
    ``PYTHONPATH`` so workers import the code under test. The address file Ray
    writes for ``ray.init()`` is removed, so no other Ray user on this machine
    joins this cluster by accident.
    """
    root = tmp_path_factory.mktemp("cluster")
    task_dir = root / "usercode"
    task_dir.mkdir()
    (task_dir / "cluster_only_task.py").write_text(TASK_MODULE)
    saved = {k: os.environ.get(k) for k in ("CLUSTER_TASK_LOG", "PYTHONPATH")}
    os.environ["CLUSTER_TASK_LOG"] = str(root / "children.log")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [saved["PYTHONPATH"]])])
    client_port = _free_port()
    made = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "num_gpus": 1, "include_dashboard": False,
        "ray_client_server_port": client_port, "_system_config": FAST_HEALTH_CHECK})
    try:
        made.add_node(num_cpus=1, num_gpus=1)
        made.wait_for_nodes()
        _forget_address_file(made.address)
        yield {"cluster": made, "task_dir": task_dir, "log": root / "children.log",
               "client": f"ray://127.0.0.1:{client_port}"}
    finally:
        connected = ray.is_initialized()
        ray.shutdown()
        made.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert not connected, "a test left this process connected to Ray"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _forget_address_file(address: str) -> None:
    path = Path("/tmp/ray/ray_current_cluster")
    try:
        if path.read_text().strip() == address:
            path.unlink()
    except OSError:
        pass


def _config(cluster: dict, *, workers: int = 4, num_cpus: float = 0.25,
            num_gpus: float = 0.5, budget: str = "{max_evaluations: 12}",
            seconds: float = 0.4, address: str | None = None):
    return config_from_text("\n".join([
        SPACE, "evaluate: cluster_only_task:run", "task: {steps: 3}",
        "strategy: {name: exhaustive}", f"budget: {budget}",
        f"backend: {{kind: ray, address: '{address or cluster['cluster'].address}', "
        f"workers: {workers}, "
        f"num_cpus: {num_cpus}, num_gpus: {num_gpus}, max_retries: 3, "
        f"runtime_env: {{working_dir: '{cluster['task_dir']}', "
        f"env_vars: {{CLUSTER_TASK_SECONDS: '{seconds}'}}}}}}"]))


def _events(log: Path, since: float = 0.0) -> list[dict]:
    keys = ("event", "node", "pid", "time", "expr", "cuda", "file")
    if not log.exists():
        return []
    rows = [dict(zip(keys, line.split("\t"))) for line in log.read_text().splitlines()]
    return [r for r in rows if float(r["time"]) >= since]


def _search(config, out: Path, on_update=None):
    """``run_search`` in a thread with a hang guard; its (run_dir, progress) or error."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = run_search(config, out=str(out), on_update=on_update)
        except BaseException as error:  # handed to the test
            outcome["error"] = error
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_S)
    assert not thread.is_alive(), "the search hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _max_concurrent(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    level = peak = 0
    for _, step in points:  # an end before a start at the same instant
        level += step
        peak = max(peak, level)
    return peak


def test_placement_honours_gpus_and_the_task_comes_by_runtime_env(cluster, tmp_path, caplog):
    assert "cluster_only_task" not in sys.modules
    started = time.time()
    caplog.set_level(logging.WARNING, logger="search.ray_backend")
    # 6 children out, room for 4: a node that took more than its GPUs allow would run 3+
    run_dir, progress = _search(_config(cluster, workers=6), tmp_path / "run")
    assert progress.stopped_by == "budget" and progress.trained == 12
    assert str(cluster["task_dir"]) not in sys.path  # the preflight's import left no trace
    events = _events(cluster["log"], started)
    by_node: dict[str, list[tuple[float, float]]] = defaultdict(list)
    begun = {(e["pid"], e["expr"]): float(e["time"]) for e in events if e["event"] == "start"}
    for e in events:
        if e["event"] == "end":
            by_node[e["node"]].append((begun[(e["pid"], e["expr"])], float(e["time"])))
    assert sum(map(len, by_node.values())) == 12
    for intervals in by_node.values():  # 1 GPU per node, 0.5 per child: two at a time
        assert _max_concurrent(intervals) <= 2
    # the module ran from Ray's copy of the folder, not from the folder itself
    assert all(not e["file"].startswith(str(cluster["task_dir"])) for e in events)
    with Store(run_dir) as store:
        trained = [e for e in store.evaluations() if e.worker != "prescreen"]
        assert {e.status for e in trained} == {"ok"}
        nodes = {n["NodeID"][:8] for n in ray_nodes(cluster)}
        for evaluation in trained:  # the worker column says where each child ran
            _, word, node, device, *_ = evaluation.worker.split(" ")
            assert word == "node" and node in nodes and device == "GPU"
        seen = {e.worker.split(" ")[2]: e.worker.split(" ")[4] for e in trained}
    # Ray set CUDA_VISIBLE_DEVICES to the GPU it gave the child
    assert {e["cuda"] for e in events} <= {"0"} and set(seen.values()) == {"0"}
    fallback = [r for r in caplog.records if "torch finds no CUDA" in r.getMessage()]
    expected = 0 if torch.cuda.is_available() else len(by_node)  # once per node
    assert len(fallback) == expected, [r.getMessage() for r in fallback]


def test_ray_client_runs_the_search_from_outside(cluster, tmp_path):
    """``ray://``: Ray Client runs no generator tasks; children still say where they ran."""
    started = time.time()
    run_dir, progress = _search(_config(cluster, address=cluster["client"],
                                        budget="{max_evaluations: 6}"), tmp_path / "run")
    assert progress.stopped_by == "budget" and progress.trained == 6
    nodes = {e["node"][:8] for e in _events(cluster["log"], started)}
    with Store(run_dir) as store:
        trained = [e for e in store.evaluations() if e.worker != "prescreen"]
        assert {e.status for e in trained} == {"ok"}
        assert {e.worker.split(" ")[2] for e in trained} == nodes


def ray_nodes(cluster: dict) -> list[dict]:
    """The cluster's nodes as Ray's GCS lists them (no ray.init in this process)."""
    return cluster["cluster"].global_state.node_table()


def test_cpu_fallback_is_said_only_for_auto_with_a_gpu_and_no_cuda():
    assert cpu_fallback("auto", ["0"], cuda=False) and cpu_fallback(None, ["1"], cuda=False)
    assert not cpu_fallback("auto", ["0"], cuda=True)
    assert not cpu_fallback("cpu", ["0"], cuda=False) and not cpu_fallback("auto", [], False)


def _when_busy(cluster: dict, node, since: float, done: threading.Event, action) -> None:
    """``action(node)`` once a child has started on ``node``."""
    while not done.is_set():
        if any(e["event"] == "start" and e["node"] == node.node_id
               for e in _events(cluster["log"], since)):
            action(node)
            return
        time.sleep(0.05)


def _node_processes(node) -> list[int]:
    """The pids of the node's raylet and everything it started (workers, agents): Linux."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    family = [node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid]
    for pid in family:  # grows while it is walked: children, grandchildren, ...
        family += [child for child, parent in parents.items() if parent == pid]
    return family


def _freeze(node) -> None:
    """The node stops answering and keeps its connections open: a machine gone from the
    network (a preempted spot instance). Ray marks it dead but never fails its tasks."""
    for pid in _node_processes(node):
        os.kill(pid, signal.SIGSTOP)


def test_a_node_lost_mid_search_costs_retries_only(cluster, tmp_path):
    """Regression: the children of a node that vanished stayed `running` for ever."""
    doomed = cluster["cluster"].add_node(num_cpus=1, num_gpus=1)
    cluster["cluster"].wait_for_nodes()
    frozen = []
    started = time.time()
    done = threading.Event()
    killer = threading.Thread(target=_when_busy, daemon=True, args=(
        cluster, doomed, started, done, lambda node: (frozen.extend(_node_processes(node)),
                                                      _freeze(node))))
    killer.start()
    try:
        run_dir, progress = _search(_config(cluster, workers=6, budget="{max_evaluations: 24}",
                                            seconds=1.0), tmp_path / "run")
    finally:
        done.set()
        killer.join(60)
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        cluster["cluster"].remove_node(doomed, allow_graceful=False)
    assert not killer.is_alive()
    assert progress.stopped_by == "budget" and progress.trained == 24 and progress.failures == 0
    events = _events(cluster["log"], started)
    lost = {e["expr"] for e in events if e["node"] == doomed.node_id and e["event"] == "start"}
    lost -= {e["expr"] for e in events if e["node"] == doomed.node_id and e["event"] == "end"}
    assert lost, "the node should die while a child runs there"
    ends = Counter(e["expr"] for e in events if e["event"] == "end")
    with Store(run_dir) as store:
        assert store.evaluations(status="running") == []
        trained = [e for e in store.evaluations() if e.worker != "prescreen"]
        assert len(trained) == 24 and {e.status for e in trained} == {"ok"}
        texts = {e.id: store.candidate(e.candidate_id).text for e in trained}
        assert len(set(texts.values())) == 24  # every candidate recorded once
        for evaluation in trained:
            expr = texts[evaluation.id]
            assert 1 <= ends[expr] <= evaluation.attempts  # trained again only when lost
            if expr in lost:  # its child died with the node: a recorded retry
                assert evaluation.attempts >= 2
                assert any("node" in reason for reason in evaluation.retries)
                assert doomed.node_id[:8] not in evaluation.worker
            else:
                assert ends[expr] == 1
        # top and show say where children ran and what the lost node cost
        line = next(x for x in top_table(store, 3).splitlines() if x.startswith("placement:"))
        retried = sum(len(e.retries) for e in trained)
        assert f"retries {retried} ({retried} after a lost node)" in line and retried >= len(lost)
        victim = next(e for e in trained if texts[e.id] in lost)
        shown = show_text(store, store.candidate(victim.candidate_id))
        assert "retried: attempt 1:" in shown and " node " in shown


def test_no_node_left_for_a_child_is_one_line_and_a_clean_stop(cluster, tmp_path):
    big = cluster["cluster"].add_node(num_cpus=2, num_gpus=0)  # the only 2-CPU node
    cluster["cluster"].wait_for_nodes()
    started = time.time()
    done = threading.Event()
    remove = partial(cluster["cluster"].remove_node, allow_graceful=False)
    killer = threading.Thread(target=_when_busy, args=(cluster, big, started, done, remove),
                              daemon=True)
    killer.start()
    try:
        with pytest.raises(RunAborted) as stop:
            _search(_config(cluster, workers=1, num_cpus=2, num_gpus=0,
                            budget="{max_evaluations: 50}"), tmp_path / "run")
    finally:
        done.set()
        killer.join(60)
    message = str(stop.value)
    assert "\n" not in message and "no Ray node left can run a child needing 2 CPU" in message
    assert "was lost" in message and "--resume" in message
    with Store(tmp_path / "run") as store:
        assert store.evaluations(status="running") == []
        assert store.evaluations(status="abandoned")  # the resume trains it again


def _finished(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("SELECT COUNT(*) FROM evaluations WHERE status = 'ok' "
                               "AND worker != 'prescreen'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_driver_killed_and_resumed_against_the_same_cluster(cluster, tmp_path):
    started = time.time()
    address = cluster["cluster"].address
    config = tmp_path / "config.yaml"
    config.write_text("\n".join([
        SPACE, "evaluate: cluster_only_task:run", "task: {steps: 3}",
        "strategy: {name: exhaustive}", "budget: {max_evaluations: 16, checkpoint_every: 2}",
        "backend: {kind: ray, workers: 4, num_cpus: 0.25, num_gpus: 0.5, "
        f"runtime_env: {{working_dir: '{cluster['task_dir']}'}}}}"]))
    run_dir = tmp_path / "run"
    env = {**os.environ, "CLUSTER_TASK_SECONDS": "0.8"}
    cli = [sys.executable, "-m", "search.cli", "run"]
    driver = subprocess.Popen([*cli, str(config), "--out", str(run_dir), "--address", address],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + HANG_S
    while _finished(run_dir / "search.db") < 4 and time.monotonic() < deadline:
        assert driver.poll() is None, driver.communicate()
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    with Store(run_dir) as store:
        before = {c.canonical: c.reward for c in store.candidates() if c.status == "ok"}
        assert store.evaluations(status="running"), "the kill should land while children run"
    resumed = subprocess.run([*cli, "--resume", str(run_dir), "--address", address], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=HANG_S)
    assert resumed.returncode == 0, resumed.stderr
    ends = Counter(e["expr"] for e in _events(cluster["log"], started) if e["event"] == "end")
    with Store(run_dir) as store:
        assert store.evaluations(status="running") == []
        trained = [e for e in store.evaluations() if e.worker != "prescreen"]
        assert len(trained) == 16 and {e.status for e in trained} == {"ok"}
        after = {c.canonical: c.reward for c in store.candidates()}
        assert all(after[k] == v for k, v in before.items())  # nothing recorded was lost
        for evaluation in trained:  # a child finished before the kill is not trained again
            candidate = store.candidate(evaluation.candidate_id)
            assert ends[candidate.text] == 1 if candidate.canonical in before else \
                1 <= ends[candidate.text] <= 2
