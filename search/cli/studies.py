"""The study commands of ``actsearch``: ``rerank`` and ``compare`` (``search.studies``)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from search.cli.args import integer
from search.errors import UsageError


def _study_progress(label: str):
    """A progress bar callback (done, total) for a study."""
    from tqdm import tqdm

    bar: list[tqdm] = []

    def on_result(done: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, initial=done, unit="child", desc=label,
                            dynamic_ncols=True, file=sys.stderr))
        bar[0].update(done - bar[0].n)
        if done >= total:
            bar[0].close()
    return on_result


def _run(kind: str, out: Path, config, functions: list[tuple[str, str]], args,
         models: list[int] | None = None) -> int:
    """Build the arms (functions and baselines x models), run or resume, print the report."""
    from search.studies import compare as study
    from search.studies.study import fresh_seeds

    config = study.variant_config(config, workers=args.workers, address=args.address)
    baselines = study.parse_baselines(args.baselines)
    arms = study.arms_for(functions, baselines, study.model_tasks(config, models, args.steps))
    print(study.run_and_report(out, kind, arms, fresh_seeds(args.seeds),
                               [label for label, _ in functions], baselines, config, sys.argv,
                               _study_progress(kind)))
    return 0


def cmd_rerank(args: argparse.Namespace) -> int:
    from search.launch import saved_config
    from search.studies.compare import rerank_dir, top_functions

    run_dir = Path(args.run_dir)
    config = saved_config(run_dir)
    return _run("rerank", rerank_dir(run_dir), config, top_functions(run_dir, args.k), args)


def cmd_compare(args: argparse.Namespace) -> int:
    from search.config import RunConfig, load_config
    from search.launch import saved_config
    from search.studies.compare import top_functions
    from space import parse

    if args.run_dir is None and not args.functions:
        raise UsageError("give a RUN_DIR (its top -k functions) or --functions EXPR ...")
    if args.run_dir is not None and args.config is not None:
        raise UsageError("give a RUN_DIR (its config is used) or --config, not both")
    if args.run_dir is None and args.out is None:
        raise UsageError("--out DIR is needed when no RUN_DIR is given (run the same "
                         "command again to resume)")
    if args.run_dir is not None:
        config = saved_config(Path(args.run_dir))
        functions = top_functions(Path(args.run_dir), args.k)
    else:
        config = load_config(args.config) if args.config else RunConfig()
        functions = []
    functions += [(parse(text).text, parse(text).text) for text in args.functions or []]
    models = None
    if args.models:
        depths = [m.strip().lower().removeprefix("resnet").strip("-")
                  for m in args.models.split(",")]
        if not all(re.fullmatch(r"[0-9]{1,4}", d) for d in depths):  # ASCII digits, < 10,000
            raise UsageError(f"--models {args.models[:60]!r}: give depths like 20,56 or "
                             "resnet20,resnet56")
        models = [int(d) for d in depths]
    out = Path(args.out) if args.out else Path(args.run_dir) / "compare"
    return _run("compare", out, config, functions, args, models)


def add_study_commands(sub: argparse._SubParsersAction) -> None:
    """The ``rerank`` and ``compare`` subcommands (numbers range-checked as they are read)."""
    count, seeds = integer(1, 1000), integer(1, 100)
    steps, workers = integer(1, 10_000_000), integer(1, 10_000)
    baselines_help = ("comma list of baselines (ReLU, LReLU, PReLU, Softplus, ELU, SELU, GELU, "
                      "Swish-1, Swish), 'all' or 'none' (default: ReLU,Swish-1,Swish)")
    rerank = sub.add_parser("rerank", help="retrain a run's top-k and baselines with more "
                            "seeds; rank with intervals")
    rerank.add_argument("run_dir", metavar="RUN_DIR",
                        help="the search's run directory, as `actsearch run` printed it")
    rerank.add_argument("-k", type=count, default=10, help="how many top functions (default 10)")
    rerank.add_argument("--seeds", type=seeds, default=3, help="fresh seeds each (default 3)")
    rerank.add_argument("--steps", type=steps, help="train longer than the search did")
    rerank.add_argument("--baselines", help=baselines_help)
    rerank.add_argument("--workers", type=workers, help="children in flight")
    rerank.add_argument("--address", help="Ray cluster to join: auto or ray://host:port")
    rerank.set_defaults(handler=cmd_rerank)

    compare = sub.add_parser("compare", help="functions against baselines over models and "
                             "seeds (median table, sign test)")
    compare.add_argument("run_dir", nargs="?", metavar="RUN_DIR",
                         help="take the top -k functions and the task from this run")
    compare.add_argument("--functions", nargs="+", metavar="EXPR", help="functions as text")
    compare.add_argument("-k", type=count, default=3, help="top functions of RUN_DIR (default 3)")
    compare.add_argument("--baselines", help=baselines_help)
    compare.add_argument("--models", help="ResNet depths, e.g. 20,56 (default: the task's)")
    compare.add_argument("--seeds", type=seeds, default=3, help="seeds per model (default 3)")
    compare.add_argument("--steps", type=steps, help="training steps (default: the task's)")
    compare.add_argument("--config", help="task and backend from this config (no RUN_DIR)")
    compare.add_argument("--out", help="study directory (default RUN_DIR/compare); run the "
                         "same command again to resume")
    compare.add_argument("--workers", type=workers, help="children in flight")
    compare.add_argument("--address", help="Ray cluster to join: auto or ray://host:port")
    compare.set_defaults(handler=cmd_compare)
