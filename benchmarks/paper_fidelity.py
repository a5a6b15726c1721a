"""The paper's functions and the nine baselines at the paper's fidelity, on one device.

Trains each candidate of ``benchmarks/fidelity_rows.py`` (the paper's eight top
functions, the nine baselines; Swish is both, so 16 functions) with the
project's own evaluator, as a search would: ``evaluator.evaluate`` through
``search.child.run_child``. Default fidelity is the paper's: ResNet-20, 10,000
steps of batch 128, all 45,000 training images, 5,000 held out for validation.
Several children share the device: ``--children`` processes at once (default
8 on a GPU, the best of benchmarks/gpu_sharing.py's 1/2/4/8 on an H200, and
one per core on a CPU), or with ``--ray`` Ray tasks of ``num_gpus`` 1/children
through ``search.ray_backend.RayBackend``.

Each finished child is one row appended to ``--results`` (JSON lines) before
the next is looked at, and the markdown table is rewritten beside it; running
the same command again trains only the (function, seed) pairs the file lacks.
``--deadline-s`` stops starting children that would not finish in time and
kills the rest at the deadline (they are not recorded; the next run trains
them). ``--compact DIR`` decodes a compact copy (benchmarks/compact_cifar.py)
first and trains on it.

    python benchmarks/paper_fidelity.py --data-dir ../shared/data --tiny   # the whole path, CPU
    python benchmarks/paper_fidelity.py --table-only --results FILE        # print a table again

docs/paper-fidelity.md has the one-call GPU command and its CPU dry run.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fidelity_rows import (
    ResultsError,
    accuracy_text,
    append_row,
    check_task,
    drop_torn_row,
    read_results,
    select,
    table,
)
from evaluator.data import DataError
from search.errors import UserError

TINY = {"depth": 8, "width": 4, "steps": 4, "batch": 16, "device": "cpu", "compile": "never"}
PAPER = {"depth": 20, "width": 16, "steps": 10_000, "batch": 128, "device": "auto",
         "compile": "auto"}


class Stopped(Exception):
    """SIGTERM: stop the children, keep the rows, print the table."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = p.add_mutually_exclusive_group()
    data.add_argument("--data-dir", help="folder holding cifar-10-batches-py "
                                         "(default: $ACTSEARCH_DATA or the cache)")
    data.add_argument("--compact", help="a compact copy to decode and train on")
    p.add_argument("--decode-to", help="where --compact is decoded (default: beside it)")
    p.add_argument("--results", default="runs/paper_fidelity.jsonl", help="JSON lines file")
    p.add_argument("--table", help="markdown table file (default: --results with .md)")
    p.add_argument("--table-only", action="store_true", help="print the table of --results")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    p.add_argument("--only", help="comma-separated function names (default: all 17 names)")
    p.add_argument("--tiny", action="store_true",
                   help="tiny child on the CPU: " + ", ".join(f"{k} {v}" for k, v in TINY.items()))
    p.add_argument("--dry-run", action="store_true",
                   help="this command on the CPU, 3 steps a child: every other setting as given")
    for key in ("depth", "width", "steps", "batch"):
        p.add_argument(f"--{key}", type=int, help=f"default {PAPER[key]} ({TINY[key]} with --tiny)")
    p.add_argument("--validation", type=int, default=5000, help="validation images (5000)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (default auto; cpu with --tiny)")
    p.add_argument("--compile", choices=["auto", "always", "never"], help="default auto")
    p.add_argument("--threads", type=int, default=1, help="torch threads per child (1)")
    p.add_argument("--children", type=int, help="children at once (8 on a GPU, else one a core)")
    p.add_argument("--deadline-s", type=float, help="wall-clock budget of this run")
    p.add_argument("--ray", action="store_true", help="children as Ray tasks (RayBackend)")
    p.add_argument("--address", help="with --ray: a Ray cluster to join (default: local Ray)")
    p.add_argument("--num-gpus", type=float, help="with --ray: per child (default 1/children "
                                                  "on a GPU, else 0)")
    p.add_argument("--retries", type=int, default=2, help="restarts of a child whose process "
                                                          "died (2)")
    p.add_argument("--target", default=None, help=argparse.SUPPRESS)  # tests: another evaluate
    args = p.parse_args(argv)
    for key, value in PAPER.items():
        if getattr(args, key) is None:
            setattr(args, key, TINY[key] if args.tiny else value)
    if args.dry_run:
        args.steps, args.device, args.compile = 3, "cpu", "never"
    try:
        args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--seeds {args.seeds!r}: give comma-separated integers, e.g. 0,1")
    if not args.seeds:
        p.error("--seeds: give at least one seed")
    for key in ("children", "threads"):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            p.error(f"--{key} must be >= 1")
    return args


