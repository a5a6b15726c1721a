"""What the search itself costs: per-candidate overhead, and worker utilisation.

Two measurements, side by side in one run (a markdown table is printed):

1. Overhead on instant children (``tests.fake_tasks:instant``, ~1 ms of work):
   the same exhaustive search over the one-unit space, inline and on Ray with
   2 workers. Wall time per trained candidate is what the loop costs (decode,
   de-duplicate, pre-screen, store commits, strategy, and for Ray the task
   round trip). Ray is started and warmed up first; its start-up is not counted.
2. Utilisation of a real short search: the real evaluator on CIFAR-10 with a
   tiny child (ResNet-8, width 4, a few dozen steps), 2 workers x 1 CPU:
   summed child seconds / (wall seconds x workers). Goal: >= 0.9.

    .venv/bin/python benchmarks/search_overhead.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import ray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search.config import config_from_text  # noqa: E402
from search.launch import run_search  # noqa: E402
from search.store import Store  # noqa: E402

WORKERS = 2


def instant_config(kind: str, budget: int) -> str:
    return "\n".join([
        "space: {units: 1}", "strategy: {name: exhaustive}", "evaluate: tests.fake_tasks:instant",
        f"backend: {{kind: {kind}, workers: {WORKERS}, num_cpus: 1}}",
        f"budget: {{max_evaluations: {budget}, checkpoint_every: 50}}"])


def overhead(kind: str, budget: int, out: Path) -> dict:
    run_dir, progress = run_search(config_from_text(instant_config(kind, budget)), out=out)
    with Store(run_dir) as store:
        proposals = sum(c.proposals for c in store.candidates())
    return {"trained": progress.trained, "proposals": proposals, "seconds": progress.seconds,
            "ms_per_child": 1000 * progress.seconds / progress.trained}


def utilisation(data: str, children: int, steps: int, out: Path) -> dict:
    text = "\n".join([
        "space: {units: 1, unary: [identity, neg, sin, tanh, sigmoid, abs], "
        "binary: [add, mul, max, sub]}",
        "strategy: {name: random, seed: 1}",
        f"task: {{data_dir: {data}, depth: 8, width: 4, steps: {steps}, batch_size: 32, "
        "validation_size: 1000, eval_batch_size: 500, compile: never}",
        f"backend: {{kind: ray, workers: {WORKERS}, num_cpus: 1}}",
        f"budget: {{max_evaluations: {children}, checkpoint_every: 10}}"])
    run_dir, progress = run_search(config_from_text(text), out=out)
    with Store(run_dir) as store:
        trained = [e for e in store.evaluations() if e.worker != "prescreen"]
        child_seconds = sum(e.seconds or 0.0 for e in trained)
    wall = progress.seconds
    ok = sum(e.status == "ok" for e in trained)
    return {"trained": len(trained), "ok": ok, "wall": wall, "child_seconds": child_seconds,
            "mean_child": child_seconds / max(1, len(trained)),
            "utilisation": child_seconds / (wall * WORKERS)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=300, help="instant children per run")
    parser.add_argument("--children", type=int, default=24, help="real children")
    parser.add_argument("--steps", type=int, default=40, help="steps of a real child")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    os.chdir(ROOT)  # so workers import tests.fake_tasks
    ray.init(address="local", num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            overhead("ray", 20, tmp / "warmup")  # start worker processes, import torch once
            inline = overhead("inline", args.candidates, tmp / "inline")
            remote = overhead("ray", args.candidates, tmp / "ray")
            # warm the workers' data cache with one tiny run, as a long search would
            utilisation(args.data, WORKERS, 5, tmp / "warm-data")
            began = time.perf_counter()
            real = utilisation(args.data, args.children, args.steps, tmp / "real")
            real["total"] = time.perf_counter() - began
    finally:
        ray.shutdown()
    print(f"\n## Search overhead ({os.cpu_count()} CPUs, {WORKERS} workers)\n")
    print("| measurement | children | wall s | per child | note |")
    print("|---|---:|---:|---:|---|")
    for name, r in (("inline, instant children", inline), ("Ray, instant children", remote)):
        print(f"| {name} | {r['trained']} | {r['seconds']:.2f} | {r['ms_per_child']:.1f} ms | "
              f"{r['proposals']} proposals (duplicates answered from the store) |")
    print(f"| Ray minus inline | | | {remote['ms_per_child'] - inline['ms_per_child']:.1f} ms | "
          f"Ray round trip per child, 2 in flight |")
    print(f"| real search, ResNet-8 w4 {args.steps} steps | {real['trained']} | "
          f"{real['wall']:.1f} | {real['mean_child']:.2f} s | utilisation "
          f"**{real['utilisation']:.3f}** = {real['child_seconds']:.1f} child s / "
          f"({real['wall']:.1f} s x {WORKERS}); {real['ok']} children ok |")


if __name__ == "__main__":
    main()
