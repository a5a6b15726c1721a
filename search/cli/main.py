"""``actsearch``: the command line of the activation-function search.

    actsearch run CONFIG [--out DIR] [--address ADDR] [--workers N]
    actsearch run --resume RUN_DIR [--address ADDR] [--workers N]
    actsearch top RUN_DIR [-k 10] [--json]
    actsearch show RUN_DIR ID|EXPR
    actsearch plot RUN_DIR [-k 8] -o FILE.png
    actsearch report RUN_DIR [-k 10] [-o report.html]
    actsearch export RUN_DIR (ID | --rank N) -o act.py
    actsearch export-table RUN_DIR -o rewards.csv
    actsearch rerank RUN_DIR [-k 10] [--seeds 3] [--steps N] [--baselines LIST]
    actsearch compare [RUN_DIR] [--functions EXPR ...] [--models 20,56] [--seeds 3] --out DIR
    actsearch eval EXPR [--config FILE] [--seed N]
    actsearch data (cifar10 | cifar100) [--dest DIR]
    actsearch demo
    actsearch --version

A mistake the user can fix (a malformed config, an unknown operator, a
missing data set, a bad expression, a wrong run directory, a number out of its
range, a damaged store) ends in one line on stderr and exit code 2, argument
errors included; an aborted search (children failing in a row) in exit code 1;
Ctrl-C in 130; SIGTERM (a scheduler's stop) in 143, after the search stopped as
for Ctrl-C. Whatever was recorded before stays in the store. ``-o FILE``
creates FILE's folder when it is missing (as ``mkdir -p`` would).

This module imports only what parsing the arguments needs; each command
imports its own machinery, so ``--help`` and the commands that read a store
never load torch or Ray.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from evaluator import DataError
from search.cli.studies import add_study_commands
from search.errors import Terminated, UsageError, UserError
from space import ParseError, SpaceError

EXIT_USER, EXIT_ABORTED, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 1, 130, 143
RUN_DIR_HELP = "a run directory, as `actsearch run` printed it (runs/<name>-<time>)"
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


def _line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


# -- numbers and files given on the command line ----------------------------------------

COUNT_MAX = 1_000_000  # -k, --rank, --workers, --seeds, ...: sane upper bound of a count
SEED_MAX = 2**32 - 1  # what numpy's legacy seeding takes (the config's seed range too)


def integer(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number written in ASCII digits, from ``low`` to ``high``."""
    def parse(text: str) -> int:
        digits = text.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", digits):
            raise argparse.ArgumentTypeError(f"expected a whole number (digits 0-9), got "
                                             f"{_shown(text)}")
        if len(digits.lstrip("+-").lstrip("0")) > len(str(high)) or not \
                low <= int(digits) <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high:,}, got "
                                             f"{_shown(text)}")
        return int(digits)
    parse.__name__ = "integer"
    return parse