def data_dir(args: argparse.Namespace) -> str | None:
    """The data folder to train on: --data-dir, or --compact decoded (once)."""
    if not args.compact:
        return args.data_dir
    from benchmarks.compact_cifar import decode

    dest = args.decode_to or f"{args.compact.rstrip('/')}.decoded"
    began = time.perf_counter()
    decode(args.compact, dest)
    print(f"{args.compact}: decoded into {dest} ({time.perf_counter() - began:.1f} s)",
          flush=True)
    return dest


def make_task(args: argparse.Namespace, folder: str | None) -> dict[str, Any]:
    from evaluator import TaskConfig

    return TaskConfig(data_dir=folder, validation_size=args.validation, depth=args.depth,
                      width=args.width, steps=args.steps, batch_size=args.batch,
                      threads=args.threads, device=args.device, compile=args.compile,
                      log_every=min(100, args.steps)).to_dict()


def on_gpu(args: argparse.Namespace) -> bool:
    """Whether children train on a GPU (auto: this machine has one); no CUDA context here."""
    if args.device.startswith("cuda"):
        return True
    if args.device != "auto":
        return False
    import torch

    return torch.cuda.is_available()


def make_backend(args: argparse.Namespace, task: dict[str, Any], gpu: bool):
    from benchmarks.fidelity_children import TARGET, ProcessBackend

    target = args.target or TARGET
    if not args.ray:
        return ProcessBackend(target, task, args.children, max_retries=args.retries)
    from search.ray_backend import RayBackend

    num_gpus = args.num_gpus if args.num_gpus is not None else (
        1.0 / args.children if gpu else 0.0)
    return RayBackend(target, task, address=args.address, workers=args.children,
                      num_cpus=args.threads, num_gpus=num_gpus, max_retries=args.retries)


def header(args: argparse.Namespace, task: dict[str, Any], gpu: bool) -> str:
    backend = f"Ray ({args.address or 'local'})" if args.ray else "one process per child"
    return (f"ResNet-{task['depth']} (width {task['width']}), CIFAR-10 with "
            f"{task['validation_size']} training images held out for validation, "
            f"{task['steps']} steps of {task['batch_size']}; device "
            f"{'GPU' if gpu else task['device']} ({task['device']}), {args.children} children "
            f"at once, {backend}, compile "
            f"{task['compile']}, {task['threads']} thread(s) a child; data "
            f"{args.compact or task['data_dir'] or 'default'}")


def row_of(finished, function: str, task: dict[str, Any], run: float, started: float,
           children: int) -> dict[str, Any]:
    """The results file's row for one finished child."""
    from evaluator.result import Result

    result, now = Result.from_dict(finished.result), time.time()
    info, step_s = result.info, result.info.get("seconds_per_step")
    return {"function": function, "expr": finished.job.expr_text, "seed": finished.job.seed,
            "status": result.status, "val_accuracy": result.val_accuracy, "step": result.step,
            "error": result.error[:300], "wall_s": round(now - started, 2),
            "child_s": result.seconds,
            "step_ms": round(1000 * step_s, 3) if isinstance(step_s, float) else None,
            "compiled": info.get("compiled"), "compile_s": info.get("compile_s"),
            "train_images": info.get("train_images"), "peak_mib": info.get("peak_mib"),
            "peak_kind": info.get("peak_kind"), "device": info.get("device"),
            "device_name": info.get("device_name"), "children": children, "run": run,
            "started": started, "finished": now, "worker": finished.worker,
            "retries": list(finished.retries), "task": task}


