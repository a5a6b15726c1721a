"""ResNet training-step throughput per activation, eager and compiled, side by side.

Measures what every child of a search pays: one SGD step of ResNet-20 (default)
on CIFAR-shaped batches drawn by the evaluator's own device-side loader (random
crop + flip + normalise), for nn.ReLU, nn.SiLU and our modules for the paper's
eight top functions (Swish first). Each (activation, mode) runs in a fresh
process, so compile caches and peak memory do not leak between rows.

Columns: ms per step (median of timed windows), ratio to ReLU in the same mode,
compile time (first compiled step minus a normal step), peak memory (CUDA:
max allocated; CPU: the process's peak RSS, torch itself included), the share
of step time spent on data + augmentation, and where compile pays off:
the number of steps after which compile time is repaid by faster steps.

    python benchmarks/child_throughput.py --steps 20 --batch 64 --only relu,swish
    python benchmarks/child_throughput.py --device cuda --steps 200
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ACTIVATIONS = {  # name: "torch.nn.<Class>" for built-ins, else our expression text
    "relu": "nn.ReLU",
    "silu": "nn.SiLU",
    "swish": "x * sigmoid(beta * x)",
    "max_sigmoid": "max(x, sigmoid(x))",
    "cos_minus_x": "cos(x) - x",
    "min_sin": "min(x, sin(x))",
    "atan_sq_minus_x": "square(atan(x)) - x",
    "max_tanh": "max(x, tanh(x))",
    "sinc_plus_x": "sinc(x) + x",
    "x_asinh_sq": "x * square(asinh(x))",
}
CANDIDATES = [n for n in ACTIVATIONS if n not in ("relu", "silu")]


def measure(args: argparse.Namespace, name: str, mode: str) -> dict:
    """Time one (activation, mode) in this process; returns a row of figures."""
    import torch
    from torch import nn

    from evaluator.compiling import compile_model, resolve_mode
    from evaluator.config import TaskConfig
    from evaluator.evaluate import activation_factory
    from evaluator.loader import Normalizer, TrainBatches
    from evaluator.models import resnet
    from evaluator.train import make_optimizer, train_step
    from space import parse

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    spec = ACTIVATIONS[name]
    factory = ((lambda c: getattr(nn, spec[3:])()) if spec.startswith("nn.")
               else activation_factory(parse(spec)))
    memory_format = torch.channels_last if cuda else torch.contiguous_format
    model = resnet(args.depth, args.width, 10, factory).to(device, memory_format=memory_format)
    task = TaskConfig(batch_size=args.batch, device=args.device, amp=cuda)
    optimizer = make_optimizer(model, task)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.randint(0, 256, (max(4 * args.batch, 2048), 3, 32, 32), dtype=torch.uint8,
                           device=device)
    labels = torch.randint(0, 10, (len(images),), device=device)
    normalize = Normalizer(torch.full((3,), 0.5, device=device),
                           torch.full((3,), 0.25, device=device), memory_format)
    batches = TrainBatches(images, labels, args.batch, normalize,
                           torch.Generator(device=device).manual_seed(0))

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def run(fn, n: int) -> float:
        sync()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        return (time.perf_counter() - t0) / n

    compile_mode = resolve_mode(args.compile_mode, device)
    step_model = compile_model(model, compile_mode) if mode == "compiled" else model

    def step() -> None:
        x, y = batches.next()
        train_step(step_model, optimizer, loss_fn, x, y, device, task)

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    first = run(step, 1)  # includes compilation when compiled
    for _ in range(args.warmup):
        step()
    windows = [run(step, max(1, args.steps // args.windows)) for _ in range(args.windows)]
    step_s = statistics.median(windows)
    data_s = run(batches.next, max(1, args.steps))
    peak = (torch.cuda.max_memory_allocated() if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"name": name, "mode": mode, "step_s": step_s, "data_s": data_s,
            "compile_s": max(0.0, first - step_s) if mode == "compiled" else 0.0,
            "peak_mb": peak / 2**20}


def _worker(job: tuple) -> dict:
    args, name, mode = job
    try:
        return measure(args, name, mode)
    except Exception as e:  # a failed row is reported, not fatal
        return {"name": name, "mode": mode, "error": f"{type(e).__name__}: {e}"[:200]}


def table(rows: list[dict], args: argparse.Namespace) -> str:
    by = {(r["name"], r["mode"]): r for r in rows}
    lines = ["| activation | mode | ms/step | x ReLU (same mode) | compile s | peak MB | "
             "data+aug % | compile pays off after |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['name']} | {r['mode']} | failed: {r['error']} |||||| ")
            continue
        base = by.get(("relu", r["mode"]))
        ratio = f"{r['step_s'] / base['step_s']:.2f}" if base and "error" not in base else "-"
        payoff = "-"
        eager = by.get((r["name"], "eager"))
        if r["mode"] == "compiled" and eager and "error" not in eager:
            saved = eager["step_s"] - r["step_s"]
            payoff = f"{r['compile_s'] / saved:,.0f} steps" if saved > 0 else "never"
        lines.append(f"| {r['name']} | {r['mode']} | {1000 * r['step_s']:.1f} | {ratio} | "
                     f"{r['compile_s']:.1f} | {r['peak_mb']:.0f} | "
                     f"{100 * r['data_s'] / r['step_s']:.1f} | {payoff} |")
    summary = []
    for mode in ("eager", "compiled"):
        base = by.get(("relu", mode))
        ratios = [by[(n, mode)]["step_s"] / base["step_s"] for n in CANDIDATES
                  if (n, mode) in by and "error" not in by[(n, mode)]] if base else []
        if ratios:
            summary.append(f"median {mode} candidate / {mode} ReLU: "
                           f"{statistics.median(ratios):.2f}x over {len(ratios)} functions")
    return "\n".join([*lines, "", *summary])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu | cuda (default cpu)")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per row")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    parser.add_argument("--windows", type=int, default=5, help="timed windows (median taken)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--only", default="", help="comma-separated subset of: "
                        + ",".join(ACTIVATIONS))
    parser.add_argument("--modes", default="eager,compiled")
    parser.add_argument("--compile-mode", default="auto",
                        help="torch.compile mode; auto: reduce-overhead on CUDA, default on CPU")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(ACTIVATIONS)
    unknown = [n for n in names if n not in ACTIVATIONS]
    if unknown:
        parser.error(f"unknown activation(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(ACTIVATIONS)}")
    if "relu" not in names:
        names.insert(0, "relu")  # every ratio needs it
    modes = [m for m in args.modes.split(",") if m]
    jobs = [(args, n, m) for m in modes for n in names]
    print(f"ResNet-{args.depth} width {args.width}, batch {args.batch}, {args.steps} timed steps, "
          f"device {args.device}, threads {args.threads}, compile mode {args.compile_mode}",
          flush=True)
    rows = []
    with mp.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        for row in pool.imap(_worker, jobs):
            rows.append(row)
            print("  done:", row["name"], row["mode"],
                  f"{1000 * row['step_s']:.1f} ms/step" if "step_s" in row else row["error"],
                  flush=True)
    print()
    print(table(rows, args))


if __name__ == "__main__":
    main()
