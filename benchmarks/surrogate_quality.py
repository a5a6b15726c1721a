"""How well the reward surrogate ranks real recorded rewards it has not seen.

For each recorded landscape (a ``table`` CSV of ``benchmarks/landscapes/``,
or ``--tables``) and each model of ``controller.surrogate.RewardModel``:

* **LOO ρ**: Spearman correlation between the recorded rewards and the
  predictions of models that never saw the function predicted: exact
  leave-one-out (one fit per function) up to ``--loo-max`` rows, else
  ``--folds``-fold cross-validation (said in the column);
* **ρ@10/25/50 %**: fitted on the first 10, 25, 50 % of a random order of
  the table, ρ on the rest; median over ``--orders`` random orders.

Rewards are what a strategy hears: a diverged row (NaN) counts as 0, the
default ``diverged_reward``. Functions the pre-screen rejects are not in the
tables (a search never trains them). Features are ``controller.features``.

    python benchmarks/surrogate_quality.py                       # every recorded table
    python benchmarks/surrogate_quality.py --tables t.csv --models gp,knn
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.features import feature_matrix
from controller.surrogate import MODELS, RewardModel
from space import parse

LANDSCAPES = Path(__file__).resolve().parent / "landscapes"
FRACTIONS = (0.10, 0.25, 0.50)


def load_table(path: str | Path) -> tuple[list[str], np.ndarray]:
    """(expressions, rewards) of a table CSV; a NaN (diverged) reward counts as 0."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    rewards = [float(r["reward"]) for r in rows]
    return [r["expression"] for r in rows], np.array([0.0 if math.isnan(v) else v
                                                      for v in rewards])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def cross_predictions(kind: str, features: np.ndarray, rewards: np.ndarray, folds: int,
                      seed: int = 0) -> np.ndarray:
    """Each row predicted by a model fitted without it (``folds`` = len: leave-one-out)."""
    from sklearn.model_selection import KFold

    predicted = np.empty_like(rewards)
    splits = KFold(folds, shuffle=folds < len(rewards), random_state=seed if folds < len(
        rewards) else None).split(features)
    for train, test in splits:
        model = RewardModel(kind, seed).fit(features[train], rewards[train])
        predicted[test] = model.predict(features[test])[0]
    return predicted


def partial_rho(kind: str, features: np.ndarray, rewards: np.ndarray, fraction: float,
                orders: int) -> float:
    """Median over random orders of ρ on the rest when fitted on the first ``fraction``."""
    values = []
    for order_seed in range(orders):
        order = np.random.default_rng(order_seed).permutation(len(rewards))
        cut = max(2, round(fraction * len(rewards)))
        train, rest = order[:cut], order[cut:]
        model = RewardModel(kind, order_seed).fit(features[train], rewards[train])
        values.append(spearman(model.predict(features[rest])[0], rewards[rest]))
    return statistics.median(values)


def quality(path: str | Path, kind: str, loo_max: int, folds: int,
            orders: int) -> dict[str, float | str]:
    texts, rewards = load_table(path)
    features = feature_matrix([parse(t) for t in texts])
    began = time.perf_counter()
    k = len(rewards) if len(rewards) <= loo_max else folds
    row: dict[str, float | str] = {
        "n": len(rewards), "cv": "LOO" if k == len(rewards) else f"{k}-fold",
        "rho": spearman(cross_predictions(kind, features, rewards, k), rewards)}
    for fraction in FRACTIONS:
        row[f"rho@{fraction:.0%}"] = partial_rho(kind, features, rewards, fraction, orders)
    row["seconds"] = time.perf_counter() - began
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", help="comma-separated CSVs (default: every "
                        "benchmarks/landscapes/*.csv)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: "
                        + ",".join(MODELS))
    parser.add_argument("--loo-max", type=int, default=600,
                        help="exact leave-one-out up to this many rows (default 600)")
    parser.add_argument("--folds", type=int, default=10, help="k-fold beyond (default 10)")
    parser.add_argument("--orders", type=int, default=5,
                        help="random orders for the partial fits (default 5)")
    args = parser.parse_args(argv)
    tables = args.tables.split(",") if args.tables else sorted(
        str(p) for p in LANDSCAPES.glob("*.csv"))
    print("| table | model | n | cv | ρ (cv) | ρ@10% | ρ@25% | ρ@50% | seconds |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|")
    for table in tables:
        for kind in args.models.split(","):
            row = quality(table, kind, args.loo_max, args.folds, args.orders)
            print(f"| {Path(table).name} | {kind} | {row['n']} | {row['cv']} | {row['rho']:.3f} | "
                  + " | ".join(f"{row[f'rho@{f:.0%}']:.3f}" for f in FRACTIONS)
                  + f" | {row['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
