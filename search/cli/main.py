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

The commands live in ``run`` (the search), ``reading`` (what reads a run),
``tools`` (eval, data, demo) and ``studies`` (rerank, compare); ``args`` holds what
they share. Each command imports its own machinery when it runs, so ``--help`` and
the commands that read a store never load torch or Ray.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from evaluator import DataError
from search.cli.args import (
    COUNT_MAX,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USER,
    RUN_DIR_HELP,
    SEED_MAX,
    ArgumentParser,
    integer,
    one_line,
)
from search.cli.reading import (
    cmd_export,
    cmd_export_table,
    cmd_plot,
    cmd_report,
    cmd_show,
    cmd_top,
)
from search.cli.run import SIGTERM_RECEIVED, cmd_run
from search.cli.studies import add_study_commands
from search.cli.tools import cmd_data, cmd_demo, cmd_eval
from search.errors import Terminated, UserError
from space import ParseError, SpaceError


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
        print(f"actsearch: error: {one_line(error)}", file=sys.stderr)
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

