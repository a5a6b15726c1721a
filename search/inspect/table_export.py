"""``actsearch export-table``: a run's results as a replay table (a recorded landscape).

The CSV is what the ``table`` task reads (``task: {name: table, path: FILE,
cost: seconds}``), so any finished search becomes a landscape that strategies
and surrogates can be judged on without training. One row per function:

    expression,reward,seconds,status,seeds,std
    sigmoid(x) * x,0.3748,12.6,ok,1,
    exp(x) * x,nan,3.1,diverged,1,

* Rewards are those of the lowest rung (with successive halving every
  candidate is measured there, so all rows share one fidelity), the mean over
  the candidate's seeds; ``std`` is their sample standard deviation (blank
  with one seed).
* ``diverged`` rows have the reward ``nan``: replayed, they are diverged again.
* Rows are left out when the outcome says nothing about the function at this
  fidelity: ``invalid`` (the runner's pre-screen rejects them again before the
  table is asked), ``error``, ``timeout``, ``missing`` and unfinished ones.
  ``write_table`` returns what it left out, and the command says it.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import Counter
from pathlib import Path

from search.store import Store

COLUMNS = ("expression", "reward", "seconds", "status", "seeds", "std")
KEPT = ("ok", "diverged")


def table_rows(store: Store) -> tuple[list[dict[str, str]], Counter]:
    """(rows for the CSV in the order candidates were met, counts of what was left out)."""
    finished = store.rung_results(0)  # candidate id -> (worst status, mean reward)
    rewards: dict[int, list[float]] = {}
    seconds: dict[int, float] = {}
    for evaluation in store.evaluations():
        if evaluation.rung == 0:
            cid = evaluation.candidate_id
            rewards.setdefault(cid, []).append(evaluation.reward)
            seconds[cid] = seconds.get(cid, 0.0) + (evaluation.seconds or 0.0)
    rows, left_out = [], Counter()
    for candidate in store.candidates():
        status, mean = finished.get(candidate.id, ("unfinished", math.nan))
        if status not in KEPT:
            left_out[status] += 1
            continue
        values = rewards[candidate.id]
        ok = status == "ok"
        std = statistics.stdev(values) if ok and len(values) > 1 else None
        rows.append({"expression": candidate.text, "reward": repr(mean if ok else math.nan),
                     "seconds": f"{seconds[candidate.id]:.1f}", "status": status,
                     "seeds": str(len(values)), "std": "" if std is None else f"{std:.6g}"})
    return rows, left_out


def write_table(store: Store, path: str | Path) -> tuple[int, Counter]:
    """Write the CSV; (rows written, counts by status of candidates left out)."""
    rows, left_out = table_rows(store)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows), left_out