def _shown(text: str, limit: int = 30) -> str:
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def output_file(path: str) -> Path:
    """Where ``-o`` writes: the folder is created when missing; a folder or a folder that
    cannot be made is one line."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"-o {path}: is a folder; give a file name inside it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"-o {path}: cannot create the folder {target.parent} "
                         f"({error.strerror or error})") from None
    return target


def _not_written(path: str, error: Exception) -> UsageError:
    why = getattr(error, "strerror", None) or " ".join(str(error).split())
    return UsageError(f"-o {path}: cannot write it ({why})")


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the command line's one-line errors (exit 2), pointing at ``--help``."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]  # "" for actsearch itself
        self.exit(EXIT_USER, f"actsearch: error: {command + ': ' if command else ''}"
                             f"{' '.join(message.split())} (see `{self.prog} --help`)\n")


# -- run ------------------------------------------------------------------------------


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
    """The bar's postfix: finished functions by status (as `top` counts them), functions in
    training, duplicate proposals, the best so far."""
    from search.inspect.report import status_counts

    parts = [status_counts(progress.functions) or "0 ok"]
    if progress.pending:
        parts.append(f"{progress.pending} training")
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
    from search.inspect.report import status_counts
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
        print(f"actsearch: search aborted: {_line(error)}", file=sys.stderr)
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


# -- reports ---------------------------------------------------------------------------


def cmd_top(args: argparse.Namespace) -> int:
    from search.inspect.report import top_json, top_table
    from search.store import Store
    from search.studies.compare import has_rerank, rerank_dir, rerank_table

    with Store(args.run_dir) as store:
        print(top_json(store, args.k) if args.json else top_table(store, args.k))
    if has_rerank(Path(args.run_dir)) and not args.json:
        with Store(rerank_dir(Path(args.run_dir))) as store:
            print("\n" + rerank_table(store))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from search.inspect.report import ReportError, find_candidate, predicted_text, show_text
    from search.store import Store

    with Store(args.run_dir) as store:
        try:
            print(show_text(store, find_candidate(store, args.ref)))
        except ReportError:
            predicted = None if args.ref.strip().isdigit() else predicted_text(store, args.ref)
            if predicted is None:
                raise
            print(predicted)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from search.inspect.report import by_rank, export_file, find_candidate
    from search.store import Store

    if (args.ref is None) == (args.rank is None):
        raise UsageError("give a candidate ID (or expression) or --rank N, not both")
    with Store(args.run_dir) as store:
        candidate = by_rank(store, args.rank) if args.rank else find_candidate(store, args.ref)
        saved = store.config() or {}
        beta_init = saved.get("task", {}).get("beta_init", 1.0)
        target = output_file(args.output)
        try:
            note = export_file(store, candidate, target, beta_init=beta_init)
        except OSError as error:
            raise _not_written(args.output, error) from None
    print(f"wrote {args.output}: {candidate.text} (reward {candidate.reward:.4f}); {note}")
    return 0


def cmd_export_table(args: argparse.Namespace) -> int:
    from search.inspect.table_export import write_table
    from search.store import Store

    with Store(args.run_dir) as store:
        target = output_file(args.output)
        try:
            written, left_out = write_table(store, target)
        except OSError as error:
            raise _not_written(args.output, error) from None
    skipped = ", ".join(f"{n} {status}" for status, n in sorted(left_out.items()))
    print(f"wrote {args.output}: {written} functions (ok and diverged)"
          + (f"; left out {skipped}" if skipped else "")
          + f"; replay it with task: {{name: table, path: {args.output}, cost: seconds}}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from search.inspect.plot import plot_run
    from search.store import Store

    with Store(args.run_dir) as store:
        target = output_file(args.output)
        try:
            path = plot_run(store, args.k, target)
        except (OSError, ValueError) as error:  # ValueError: a suffix matplotlib cannot write
            raise _not_written(args.output, error) from None
    print(f"wrote {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from search.inspect.html_report import write_report

    output = None if args.output is None else output_file(args.output)
    path = write_report(args.run_dir, output, k=args.k)
    print(f"wrote {path} (one self-contained page: open it in a browser, mail it, print it)")
    return 0


# -- one child, data, demo ----------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    from evaluator import fidelity_label
    from search.child import SETUP_ERROR, run_child
    from search.config import RunConfig, load_config
    from search.launch import preflight, task_for_children
    from space import parse

    config = load_config(args.config) if args.config else RunConfig()
    expr = parse(args.expr)  # a bad expression fails here, in one line
    preflight(config)
    task = task_for_children(config)
    print(f"training {expr.text} ({fidelity_label(task)}, seed {args.seed}) ...",
          file=sys.stderr)
    result, _ = run_child(config.evaluate, expr.text, task, args.seed)
    if SETUP_ERROR in result:
        raise UsageError(f"the child could not run: {result[SETUP_ERROR]}")
    reward = float(result["reward"])
    print(f"function:  {expr.text}\nstatus:    {result['status']}\n"
          f"reward:    {reward:.4f}" + ("" if math.isfinite(reward) else " (not finite)") +
          f"\nseconds:   {float(result['seconds']):.1f}")
    if result.get("error"):
        print(f"error:     {result['error']}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """Fetch a data set (MD5-verified) unless it is already where the search will look."""
    from evaluator import TaskConfig, download_dataset, find_dataset_dir
    from search.config import load_config

    dest = args.dest
    if dest is None and args.config is not None:
        task = load_config(args.config).task
        dest = task.data_dir if isinstance(task, TaskConfig) else None
    try:
        print(f"{args.dataset} already in {find_dataset_dir(args.dataset, dest)}")
        return 0
    except DataError:
        pass
    path = download_dataset(args.dataset, dest)
    print(f"{args.dataset} ready in {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from search.cli.demo import demo

    print(demo())
    return 0


# -- the parser ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="actsearch", description="Search for activation functions "
        "(Ramachandran, Zoph & Le 2017) on a laptop or a Ray cluster.")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a search from a YAML config, or resume one")
    run.add_argument("config", nargs="?", help="YAML config (see configs/)")
    run.add_argument("--out", help="run directory (default: runs/<name>-<time>)")
    run.add_argument("--resume", metavar="RUN_DIR",
                     help="continue the search in RUN_DIR with its saved config: finished "
                          "children are not trained again, interrupted ones are rerun")
    run.add_argument("--address", help="Ray cluster to join: auto or ray://host:port")
    run.add_argument("--workers", type=integer(1, 10_000),
                     help="children in flight (overrides the config)")
    run.set_defaults(handler=cmd_run)

    top = sub.add_parser("top", help="the best functions of a run")
    top.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    top.add_argument("-k", type=integer(1, COUNT_MAX), default=10, help="how many (default 10)")
    top.add_argument("--json", action="store_true", help="JSON instead of a table")
    top.set_defaults(handler=cmd_top)

    show = sub.add_parser("show", help="everything recorded about one function")
    show.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    show.add_argument("ref", metavar="ID|EXPR", help="candidate id or any spelling of it")
    show.set_defaults(handler=cmd_show)

    plot = sub.add_parser("plot", help="plot the top functions and the search's progress")
    plot.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    plot.add_argument("-k", type=integer(1, 100), default=8,
                      help="how many functions (default 8)")
    plot.add_argument("-o", "--output", required=True, help="image file, e.g. top.png")
    plot.set_defaults(handler=cmd_plot)

    report = sub.add_parser("report", help="write one self-contained HTML page about a run "
                            "(works while it runs)")
    report.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    report.add_argument("-k", type=integer(1, 100), default=10,
                        help="top functions shown (1-100, default 10)")
    report.add_argument("-o", "--output", help="HTML file (default RUN_DIR/report.html)")
    report.set_defaults(handler=cmd_report)

    export = sub.add_parser("export", help="write a function as a standalone PyTorch module")
    export.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    export.add_argument("ref", nargs="?", metavar="ID|EXPR", help="candidate id or expression")
    export.add_argument("--rank", type=integer(1, COUNT_MAX),
                        help="the N-th best function instead of an id")
    export.add_argument("-o", "--output", required=True, help="Python file to write")
    export.set_defaults(handler=cmd_export)

    table = sub.add_parser("export-table", help="write a run's rewards as a replay table (CSV)")
    table.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    table.add_argument("-o", "--output", required=True, help="CSV file to write")
    table.set_defaults(handler=cmd_export_table)

    add_study_commands(sub)

    ev = sub.add_parser("eval", help="train one function once (baselines, checks)")
    ev.add_argument("expr", metavar="EXPR", help="e.g. 'x * sigmoid(beta * x)'")
    ev.add_argument("--config", help="take task and evaluate target from this config")
    ev.add_argument("--seed", type=integer(0, SEED_MAX), default=0)
    ev.set_defaults(handler=cmd_eval)

    data = sub.add_parser("data", help="download a data set")
    data.add_argument("dataset", choices=["cifar10", "cifar100"],
                      help="which data set: cifar10 or cifar100 (python version, MD5-checked)")
    data.add_argument("--dest", help="folder (default: $ACTSEARCH_DATA or ~/.cache/actsearch)")
    data.add_argument("--config", help="use this config's task.data_dir as the folder")
    data.set_defaults(handler=cmd_data)

    demo = sub.add_parser("demo", help="the search space at a glance (no training)")
    demo.set_defaults(handler=cmd_demo)
    return parser


class _Version(argparse.Action):
    """``--version``: the package and code version, looked up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0,
                         help="print the package version and the code version (git describe)")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from search.version import version_line

        print(version_line())
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``actsearch`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (UserError, ParseError, SpaceError, DataError) as error:
        print(f"actsearch: error: {_line(error)}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt as error:
        if isinstance(error, Terminated) or SIGTERM_RECEIVED.is_set():
            print("actsearch: terminated (SIGTERM)", file=sys.stderr)
            return EXIT_TERMINATED
        print("actsearch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `actsearch top RUN | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

