"""The seed noise of a recorded landscape: functions trained again with another seed.

``--table`` is a landscape (``actsearch export-table`` of the main recording,
seed 0), ``--repeat`` the export of a second run with another seed over some
of the same functions. Rows are matched by function (fingerprint). Prints how
far the seeds disagree and, with ``--write``, adds the second seed's reward to
the table as a column ``reward_seed1`` (blank where not repeated), so the
table states its own noise. The ``table`` task reads only its named columns.

    python benchmarks/landscape_noise.py --table benchmarks/landscapes/x.csv \
        --repeat runs/x_seed1.csv --write
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from space import parse

COLUMN = "reward_seed1"


def read(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def noise(pairs: list[tuple[float, float]]) -> dict[str, float]:
    """Agreement of two seeds over the functions trained twice (both ok)."""
    from scipy.stats import spearmanr

    first, second = zip(*pairs, strict=True)
    differences = [a - b for a, b in pairs]
    return {"n": len(pairs),
            "seed_std": statistics.stdev(differences) / math.sqrt(2) if len(pairs) > 1 else 0.0,
            "mean_abs_diff": statistics.fmean(abs(d) for d in differences),
            "max_abs_diff": max(abs(d) for d in differences),
            "spearman": float(spearmanr(first, second).statistic),
            "reward_std": statistics.stdev(first)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", required=True, help="the landscape CSV (seed 0)")
    parser.add_argument("--repeat", required=True, help="export-table CSV of the second seed")
    parser.add_argument("--write", action="store_true",
                        help=f"add a {COLUMN} column to --table")
    args = parser.parse_args(argv)
    header, rows = read(args.table)
    _, repeats = read(args.repeat)
    second = {parse(r["expression"]).fingerprint: r["reward"] for r in repeats}
    pairs, diverged_once = [], 0
    for row in rows:
        other = second.get(parse(row["expression"]).fingerprint)
        row[COLUMN] = "" if other is None else other
        if other is not None:
            a, b = float(row["reward"]), float(other)
            if math.isnan(a) != math.isnan(b):
                diverged_once += 1
            elif not math.isnan(a):
                pairs.append((a, b))
    stats = noise(pairs)
    print(f"{args.table}: {stats['n']} functions trained with both seeds (ok both times; "
          f"{diverged_once} diverged with one seed only); per-seed noise std "
          f"{stats['seed_std']:.4f}, mean |difference| {stats['mean_abs_diff']:.4f}, "
          f"max {stats['max_abs_diff']:.4f}; Spearman between seeds {stats['spearman']:.3f}; "
          f"reward std over these functions {stats['reward_std']:.4f}")
    if args.write:
        fields = header + ([COLUMN] if COLUMN not in header else [])
        with open(args.table, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote column {COLUMN} into {args.table}")


if __name__ == "__main__":
    main()
