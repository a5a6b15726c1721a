"""How many evaluations each search strategy needs, on landscapes that need no training.

For every (space, landscape) pair and every strategy, over ``--seeds`` seeds:

* **evals to top 1%**: median (and quartiles) of the number of evaluations
  until the first function in the landscape's top 1% of token sequences is
  evaluated. An *evaluation* is a new function: as in the search runner, a
  function proposed again (same key; see ``landscapes.py``) is told its
  recorded reward and costs nothing. Runs that do not get there within
  ``--budget`` evaluations (or 10 × budget proposals) count as ``> budget``
  (the median is then a lower bound, marked ``>``).
* **found**: in how many seeds the top 1% was reached.
* **best@N**: median over seeds of the best noise-free score among the first
  N (= ``--budget``) evaluations.
* **proposals/eval**: proposals asked per new function (repeats are free for
  training, not for the controller's own steps).

Spaces: one unit with all 25 unary and 10 binary operators (6,250 sequences,
top 1% exact) and two units with all operators (156,250,000 sequences, top 1%
estimated from 20,000 uniform draws). For reference, a uniform draw hits a
top-1% set with p = 0.01, so random search needs ln 2 / -ln 0.99 ≈ 69
evaluations in median, but the median of 10 or 20 seeds of a geometric
variable scatters widely (we saw 19 to 59). Random search costs nothing to run,
so it gets ``--random-seeds`` (default 200) seeds: its median is the baseline,
and the column **÷ random** is a strategy's median over random's.

``hillclimb`` is a reference, not a product strategy: one-token variations of
the best function told so far (``HillClimb``). It shows what plain
exploitation of the best reaches on a landscape, i.e. roughly how much room a
learning strategy has.

Strategies use StrategyConfig's defaults, except PPO's lr and entropy weight
(``PPO_SETTINGS``) and ``--set`` overrides. They are driven in rounds of
``--round`` proposals (like that many workers), each round told at once: 2 by
default, ``backend.workers``' default and the quickstart's (the runner asks
for one proposal per free worker). More workers mean more proposals made
before their rewards are known: ``--round 8`` shows the cost.
Exhaustive runs on the one-unit space only (its order changes unit 1's tokens
only after millions of proposals) and with one seed (it is deterministic).

    python benchmarks/strategy_efficiency.py              # full table, a few minutes
    python benchmarks/strategy_efficiency.py --seeds 3 --budget 100   # quick look
    python benchmarks/strategy_efficiency.py --units 2 --set lr=0.01  # a tuning run
    python benchmarks/strategy_efficiency.py --units 2 --top 0.001 --budget 2000  # rarer target

``--top`` changes the target fraction (default 0.01); with 0.001 the two-unit
threshold rests on the 20 best of 20,000 uniform draws.

**Recorded landscapes** (``--landscapes recorded``, part of the default): every
``benchmarks/landscapes/*.csv`` replayed through the ``table`` task over the
space its recording searched (the ``space:`` of the YAML config of the same
name), so the table covers the space it is searched in. Real rewards carry
their own seed noise; no noise is added. Functions a table lacks are the ones
the pre-screen rejected: as in the runner, they cost no evaluation.
``--pool`` searches only a table's own functions instead (a
``space.FunctionPool``: every strategy proposes among them), so a table that
covers part of a space is searched fairly instead of scoring the rest 0.

**Surrogate strategies**: ``surrogate`` (model-based search over the space's
functions, ``controller/model_based.py``), ``exhaustive-predicted``
(exhaustive in predicted order) and ``NAME+filter`` (strategy NAME
over-proposes ``--filter`` times, the surrogate trains the best;
``controller/filtered.py``). ``--surrogate-set FIELD=VALUE`` overrides the
``surrogate:`` block (model, acquisition, initial, ...). **samples/eval**
counts what the strategy drew to make its proposals (the RNN's policy draws,
repeats it answered itself included; a filter's inner proposals), beside
**proposals/eval**, what reached the runner.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from landscapes import Landscape, NKLandscape, ShapeLandscape, TableLandscape, top_threshold

from controller import StrategyConfig, make_strategy
from controller.base import random_tokens
from controller.config import SurrogateConfig
from space import FunctionPool, SearchSpace

STRATEGIES = ("random", "evolution", "reinforce", "ppo", "exhaustive", "hillclimb", "surrogate",
              "exhaustive-predicted", "random+filter", "evolution+filter", "reinforce+filter",
              "ppo+filter")
ENUMERABLE_ONLY = ("exhaustive", "exhaustive-predicted")  # one-unit (small) spaces only
RECORDED = Path(__file__).resolve().parent / "landscapes"
# StrategyConfig's defaults are tuned for REINFORCE (the product's default). PPO takes
# ppo_epochs (4) steps per batch and did best in the tuning runs with these instead:
PPO_SETTINGS = {"lr": 0.01, "entropy_weight": 0.001}
MAX_PROPOSALS = 10  # per evaluation of budget: a policy that only repeats itself is stopped


class HillClimb:
    """Reference, not a product strategy: (1+λ) local search. Each proposal is the best
    sequence told so far with one slot redrawn uniformly (a uniform draw before any
    result). It shows how far plain exploitation of the best gets on a landscape."""

    exhausted = False

    def __init__(self, config: StrategyConfig, space: SearchSpace) -> None:
        self.space, self.rng = space, np.random.default_rng(config.seed)
        self.best: tuple[float, tuple[int, ...]] | None = None

    def ask(self, n: int) -> list[tuple[int, ...]]:
        proposals = []
        for _ in range(n):
            tokens = list(random_tokens(self.space, self.rng))
            if self.best is not None:
                slot = int(self.rng.integers(len(tokens)))
                tokens = [*self.best[1][:slot], tokens[slot], *self.best[1][slot + 1:]]
            proposals.append(tuple(tokens))
        return proposals

    def tell(self, results) -> None:
        for tokens, reward in results:
            if self.best is None or reward > self.best[0]:
                self.best = (reward, tuple(tokens))


def run_one(landscape: Landscape, threshold: float, config: StrategyConfig, budget: int,
            round_size: int, build=make_strategy, stop_at_hit: bool = False
            ) -> tuple[int | None, float, float, float]:
    """(evaluations to reach the threshold or None, best score within budget, proposals per
    evaluation, samples per evaluation). Functions the landscape answers for free
    (pre-screened) are no evaluation. ``stop_at_hit``: stop at the first hit (the best
    score is then the best until it)."""
    strategy = build(config, landscape.space)
    seen: dict[str, float] = {}  # function key -> recorded reward: the "store"
    hit, best, proposals, evaluations = None, 0.0, 0, 0
    while evaluations < budget and proposals < MAX_PROPOSALS * budget \
            and not strategy.exhausted and not (stop_at_hit and hit is not None):
        asked = strategy.ask(round_size)
        results = []
        for tokens in asked:
            proposals += 1
            key, score = landscape.lookup(tokens)
            if key not in seen and evaluations < budget:
                seen[key] = landscape.reward(tokens, config.seed)
                if not landscape.free(key):
                    evaluations += 1
                    best = max(best, score)
                    if hit is None and score >= threshold:
                        hit = evaluations
            results.append((tokens, seen.get(key, landscape.reward(tokens, config.seed))))
        strategy.tell(results)
    done = max(evaluations, 1)
    return hit, best, proposals / done, samples_of(strategy, proposals) / done


def samples_of(strategy, proposals: int) -> int:
    """What the strategy drew: the RNN's policy draws, a filter's inner proposals."""
    inner = getattr(strategy, "inner", None)
    deepest = getattr(inner, "samples", None) if inner is not None else None
    return deepest or getattr(strategy, "samples", None) or proposals


def summarise(hits: list[int | None], budget: int) -> tuple[float, str, str]:
    """(median, its text, quartiles text); a miss counts as budget + 1."""
    values = [h if h is not None else budget + 1 for h in hits]
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    text = f">{budget}" if median > budget else f"{median:.4g}"
    iqr = f"{q1:.0f}–{q3:.0f}" if q3 <= budget else f"{q1:.0f}–>{budget}"
    return float(median), text, iqr


def config_for(name: str, seed: int, overrides: dict[str, object]) -> StrategyConfig:
    """Defaults, PPO's settings, and the ``--set`` overrides that apply to ``name``."""
    base = name.removesuffix("+filter")
    used = {"evolution": ("population_size", "sample_size"), "reinforce": tuple(overrides),
            "ppo": tuple(overrides)}.get(base, ())
    extra = dict(PPO_SETTINGS) if base == "ppo" else {}
    extra.update({k: v for k, v in overrides.items() if k in used})
    if base == "exhaustive-predicted":
        return StrategyConfig(name="exhaustive", order="predicted", seed=seed)
    return StrategyConfig(name="random" if base == "hillclimb" else base, seed=seed, **extra)


