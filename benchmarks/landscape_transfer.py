"""Does a ranking of functions carry from one recorded landscape to another?

For every pair of recorded tables (``benchmarks/landscapes/*.csv``), on the
functions both trained (matched by fingerprint, so spellings do not matter):

* **ρ**: Spearman correlation of the two rewards, a diverged function counting
  as 0 (what a strategy hears); **ρ ok**: among functions ``ok`` on both;
* **top 10 % kept**: of the first table's best tenth (of the shared
  functions), the share also in the second's best tenth (chance: 10 %);
* **best there**: the first table's best function, its rank on the second.

    python benchmarks/landscape_transfer.py
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scipy.stats import spearmanr

from search.prior import read_prior

LANDSCAPES = Path(__file__).resolve().parent / "landscapes"


def by_function(path: Path) -> dict[str, tuple[str, float]]:
    """fingerprint -> (expression, reward; NaN: diverged)."""
    return {expr.fingerprint: (expr.text, reward) for expr, reward in read_prior(path)}


def main() -> None:
    tables = {p.stem: by_function(p) for p in sorted(LANDSCAPES.glob("*.csv"))}
    print("| first | second | shared | ρ | ρ ok | top 10 % kept | first's best, rank there |")
    print("|---|---|---:|---:|---:|---:|---|")
    for a, b in itertools.permutations(tables, 2):
        shared = sorted(set(tables[a]) & set(tables[b]))
        x = np.array([tables[a][k][1] for k in shared])
        y = np.array([tables[b][k][1] for k in shared])
        ok = ~np.isnan(x) & ~np.isnan(y)
        x0, y0 = np.nan_to_num(x, nan=0.0), np.nan_to_num(y, nan=0.0)
        rho = spearmanr(x0, y0).statistic
        rho_ok = spearmanr(x[ok], y[ok]).statistic
        tenth = max(1, math.ceil(len(shared) / 10))
        top_a = set(np.argsort(-x0, kind="stable")[:tenth])
        top_b = set(np.argsort(-y0, kind="stable")[:tenth])
        best = int(np.argmax(x0))
        rank = int((y0 > y0[best]).sum()) + 1
        print(f"| {a} | {b} | {len(shared)} | {rho:.2f} | {rho_ok:.2f} | "
              f"{len(top_a & top_b) / tenth:.0%} | `{tables[a][shared[best]][0]}`: "
              f"{rank} of {len(shared)} |")


if __name__ == "__main__":
    main()