def run(args: argparse.Namespace, began: float) -> int:
    candidates = select(args.only)
    results = Path(args.results)
    table_path = Path(args.table) if args.table else results.with_suffix(".md")
    if args.table_only:
        rows = read_results(results)
        print(table(rows, candidates, args.seeds, f"{results}: {len(rows)} rows"))
        return 0
    gpu = on_gpu(args)
    args.children = args.children or (8 if gpu else max(1, (os.cpu_count() or 1)
                                                        // args.threads))
    task = make_task(args, data_dir(args))
    rows = read_results(results)
    check_task(rows, task, results)
    drop_torn_row(results)
    done = {(r["function"], r["seed"]) for r in rows}
    todo = [(c, s) for s in args.seeds for c in candidates if (c.name, s) not in done]
    head = header(args, task, gpu)
    results.parent.mkdir(parents=True, exist_ok=True)
    deadline = began + args.deadline_s if args.deadline_s else None
    stopped = False

    def save_table() -> str:
        text = table(rows, candidates, args.seeds, head)
        table_path.write_text(text + "\n")
        return text

    try:
        print(f"{head}\n{len(todo)} children to train, {len(done)} already in {results}",
              flush=True)
        if todo:
            train_all(args, task, todo, results, began, deadline, gpu, rows, save_table)
    except Stopped:
        stopped = True
        print("stopped (SIGTERM): the rows written so far are kept", flush=True)
    print("\n" + save_table(), flush=True)
    recorded = {(r["function"], r["seed"]) for r in rows}
    left = sum((c.name, s) not in recorded for c, s in todo)
    if left:
        print(f"\n{left} children not run (deadline or stop); the same command trains them",
              flush=True)
    print(f"done after {time.monotonic() - began:.0f} s", flush=True)
    return 143 if stopped else 0


def train_all(args: argparse.Namespace, task: dict[str, Any], todo: list, results: Path,
              began: float, deadline: float | None, gpu: bool, rows: list[dict[str, Any]],
              after_row: Callable[[], object]) -> None:
    """Train ``todo``, ``args.children`` at once; each row is written, added to ``rows``,
    then ``after_row`` rewrites the table.

    A child is started only while the time left exceeds the median wall of the
    children finished so far; at the deadline the ones running are killed."""
    from search.backends import Job

    backend = make_backend(args, task, gpu)
    run_id, walls = time.time(), []
    waiting = list(enumerate(todo))
    started: dict[int, tuple[Any, float]] = {}
    try:
        while waiting or backend.in_flight:
            left = None if deadline is None else deadline - time.monotonic()
            while waiting and backend.in_flight < args.children and (
                    left is None or left > (statistics.median(walls) if walls else 0)):
                i, (candidate, seed) = waiting.pop(0)
                backend.submit(Job(i, i, candidate.expr, seed))
                started[i] = (candidate, time.time())
            if not backend.in_flight:
                break  # the deadline leaves no time for another child
            finished = backend.next_finished(timeout=None if left is None else max(0.0, left))
            if finished is None:
                print("deadline: stopping the children still running", flush=True)
                break
            if finished.setup_error:
                print(f"paper_fidelity: a child could not run: {finished.setup_error}",
                      file=sys.stderr)
                raise SystemExit(1)
            candidate, t0 = started.pop(finished.job.evaluation_id)
            row = row_of(finished, candidate.name, task, run_id, t0, args.children)
            append_row(results, row)
            rows.append(row)
            after_row()
            walls.append(row["wall_s"])
            outcome = f"{row['status']} at step {row['step']}" if row["status"] == "diverged" \
                else accuracy_text(row) + (" %" if row["status"] == "ok" else "")
            print(f"[{time.monotonic() - began:5.0f} s] {candidate.name} seed {row['seed']}: "
                  f"{outcome} in {row['wall_s']:.0f} s", flush=True)
    finally:
        backend.shutdown()


def main(argv: list[str] | None = None) -> int:
    began = time.monotonic()
    args = parse_args(argv)

    def stop(signum, frame):
        raise Stopped

    signal.signal(signal.SIGTERM, stop)
    try:
        return run(args, began)
    except (ResultsError, ValueError, DataError, UserError) as error:
        print(f"paper_fidelity: {error}", file=sys.stderr)
        return 2
    except Stopped:
        return 143


if __name__ == "__main__":
    sys.exit(main())
