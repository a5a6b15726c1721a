"""Validation accuracy of ReLU, Swish-1 and Swish children on the real CIFAR-10.

Runs ``evaluator.evaluate`` exactly as a search would (same split, same
training), one function after another, and prints a markdown table with the
wall time of each child. The full fidelity is the paper's 10K steps; on a
small CPU use fewer, e.g.

    python benchmarks/baseline_accuracy.py --data-dir ../shared/data --steps 500 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluator import TaskConfig, evaluate

FUNCTIONS = {
    "relu": "relu(x)",
    "swish1": "x * sigmoid(x)",
    "swish": "x * sigmoid(beta * x)",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="default: $ACTSEARCH_DATA or the cache")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", default="auto", choices=["auto", "always", "never"])
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--only", default=",".join(FUNCTIONS))
    args = parser.parse_args(argv)
    task = TaskConfig(data_dir=args.data_dir, steps=args.steps, batch_size=args.batch,
                      depth=args.depth, width=args.width, threads=args.threads,
                      device=args.device, compile=args.compile, log_every=50)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"ResNet-{task.depth} width {task.width}, {task.steps} steps, batch {task.batch_size}, "
          f"validation {task.validation_size}, device {task.device}, threads {task.threads}, "
          f"compile {task.compile}", flush=True)
    rows = []
    for name in args.only.split(","):
        for seed in seeds:
            t0 = time.perf_counter()
            result = evaluate(FUNCTIONS[name], task, seed=seed)
            wall = time.perf_counter() - t0
            acc = f"{100 * result.val_accuracy:.2f}" if result.val_accuracy is not None else "-"
            loss = result.curves.get("train_loss", [float("nan")])[-1]
            row = (f"| {name} | `{FUNCTIONS[name]}` | {seed} | {result.status} | {acc} | "
                   f"{loss:.3f} | {wall:.0f} | {result.info.get('seconds_per_step', 0):.3f} | "
                   f"{result.info.get('compiled')} ({result.info.get('compile_s', 0):.0f} s) |")
            print(row, flush=True)
            rows.append(row)
    print("\n| function | expression | seed | status | val acc % | final train loss | wall s | "
          "s/step | compiled |\n|---|---|---:|---|---:|---:|---:|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