def builder(name: str, surrogate: SurrogateConfig, filter_factor: int):
    """How to make strategy ``name`` (config, space) -> strategy."""
    if name == "hillclimb":
        return HillClimb
    factor = filter_factor if name.endswith("+filter") else 1
    block = dataclasses.replace(surrogate, filter=factor)
    return lambda config, space: make_strategy(config, space, block)


def recorded_landscapes(directory: Path = RECORDED) -> list[tuple[Path, SearchSpace]]:
    """Every recorded table with the space its recording searched (its YAML's ``space:``)."""
    found = []
    for table in sorted(directory.glob("*.csv")):
        config = table.with_suffix(".yaml")
        if config.exists():
            space = yaml.safe_load(config.read_text()).get("space") or {}
            found.append((table, SearchSpace(space.get("units", 1), space.get("unary"),
                                             space.get("binary"))))
    return found


def pool_of(table: Path) -> FunctionPool:
    """The table's own functions as a space."""
    from surrogate_quality import load_table

    return FunctionPool(load_table(table)[0])


def landscapes_for(args) -> list[tuple[str, Landscape]]:
    """(space label, landscape) pairs the arguments ask for."""
    chosen = []
    kinds = ["table"] if args.table else args.landscapes.split(",")
    for kind in kinds:
        if kind in ("table", "recorded"):
            tables = [(Path(args.table), None)] if args.table else recorded_landscapes()
            if args.tables and not args.table:
                wanted = args.tables.split(",")
                tables = [(t, s) for t, s in tables if t.stem in wanted]
            for table, recorded_space in tables:
                spaces = ([pool_of(table)] if args.pool else [recorded_space] if recorded_space
                          else [SearchSpace(int(u)) for u in args.units.split(",")])
                chosen += [(space_label(space), TableLandscape(space, str(table)))
                           for space in spaces]
        else:
            for units in (int(u) for u in args.units.split(",")):
                space = SearchSpace(units)
                landscape = ShapeLandscape(space) if kind == "shape" else NKLandscape(space)
                chosen.append((space_label(space), landscape))
    return chosen


