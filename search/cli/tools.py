"""The commands around a search: ``eval`` (one child), ``data`` (fetch a data set) and
``demo`` (the space at a glance)."""

from __future__ import annotations

import argparse
import math
import sys

from evaluator import DataError
from search.errors import UsageError


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
