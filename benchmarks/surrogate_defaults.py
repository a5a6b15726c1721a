"""Choose the surrogate's defaults by leave-one-landscape-out on the recorded landscapes.

For every recorded landscape (``benchmarks/landscapes/*.csv``, replayed over
the space its recording searched, as in ``strategy_efficiency.py``) and every
setting of the grid ``--models`` × ``--acquisitions`` × ``--initial``, this
runs ``strategy: surrogate`` and, per (model, initial), ``exhaustive`` with
``order: predicted`` over ``--seeds`` seeds, each until its first top-1 %
function (or ``--budget`` evaluations). The figure is the median evaluations
over random search's median (``--random-seeds`` seeds): the "×" of the README.

Then, **leave one landscape out**: for each landscape L, the setting with the
smallest *worst* ratio over the other landscapes is the one a user tuned
elsewhere would get; its ratio on L is what it is worth on a landscape it
never saw. The last table is each setting's worst ratio over every landscape:
the defaults are chosen there, and their held-out figures say how far that
choice carries. Run the chosen setting again on fresh seeds (``--first-seed``)
to report it.

    python benchmarks/surrogate_defaults.py --seeds 20 --first-seed 200       # tuning
    python benchmarks/surrogate_defaults.py --models knn --acquisitions mix --initial 8 \\
        --seeds 20 --first-seed 1000                                           # fresh seeds
    python benchmarks/surrogate_defaults.py --prior cifar10_resnet8 ...        # with a prior

``--prior NAME`` gives every surrogate the recorded table NAME as its prior
(``surrogate: {prior: PATH}``) and skips that landscape. Each cell also says in
how many seeds a top-1 % function was found within ``--within`` (20)
evaluations (random search: 1 - 0.99^20 = 18 % of seeds).
Raw results go to ``--json`` for re-analysis. ``--oracle NAME=NOISE,...`` prints
what an oracle that knew each table's band of near-top functions (within two
seed-noise standard deviations of the top 1 %) would need: a floor for any
surrogate.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from landscapes import TableLandscape, top_threshold
from strategy_efficiency import RECORDED, recorded_landscapes, run_one, summarise

from controller import StrategyConfig, make_strategy
from controller.config import SurrogateConfig
from controller.prior import Prior
from search.prior import read_prior

SIGNAL_REPEATS = 16  # init_signals.py's equal weight: 147 shape columns, 9 signals
_STATE: dict = {}  # per worker process: landscapes, thresholds, feature cache


def _setup(names: list[str], top: float, signals: bool = False) -> None:
    """Worker initialiser: the landscapes, their top thresholds, cached features (with
    ``signals``: the shape features and the init signals of ``init_signals.py``, the
    signal block repeated to weigh as much as the shape block)."""
    import controller.model_based as model_based
    from controller.features import feature_matrix

    torch.set_num_threads(1)
    tables = {table.stem: (table, space) for table, space in recorded_landscapes()}
    _STATE["landscapes"] = {}
    extra: dict[str, np.ndarray] = {}  # fingerprint -> signal block
    for name in names:
        table, space = tables[name]
        landscape = TableLandscape(space, str(table))
        _STATE["landscapes"][name] = (landscape, top_threshold(landscape, top)[0])
        if signals:
            from init_signals import signal_matrix
            from surrogate_quality import load_table

            from space import parse

            matrix = signal_matrix(table)
            for text, row in zip(load_table(table)[0], matrix):
                extra[parse(text).fingerprint] = np.tile(row, SIGNAL_REPEATS)
            extra.setdefault("median", np.median(np.stack(list(extra.values())), axis=0))
    cache: dict[str, np.ndarray] = {}

    def cached(expressions, beta: float = 1.0) -> np.ndarray:
        missing = [e for e in expressions if e.text not in cache]
        if missing:
            for e, row in zip(missing, feature_matrix(missing, beta)):
                if signals:  # a function the table lacks (pre-screened): the median signals
                    row = np.concatenate([row, extra.get(e.fingerprint, extra["median"])])
                cache[e.text] = row
        return np.stack([cache[e.text] for e in expressions])

    model_based.feature_matrix = cached  # the pool's features once per process, not per run


def _prior(path: str) -> Prior:
    """The prior of a recorded table, read once per process."""
    if path not in _STATE:
        _STATE[path] = Prior.from_rewards(read_prior(path))
    return _STATE[path]


def _run(job: tuple) -> tuple:
    """One (landscape, strategy, setting, seed) run: evaluations to the first top-1 %."""
    name, strategy, setting, seed, budget, round_size = job
    landscape, threshold = _STATE["landscapes"][name]
    surrogate = SurrogateConfig(**setting)
    prior = _prior(surrogate.prior) if surrogate.prior else None
    if strategy == "predicted":
        config = StrategyConfig(name="exhaustive", order="predicted", seed=seed)
    else:
        config = StrategyConfig(name=strategy, seed=seed)
    build = lambda c, s: make_strategy(c, s, surrogate, prior)  # noqa: E731
    hit = run_one(landscape, threshold, config, budget, round_size, build, stop_at_hit=True)[0]
    return job, hit


def band_oracle(name: str, top: float, noise: float, initial: int = 4, draws: int = 4000,
                seed: int = 0) -> tuple[int, float]:
    """(band size, median evaluations) of an oracle that knows the band: the functions
    within two seed-noise standard deviations of the top-``top`` threshold. It draws
    ``initial`` functions uniformly, then uniformly from the band, until a top one."""
    table, space = dict((t.stem, (t, s)) for t, s in recorded_landscapes())[name]
    landscape = TableLandscape(space, str(table))
    threshold = top_threshold(landscape, top)[0]
    rewards = {}
    for _, tokens in space.enumerate():
        key, value = landscape.lookup(tokens)
        if not landscape.free(key):
            rewards.setdefault(key, value)
    values = np.array(list(rewards.values()))
    band = set(np.flatnonzero(values >= threshold - 2 * noise).tolist())
    rng, counts = np.random.default_rng(seed), []
    for _ in range(draws):
        first = rng.choice(len(values), initial, replace=False)
        hits = np.flatnonzero(values[first] >= threshold)
        if len(hits):
            counts.append(int(hits[0]) + 1)
            continue
        rest = rng.permutation(sorted(band - set(first.tolist())))
        counts.append(initial + int(np.argmax(values[rest] >= threshold)) + 1)
    return len(band), float(np.median(counts))


def label(setting: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in setting.items() if k != "prior")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=200)
    parser.add_argument("--random-seeds", type=int, default=200)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--round", type=int, default=2)
    parser.add_argument("--within", type=int, default=20,
                        help="also count the seeds that found one within this many (20)")
    parser.add_argument("--top", type=float, default=0.01)
    parser.add_argument("--models", default="knn,gp,forest")
    parser.add_argument("--acquisitions", default="ei,ucb,mean,mix")
    parser.add_argument("--initial", default="4,8,16")
    parser.add_argument("--tables", help="comma-separated recorded tables (default: all)")
    parser.add_argument("--prior", help="a recorded table NAME given to every surrogate "
                        "as its prior; that landscape is left out")
    parser.add_argument("--no-predicted", action="store_true",
                        help="skip exhaustive with order: predicted")
    parser.add_argument("--signals", action="store_true", help="add the child's signals "
                        "at initialisation (benchmarks/init_signals.py) to the features")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--json", help="write the raw evaluations-to-hit here")
    parser.add_argument("--load", help="comma-separated --json files of earlier runs: "
                        "report them together (same seeds and budget), run nothing")
    parser.add_argument("--oracle", metavar="NAME=NOISE,...", help="print the band "
                        "oracle's median evaluations per table (its seed-noise std), run nothing")
    args = parser.parse_args(argv)
    if args.oracle:
        for item in args.oracle.split(","):
            name, _, noise = item.partition("=")
            size, median = band_oracle(name, args.top, float(noise))
            print(f"{name}: band of {size} functions, oracle median {median:g} evaluations")
        return
    if args.load:
        hits = {}
        for path in args.load.split(","):
            for item in json.loads(Path(path).read_text()):
                hits[(item["landscape"], item["strategy"], item["setting"])] = item["hits"]
        report(hits, args)
        return

    names = [t.stem for t, _ in recorded_landscapes()]
    if args.tables:
        names = [n for n in names if n in args.tables.split(",")]
    if args.signals and len(names) != 1:
        parser.error("--signals: give one table (--tables NAME); the features differ by table")
    extra = {}
    if args.prior:
        names = [n for n in names if n != args.prior]
        extra = {"prior": str(RECORDED / f"{args.prior}.csv")}
    settings = [dict(model=m, acquisition=a, initial=int(i), **extra) for m, a, i in
                itertools.product(args.models.split(","), args.acquisitions.split(","),
                                  args.initial.split(","))]
    predicted = [] if args.no_predicted else list({(s["model"], s["initial"]): dict(
        model=s["model"], initial=s["initial"], **extra) for s in settings}.values())
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    common = (args.budget, args.round)
    jobs = [(n, "random", {}, seed, *common) for n in names
            for seed in range(args.first_seed, args.first_seed + args.random_seeds)]
    jobs += [(n, "surrogate", s, seed, *common) for n in names for s in settings for seed in seeds]
    jobs += [(n, "predicted", s, seed, *common) for n in names for s in predicted
             for seed in seeds]

    began = time.perf_counter()
    hits: dict[tuple, list] = {}
    setup = (names, args.top, args.signals)
    with multiprocessing.get_context("spawn").Pool(args.jobs, _setup, setup) as pool:
        for job, hit in pool.imap_unordered(_run, jobs, chunksize=4):
            name, strategy, setting = job[:3]
            hits.setdefault((name, strategy, label(setting)), []).append(hit)
    seconds = time.perf_counter() - began

    report(hits, args)
    print(f"\n{seconds:.0f} s; seeds {seeds.start}-{seeds.stop - 1}, random seeds "
          f"{args.random_seeds}, budget {args.budget}, round {args.round}, "
          f"prior {args.prior or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"landscape": k[0], "strategy": k[1], "setting": k[2], "hits": v}
             for k, v in hits.items()], indent=1))


def report(hits: dict[tuple, list], args) -> None:
    """The per-landscape tables, then leave-one-landscape-out."""
    medians = {key: summarise(values, args.budget)[0] for key, values in hits.items()}
    ratio = {key: medians[key] / medians[(key[0], "random", "")] for key in medians}
    found = {key: sum(h is not None and h <= args.within for h in values)
             for key, values in hits.items()}
    names = list(dict.fromkeys(key[0] for key in hits))
    head = " | ".join(names)
    print("random median: " + ", ".join(f"{n} {medians[(n, 'random', '')]:g}" for n in names))
    for strategy in ("surrogate", "predicted"):
        group = list(dict.fromkeys(k[2] for k in hits if k[1] == strategy))
        group = [g for g in group if all((n, strategy, g) in hits for n in names)]
        if not group:
            continue
        print(f"\n### {strategy}: ratio to random (seeds that found one within "
              f"{args.within} evaluations)\n")
        print(f"| setting | {head} | worst |\n|---|" + "---:|" * (len(names) + 1))
        for g in sorted(group, key=lambda g: max(ratio[(n, strategy, g)] for n in names)):
            row = [ratio[(n, strategy, g)] for n in names]
            cells = " | ".join(f"{r:.2f} ({found[(n, strategy, g)]}/"
                               f"{len(hits[(n, strategy, g)])})" for n, r in zip(names, row))
            print(f"| {g} | {cells} | {max(row):.2f} |")
        if len(names) < 2:
            continue
        print(f"\n{strategy}, leave one landscape out (chosen by the worst ratio "
              f"over the others):\n")
        print("| held out | chosen on the others | worst there | on the held-out one |")
        print("|---|---|---:|---:|")
        for held in names:
            others = [n for n in names if n != held]
            worst = {g: max(ratio[(n, strategy, g)] for n in others) for g in group}
            chosen = min(worst, key=worst.get)
            print(f"| {held} | {chosen} | {worst[chosen]:.2f} | "
                  f"{ratio[(held, strategy, chosen)]:.2f} |")


if __name__ == "__main__":
    main()
