"""Children sharing one GPU, and what bf16 autocast and channels_last buy a child.

A fractional ``backend.num_gpus`` (0.25: four children on one GPU) makes Ray
start that many child processes on the same device; nothing else. This runs
the same thing without Ray: ``k`` processes at once, each training one child
with ``evaluator.evaluate`` exactly as a search worker would, for each ``k`` in
``--children``. Per row: the children's median wall time and seconds per step,
the peak GPU memory of one child, and the throughput (children's steps per
second, summed) as a ratio to one child alone.

``--variants`` first trains single children with bf16 autocast and
channels_last switched on and off (the task's ``amp`` and ``channels_last``),
as ratios to the default (both on).

    python benchmarks/gpu_sharing.py --data-dir DIR --steps 1000 --children 1,2,4,8 --variants

Runs on the CPU too (``--device cpu``), which is how the test suite keeps it
working; the figures mean something only on a GPU.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = {  # name: (amp, channels_last)
    "bf16 + channels_last": (True, True),
    "bf16 only": (True, False),
    "channels_last only": (False, True),
    "fp32, contiguous": (False, False),
}


def child(args: argparse.Namespace, seed: int, amp: bool, channels_last: bool,
          start, out) -> None:
    """One child, started when every sibling is ready; puts its figures on ``out``."""
    import torch

    from evaluator import TaskConfig, evaluate

    task = TaskConfig(data_dir=args.data_dir, steps=args.steps, batch_size=args.batch,
                      depth=args.depth, threads=args.threads, device=args.device,
                      compile=args.compile, amp=amp, channels_last=channels_last,
                      validation_size=args.validation, log_every=max(args.steps // 4, 1))
    start.wait()
    began = time.perf_counter()
    result = evaluate(args.function, task, seed=seed)
    wall = time.perf_counter() - began
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    out.put({"status": result.status, "accuracy": result.val_accuracy, "wall": wall,
             "step_s": result.info.get("seconds_per_step", float("nan")), "peak_mib": peak,
             "error": result.error})


def run_together(args: argparse.Namespace, k: int, amp: bool = True,
                 channels_last: bool = True) -> tuple[list[dict], float]:
    """``k`` children at once; their figures and the wall time of the whole group."""
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(k + 1), ctx.Queue()
    procs = [ctx.Process(target=child, args=(args, seed, amp, channels_last, start, out))
             for seed in range(k)]
    for p in procs:
        p.start()
    start.wait()
    began = time.perf_counter()
    rows = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return rows, time.perf_counter() - began


def describe(rows: list[dict]) -> tuple[str, float, float, float]:
    """(status summary, median wall, median s/step, max peak MiB) of a group of children."""
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        print(f"  not ok: {failed[0]['status']}: {failed[0]['error']}", file=sys.stderr)
    status = f"{len(rows) - len(failed)}/{len(rows)} ok"
    return (status, statistics.median(r["wall"] for r in rows),
            statistics.median(r["step_s"] for r in rows), max(r["peak_mib"] for r in rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="default: $ACTSEARCH_DATA or the cache")
    parser.add_argument("--function", default="x * sigmoid(beta * x)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--validation", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per child")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--compile", default="never", choices=["auto", "always", "never"])
    parser.add_argument("--children", default="1,2,4", help="comma-separated group sizes")
    parser.add_argument("--variants", action="store_true",
                        help="also time one child per amp/channels_last setting")
    args = parser.parse_args(argv)
    print(f"{args.function}, ResNet-{args.depth}, {args.steps} steps of {args.batch}, "
          f"device {args.device}, compile {args.compile}", flush=True)

    if args.variants:
        print("\n| one child | status | wall s | ms/step | × default | peak MiB |\n"
              "|---|---|---:|---:|---:|---:|", flush=True)
        default_step = None
        for name, (amp, channels_last) in VARIANTS.items():
            status, wall, step_s, peak = describe(run_together(args, 1, amp, channels_last)[0])
            default_step = default_step or step_s
            print(f"| {name} | {status} | {wall:.1f} | {1000 * step_s:.2f} | "
                  f"{step_s / default_step:.2f} | {peak:.0f} |", flush=True)

    print("\n| children at once | status | group wall s | child wall s (median) | "
          "ms/step (median) | throughput × one child | peak MiB per child |\n"
          "|---:|---|---:|---:|---:|---:|---:|", flush=True)
    alone = None
    for k in (int(c) for c in args.children.split(",")):
        rows, group_wall = run_together(args, k)
        status, wall, step_s, peak = describe(rows)
        throughput = k * args.steps / group_wall
        alone = alone or throughput
        print(f"| {k} | {status} | {group_wall:.1f} | {wall:.1f} | {1000 * step_s:.2f} | "
              f"{throughput / alone:.2f} | {peak:.0f} |", flush=True)


if __name__ == "__main__":
    main()
