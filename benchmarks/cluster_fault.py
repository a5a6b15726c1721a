"""What a lost node costs a search on a multi-node Ray cluster.

A ``ray.cluster_utils.Cluster`` on this machine: a head and ``--nodes - 1``
more nodes, each declaring 1 GPU (no CUDA needed: children only sleep),
children at ``num_gpus: 0.5`` (two per node). The same exhaustive search of
``--children`` children of ``--seconds`` each runs three times, side by side:

* **fault-free**;
* **killed**: one node is killed without grace (SIGKILL of its raylet and
  workers) once a third of the results are in;
* **frozen**: one node stops answering (SIGSTOP) with its connections open,
  as a machine that drops off the network: Ray marks it dead after its
  health check, but never fails the tasks it held (before issue 20 the search
  waited for them for ever).

Per run: wall time and the seconds lost to the fault (wall minus the
fault-free wall), retries used, utilisation of the nodes left after the fault
(child-seconds there / (their slots x seconds from the fault to the end)),
and the oracles: candidates lost (not recorded ``ok``) and trained twice
(a child completed twice). ``--fast-health-check`` sets Ray's node failure
detector as docs/cluster.md suggests; by default Ray's own settings stand.

    python benchmarks/cluster_fault.py --nodes 3 --children 60 --seconds 1.0
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPACE = ("space: {units: 1, unary: [identity, neg, abs, square, sigmoid, tanh, sin, cos, exp, "
         "erf], binary: [add, mul, max, min, sub]}")
FAST_HEALTH_CHECK = {"health_check_period_ms": 1000, "health_check_timeout_ms": 2000,
                     "health_check_failure_threshold": 4}


def fixed(expr_text: str, task, seed: int = 0, device: str | None = None):
    """A child of fixed duration (``BENCH_SECONDS``) that logs node, start and end."""
    import ray

    from evaluator import Result

    node = ray.get_runtime_context().get_node_id()
    start = time.time()
    time.sleep(float(os.environ["BENCH_SECONDS"]))
    with open(os.environ["BENCH_LOG"], "a") as log:
        log.write(f"{node}\t{start!r}\t{time.time()!r}\t{expr_text}\n")
    return Result(status="ok", reward=1.0 / (1 + len(expr_text)), val_accuracy=0.5,
                  step=task.steps, seconds=time.time() - start, expr=expr_text, seed=seed)


def node_pids(node) -> list[int]:
    """The node's raylet and every process it started (Linux /proc)."""
    from ray._private import ray_constants

    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    family = [node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid]
    for pid in family:
        family += [child for child, parent in parents.items() if parent == pid]
    return family


def one_run(cluster, mode: str, args: argparse.Namespace, work: Path) -> dict:
    """One search; ``mode``: none, killed or frozen (the last node, a third of the way)."""
    from search.config import config_from_text
    from search.launch import run_search
    from search.store import Store

    victim = cluster.add_node(num_cpus=1, num_gpus=1)
    cluster.wait_for_nodes()
    log = work / f"{mode}.log"
    os.environ["BENCH_LOG"] = str(log)  # read by the workers through runtime_env below
    config = config_from_text("\n".join([
        SPACE, "evaluate: benchmarks.cluster_fault:fixed", "task: {steps: 1}",
        "strategy: {name: exhaustive}", f"budget: {{max_evaluations: {args.children}}}",
        f"backend: {{kind: ray, address: '{cluster.address}', workers: {2 * args.nodes}, "
        "num_cpus: 0.25, num_gpus: 0.5, max_retries: 3, runtime_env: {env_vars: "
        f"{{BENCH_LOG: '{log}', BENCH_SECONDS: '{args.seconds}'}}}}}}"]))
    fault: dict = {}
    stopped: list[int] = []

    def strike(progress) -> None:
        if mode == "none" or fault or progress.trained < args.children // 3:
            return
        fault["at"] = time.time()
        if mode == "frozen":
            stopped.extend(node_pids(victim))
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)
        else:
            threading.Thread(target=cluster.remove_node, args=(victim, False)).start()

    began = time.time()
    run_dir, progress = run_search(config, out=str(work / mode), on_update=strike)
    wall = time.time() - began
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if mode != "killed":
        cluster.remove_node(victim, allow_graceful=mode == "none")
    rows = [line.split("\t") for line in log.read_text().splitlines()]
    with Store(run_dir) as store:
        trained = [e for e in store.evaluations() if e.worker != "prescreen"]
        retries = sum(len(e.retries) for e in trained)
        lost = sum(e.status != "ok" for e in trained) + args.children - len(trained)
    twice = sum(n > 1 for n in Counter(r[3] for r in rows).values())
    utilisation = None
    if fault:
        left = [r for r in rows if r[0] != victim.node_id]
        end = max(float(r[2]) for r in rows)
        busy = sum(max(0.0, float(r[2]) - max(float(r[1]), fault["at"])) for r in left)
        utilisation = busy / (2 * (args.nodes - 1) * (end - fault["at"]))
    return {"mode": mode, "wall": wall, "retries": retries, "lost": lost, "twice": twice,
            "utilisation": utilisation, "stopped_by": progress.stopped_by}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3, help="nodes, the head included")
    parser.add_argument("--children", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=1.0, help="each child's duration")
    parser.add_argument("--fast-health-check", action="store_true",
                        help=f"head _system_config {FAST_HEALTH_CHECK}")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                             os.environ.get("PYTHONPATH")]))
    from ray.cluster_utils import Cluster

    head = {"num_cpus": 1, "num_gpus": 1, "include_dashboard": False}
    if args.fast_health_check:
        head["_system_config"] = FAST_HEALTH_CHECK
    cluster = Cluster(initialize_head=True, head_node_args=head)
    Path("/tmp/ray/ray_current_cluster").unlink(missing_ok=True)  # no one else joins it
    try:
        for _ in range(args.nodes - 2):
            cluster.add_node(num_cpus=1, num_gpus=1)
        with tempfile.TemporaryDirectory() as work:
            runs = [one_run(cluster, mode, args, Path(work))
                    for mode in ("none", "killed", "frozen")]
    finally:
        cluster.shutdown()
    base = runs[0]["wall"]
    print(f"{args.nodes} nodes x 2 children, {args.children} children of {args.seconds:g} s, "
          f"health check: {'fast' if args.fast_health_check else 'Ray defaults'}")
    print("| run | wall s | lost to the fault s | ratio | retries | utilisation after | "
          "lost | trained twice | stopped by |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for run in runs:
        used = "-" if run["utilisation"] is None else f"{run['utilisation']:.0%}"
        print(f"| {run['mode']} | {run['wall']:.1f} | {run['wall'] - base:.1f} | "
              f"{run['wall'] / base:.2f} | {run['retries']} | {used} | {run['lost']} | "
              f"{run['twice']} | {run['stopped_by']} |")


if __name__ == "__main__":
    main()