def space_label(space) -> str:
    if isinstance(space, FunctionPool):
        return f"pool of {space.size:,}"
    if space.unary != SearchSpace(space.units).unary or space.binary != SearchSpace(
            space.units).binary:
        return f"{space.units} unit, {len(space.unary)}x{len(space.binary)} ops"
    return f"{space.units} unit{'s' if space.units > 1 else ''}"


def parse_value(default: object, text: str) -> object:
    """``text`` as the type of a StrategyConfig default (``none`` for None)."""
    if text == "none":
        return None
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes")
    return int(text) if isinstance(default, int) else float(text)


def parse_overrides(parser, items: list[str], defaults) -> dict[str, object]:
    """FIELD=VALUE items as typed values of the ``defaults`` dataclass's fields."""
    fields = {f.name for f in dataclasses.fields(defaults)}
    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in fields:
            parser.error(f"{item}: no {type(defaults).__name__} field {key!r}")
        default = getattr(defaults, key)
        overrides[key] = value if isinstance(default, str) else parse_value(default, value)
    return overrides


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per strategy (default 10)")
    parser.add_argument("--budget", type=int, default=200,
                        help="evaluations (new functions) per run (default 200)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds are first-seed, first-seed + 1, ... (default 0)")
    parser.add_argument("--random-seeds", type=int, default=200,
                        help="seeds for random search, the baseline (default 200)")
    parser.add_argument("--round", type=int, default=2, help="proposals asked per round, "
                        "told at once (default 2: backend.workers' default, like the runner)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES),
                        help="comma-separated subset of " + ",".join(STRATEGIES))
    parser.add_argument("--landscapes", default="recorded,shape,nk",
                        help="comma-separated: recorded (benchmarks/landscapes/*.csv), shape, nk")
    parser.add_argument("--table", metavar="CSV", help="replay a recorded expression,reward "
                        "table (the `table` task) over --units spaces instead of --landscapes")
    parser.add_argument("--tables", help="comma-separated names of recorded tables to "
                        "replay (default: every benchmarks/landscapes/*.csv), e.g. digits_mlp8")
    parser.add_argument("--pool", action="store_true", help="search only the tables' own "
                        "functions (a FunctionPool) instead of the space they were recorded in")
    parser.add_argument("--filter", type=int, default=4,
                        help="over-proposal factor of the NAME+filter strategies (default 4)")
    parser.add_argument("--surrogate-set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a field of the surrogate: block (model, acquisition, ...)")
    parser.add_argument("--top", type=float, default=0.01,
                        help="target: this top fraction of sequences (default 0.01)")
    parser.add_argument("--units", default="1,2", help="comma-separated space sizes: 1,2")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a StrategyConfig field for the learning strategies")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    overrides = parse_overrides(parser, args.set, StrategyConfig())
    surrogate = dataclasses.replace(SurrogateConfig(), **parse_overrides(
        parser, args.surrogate_set, SurrogateConfig()))

    began = time.perf_counter()
    top = f"top {100 * args.top:g}%"
    print(f"| space | landscape | {top} | strategy | seeds | evals to {top} (median) | IQR | "
          f"÷ random | found | best@{args.budget} | proposals/eval | samples/eval |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, landscape in landscapes_for(args):
        threshold, how = top_threshold(landscape, args.top)
        random_median = None
        for name in args.strategies.split(","):
            if name in ENUMERABLE_ONLY and getattr(landscape.space, "units", 1) > 1:
                continue  # its order changes unit 1's tokens only after millions
            first = args.first_seed
            seeds = {"exhaustive": [0], "random": range(first, first + args.random_seeds)
                     }.get(name, range(first, first + args.seeds))
            build = builder(name, surrogate, args.filter)
            runs = [run_one(landscape, threshold, config_for(name, seed, overrides),
                            args.budget, args.round, build) for seed in seeds]
            hits = [run[0] for run in runs]
            median, median_text, iqr = summarise(hits, args.budget)
            if name == "random":
                random_median = median
            versus = f"{median / random_median:.2f}" if random_median else "–"
            best = statistics.median(run[1] for run in runs)
            per_eval = statistics.median(run[2] for run in runs)
            drawn = statistics.median(run[3] for run in runs)
            found = sum(hit is not None for hit in hits)
            print(f"| {label} ({how}) | {landscape.name} | {threshold:.3f} | {name} | "
                  f"{len(runs)} | {median_text} | {iqr} | {versus} | {found}/{len(runs)} | "
                  f"{best:.3f} | {per_eval:.1f} | {drawn:.1f} |", flush=True)
    print(f"\n{time.perf_counter() - began:.0f} s; seeds={args.seeds}, "
          f"random seeds={args.random_seeds}, budget={args.budget}, "
          f"round={args.round}, overrides={overrides or 'none'}, filter={args.filter}, "
          f"surrogate={surrogate}")


if __name__ == "__main__":
    main()
