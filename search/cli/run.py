"""``actsearch run``: a search with its progress bar, its stop on SIGTERM and its last lines."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import threading
from pathlib import Path

from search.cli.args import EXIT_ABORTED, EXIT_INTERRUPTED, EXIT_TERMINATED, one_line
from search.errors import Terminated, UsageError

SIGTERM_RECEIVED = threading.Event()  # Ray turns the handler's Terminated into a plain
#                                       KeyboardInterrupt inside ray.wait; this remembers
STOP_REASONS = {
    "budget": "budget.max_evaluations reached",
    "proposals": "budget.max_proposals reached: the strategy keeps proposing trained functions",
    "time": "budget.max_seconds reached",
    "exhausted": "the strategy has proposed everything",
    "interrupted": "interrupted",
    "terminated": "terminated by SIGTERM",
}


def program() -> str:
    """How to call actsearch again, as this process was called: ``actsearch`` when that is
    the one on PATH, else the path that was run (``.venv/bin/actsearch``)."""
    called = sys.argv[0] if sys.argv else ""
    if Path(called).name != "actsearch":
        return "actsearch"  # python -m search.cli, tests
    found = shutil.which("actsearch")
    if found is not None and Path(found).resolve() == Path(called).resolve():
        return "actsearch"
    return called


def stop_on_sigterm() -> object:
    """SIGTERM raises ``Terminated`` (a KeyboardInterrupt) once, so the search stops as for
    Ctrl-C: no new children, the ones out cancelled and marked abandoned, a checkpoint. A
    second SIGTERM while it winds down is ignored (a scheduler's SIGKILL follows anyway).
    Returns the handler it replaced (None off the main thread, where it does nothing)."""
    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        SIGTERM_RECEIVED.set()
        raise Terminated()

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def progress_text(progress) -> str:
    """The bar's postfix: finished functions by status (as `top` counts them), child
    trainings out, duplicate proposals, the best so far."""
    from search.inspect.formats import status_counts

    parts = [status_counts(progress.functions) or "0 ok"]
    if progress.training:
        parts.append(f"{progress.training} training")
    parts.append(f"{progress.duplicates} dup")
    best = progress.best
    if best is not None and best.reward is not None:
        parts.append(f"best {best.reward:.4f} {best.text}")
    return " | ".join(parts)


def cmd_run(args: argparse.Namespace) -> int:
    if (args.config is None) == (args.resume is None):
        raise UsageError("give either a CONFIG file or --resume RUN_DIR")
    SIGTERM_RECEIVED.clear()
    previous = stop_on_sigterm()
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    """``cmd_run`` with SIGTERM handled: the search, its progress bar, its last lines."""
    from tqdm import tqdm
    from tqdm.contrib import DummyTqdmFile

    from search.config import load_config
    from search.inspect.formats import status_counts
    from search.launch import run_search
    from search.runner import RunAborted

    config = load_config(args.config) if args.config is not None else None
    bar: list[tqdm] = []
    above_bar = contextlib.ExitStack()  # while the bar is drawn, others' prints go above it

    def on_start(run_dir: Path, config, progress) -> None:
        stop_on_sigterm()  # again: starting Ray installed its own handler
        verb = "resuming" if args.resume else "writing"
        print(f"actsearch: {verb} {run_dir} ({config.strategy.name} over "
              f"{config.space.units}-unit space, {config.backend.kind} backend, "
              f"{config.backend.workers} workers); the bar counts distinct functions "
              "(trained, or rejected by the pre-screen)", file=sys.stderr)
        bar.append(tqdm(total=progress.total, initial=progress.finished, unit="function",
                        desc="functions", dynamic_ncols=True, file=sys.stderr))
        # Ray prints its raylet's warnings (a worker died, ...) to stdout from a thread:
        # through tqdm they go to the bar's stream, above the bar instead of across it
        # (stdout keeps only the final result lines).
        above_bar.enter_context(contextlib.redirect_stdout(DummyTqdmFile(sys.stderr)))
        on_update(progress)

    def on_update(progress) -> None:
        if not bar:
            return
        bar[0].total = progress.total
        bar[0].n = progress.finished
        bar[0].set_postfix_str(progress_text(progress), refresh=False)
        bar[0].refresh()

    try:
        run_dir, progress = run_search(config, out=args.out, resume=args.resume,
                                       address=args.address, workers=args.workers,
                                       argv=sys.argv, on_start=on_start, on_update=on_update)
    except RunAborted as error:
        if bar:
            bar[0].close()  # before the message, so it is not drawn over
        print(f"actsearch: search aborted: {one_line(error)}", file=sys.stderr)
        return EXIT_ABORTED
    finally:
        above_bar.close()
        if bar:
            bar[0].close()
    if progress.stopped_by == "interrupted" and SIGTERM_RECEIVED.is_set():
        progress.stopped_by = "terminated"
    best = progress.best
    why = STOP_REASONS.get(progress.stopped_by, progress.stopped_by)
    by_status = status_counts(progress.functions)
    print(f"actsearch: stopped ({why}) after {progress.seconds:.0f} s: {progress.finished} "
          "functions finished" + (f" ({by_status})" if by_status else "")
          + f", {progress.trained} child trainings, {progress.duplicates} duplicate proposals",
          file=sys.stderr)
    if best is not None:
        print(f"best: {best.text}  reward {best.reward:.4f}")
    print(f"run directory: {run_dir}   ({program()} top {run_dir})")
    if progress.stopped_by in ("time", "interrupted", "terminated"):
        print(f"continue with: {program()} run --resume {run_dir}   (unfinished children "
              "are trained again)")
    return {"interrupted": EXIT_INTERRUPTED,
            "terminated": EXIT_TERMINATED}.get(progress.stopped_by, 0)
