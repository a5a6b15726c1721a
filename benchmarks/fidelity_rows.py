"""The paper-fidelity benchmark's functions, its results file and its table (no torch, no Ray).

``CANDIDATES`` are the paper's eight top functions (Ramachandran et al. 2017,
Fig. 3) and the nine baselines it compares against (``space.BASELINES``).
Swish, x·σ(βx), is both the paper's first function and a baseline: one
candidate, trained once (17 names, 16 functions). They are listed in the order
they are trained, the ones the goals name first (ReLU, Swish, Swish-1), then
the paper's order, then the other baselines, so a run cut short by its
deadline has the rows that matter most.

The results file is JSON lines, one finished child per line, appended and
flushed as each child finishes; ``read_results`` ignores a torn last line (the
child being written when the process was killed: it is trained again).
"""

from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from space import BASELINES


@dataclass(frozen=True)
class Candidate:
    """One function to train: its display name(s), expression, and what the paper says."""

    name: str  # the row's key in the results file
    expr: str
    paper_rank: int | None = None  # position in the paper's Fig. 3 (1-8)
    paper_rn: float | None = None  # the paper's CIFAR-10 % with ResNet-164 (transfer table)
    also: str = ""  # the other name of the same function


# The paper's Fig. 3 functions: (name, expression, ResNet-164 CIFAR-10 % from its table).
PAPER_TOP = [
    ("x·σ(βx)", "x * sigmoid(beta * x)", 94.5),
    ("max(x, σ(x))", "max(x, sigmoid(x))", 94.3),
    ("cos(x) − x", "cos(x) - x", 94.1),
    ("min(x, sin(x))", "min(x, sin(x))", 94.0),
    ("(tan⁻¹x)² − x", "square(atan(x)) - x", 93.9),
    ("max(x, tanh(x))", "max(x, tanh(x))", 93.9),
    ("sinc(x) + x", "sinc(x) + x", 91.5),
    ("x·(sinh⁻¹x)²", "x * square(asinh(x))", 85.1),
]
PAPER_RELU_RN = 93.8
SAME_AS_BASELINE = {"x·σ(βx)": "Swish"}  # a test checks these by fingerprint
FIRST = ("ReLU", "Swish", "Swish-1")  # trained first: the goals name them


def _candidates() -> tuple[Candidate, ...]:
    merged = {base: top for top, base in SAME_AS_BASELINE.items()}
    paper = {name: (rank, rn) for rank, (name, _, rn) in enumerate(PAPER_TOP, start=1)}
    baselines = {}
    for name, text in BASELINES.items():
        rank, rn = paper.get(merged.get(name, ""), (None, PAPER_RELU_RN if name == "ReLU"
                                                      else None))
        baselines[name] = Candidate(name, text, rank, rn, merged.get(name, ""))
    tops = [Candidate(name, text, rank, rn) for rank, (name, text, rn)
            in enumerate(PAPER_TOP, start=1) if name not in SAME_AS_BASELINE]
    rest = [c for name, c in baselines.items() if name not in FIRST]
    return (*(baselines[name] for name in FIRST), *tops, *rest)


CANDIDATES = _candidates()


def keys(c: Candidate) -> list[str]:
    """What ``--only`` accepts for ``c``: its names, its baseline function name (``relu``,
    ``swish1``, ...) and ``paperN`` for the paper's N-th function (names with commas, such
    as max(x, σ(x)), go by ``paperN``)."""
    found = [c.name.lower(), c.also.lower(), c.expr.removesuffix("(x)") if c.expr.endswith(
        "(x)") and "(" not in c.expr[:-3] else "", f"paper{c.paper_rank}" if c.paper_rank else ""]
    return list(dict.fromkeys(k for k in found if k and "," not in k))


def select(only: str | None) -> list[Candidate]:
    """The candidates named in ``only`` (comma-separated ``keys``, any case), else all."""
    if not only:
        return list(CANDIDATES)
    by_key = {k: c for c in CANDIDATES for k in keys(c)}
    picked = []
    for name in (n.strip().lower() for n in only.split(",") if n.strip()):
        if name not in by_key:
            names = (next((k for k in keys(c) if k.isascii() and not k.startswith("paper")),
                          keys(c)[-1]) for c in CANDIDATES)
            raise ValueError(f"--only: unknown function {name!r}; choose from {', '.join(names)}"
                             " (paper1..paper8: the paper's functions in its order)")
        if by_key[name] not in picked:
            picked.append(by_key[name])
    return picked


# -- the results file -------------------------------------------------------------------

class ResultsError(ValueError):
    """The results file cannot be read or belongs to another task (one line)."""


def read_results(path: Path) -> list[dict[str, Any]]:
    """The rows of ``path`` (none if it does not exist); a torn last line is left out."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            if number == len(lines):  # no newline after it: written when the run was killed
                continue
            raise ResultsError(f"{path}:{number}: not a JSON row; remove the line or use "
                               "another --results") from None
        if not isinstance(row, dict) or not {"function", "seed", "status", "task"} <= set(row):
            raise ResultsError(f"{path}:{number}: not a paper_fidelity row (needs function, "
                               "seed, status, task); use another --results")
        rows.append(row)
    return rows


def drop_torn_row(path: Path) -> None:
    """Cut a torn last line (no newline: the process was killed while writing it) off
    ``path``, so that the next row starts on a line of its own."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def check_task(rows: list[dict[str, Any]], task: dict[str, Any], path: Path) -> None:
    """``ResultsError`` unless every row was trained with exactly ``task``."""
    for row in rows:
        if row["task"] != task:
            changed = sorted(k for k in set(row["task"]) | set(task)
                             if row["task"].get(k) != task.get(k))
            detail = ", ".join(f"{k} {row['task'].get(k)!r} -> {task.get(k)!r}"
                               for k in changed[:4])
            raise ResultsError(f"{path}: holds results of another task ({detail}); run with "
                               "the settings that made them or pass another --results")


def append_row(path: Path, row: dict[str, Any]) -> None:
    """One row at the end of ``path``, on disk before this returns."""
    line = json.dumps(_finite(row), allow_nan=False)
    with open(path, "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def _finite(value: Any) -> Any:
    """NaN and inf become None (JSON has neither), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


# -- the table -------------------------------------------------------------------------

def children_per_hour(rows: list[dict[str, Any]]) -> tuple[float, int, float] | None:
    """(children per hour, children, seconds) over each invocation's span, first start to
    last finish, summed over invocations; None without rows."""
    spans: dict[Any, list[float]] = {}
    for row in rows:
        span = spans.setdefault(row.get("run"), [math.inf, -math.inf])
        span[0], span[1] = min(span[0], row["started"]), max(span[1], row["finished"])
    seconds = sum(end - start for start, end in spans.values())
    if not rows or seconds <= 0:
        return None
    return 3600 * len(rows) / seconds, len(rows), seconds


def accuracy(row: dict[str, Any]) -> float | None:
    """The row's validation accuracy when it is a number of an ``ok`` child, else None."""
    value = row.get("val_accuracy")
    ok = row["status"] == "ok" and isinstance(value, (int, float)) and math.isfinite(value)
    return float(value) if ok else None


def accuracy_text(row: dict[str, Any]) -> str:
    """``91.25`` for an ok child, its status otherwise (diverged is never a number)."""
    value = accuracy(row)
    if value is not None:
        return f"{100 * value:.2f}"
    return row["status"] if row["status"] != "ok" else "ok, no accuracy"


def _status(rows: list[dict[str, Any]], seeds: list[int]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        label = row["status"] + (f" (step {row['step']})" if row["status"] == "diverged"
                                 and row.get("step") else "")
        counts[label] = counts.get(label, 0) + 1
    missing = len(seeds) - len(rows)
    if missing:
        counts["not run"] = missing
    if list(counts) == ["ok"]:
        return "ok"
    return ", ".join(f"{label} ×{n}" if n > 1 else label for label, n in counts.items())


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _paper_cell(c: Candidate) -> str:
    rank = f"#{c.paper_rank}" if c.paper_rank else ("baseline" if c.name in BASELINES else "")
    return f"{rank}, {c.paper_rn:.1f}" if c.paper_rn is not None else rank


def table(rows: list[dict[str, Any]], candidates: list[Candidate], seeds: list[int],
          header: str) -> str:
    """The markdown table: accuracy per seed and mean (ok seeds only), rank by mean, status,
    the paper's position, wall per child, step time, peak memory; then the summary lines."""
    by_key = {(r["function"], r["seed"]): r for r in rows}
    lines_of = []
    for c in candidates:
        mine = [by_key[(c.name, s)] for s in seeds if (c.name, s) in by_key]
        accs = [a for a in map(accuracy, mine) if a is not None]
        lines_of.append((c, mine, statistics.fmean(accs) if accs else None))
    ranked = sorted((x for x in lines_of if x[2] is not None), key=lambda x: -x[2])
    rank_of = {x[0].name: i for i, x in enumerate(ranked, start=1)}
    seed_heads = " | ".join(f"seed {s} %" for s in seeds)
    out = [header, "",
           f"| rank | function | expression | paper (Fig. 3; RN-164 %) | {seed_heads} | mean % "
           "| status | wall s | ms/step | peak MiB | compiled |",
           "|---:|---|---|---|" + "---:|" * (len(seeds) + 1) + "---|---:|---:|---:|---|"]
    order = sorted(lines_of, key=lambda x: rank_of.get(x[0].name, len(lines_of) + 1))
    out += [_table_line(c, mine, mean, seeds, rank_of.get(c.name, "–"))
            for c, mine, mean in order]
    return "\n".join([*out, "", *summary(rows, lines_of)])


def _table_line(c: Candidate, mine: list[dict[str, Any]], mean: float | None,
                seeds: list[int], rank: int | str) -> str:
    """One candidate's row of the table."""
    by_seed = {r["seed"]: r for r in mine}
    cells = [accuracy_text(by_seed[s]) if s in by_seed else "not run" for s in seeds]
    compiled = sorted({f"yes ({r['compile_s']:.0f} s)" if r.get("compiled") else "no"
                       for r in mine})
    peak = max((r["peak_mib"] for r in mine if r.get("peak_mib")), default=None)
    name = c.name + (f" = {c.also}" if c.also else "")
    return " | ".join([
        f"| {rank}", name, f"`{c.expr}`", _paper_cell(c), *cells,
        _fmt(None if mean is None else 100 * mean, ".2f"), _status(mine, seeds),
        _fmt(_median([r["wall_s"] for r in mine]), ".0f"),
        _fmt(_median([r.get("step_ms") for r in mine]), ".1f"), _fmt(peak, ".0f"),
        ", ".join(compiled) or "–"]) + " |"


def summary(rows: list[dict[str, Any]], lines_of: list) -> list[str]:
    """Children per hour on the device, and the order beside the paper's."""
    lines = []
    rate = children_per_hour(rows)
    if rate:
        devices = sorted({str(r.get("device_name") or r.get("device")) for r in rows})
        at_once = sorted({r.get("children") for r in rows})
        lines.append(f"- children per hour on {', '.join(devices)}: **{rate[0]:.0f}** "
                     f"({rate[1]} children in {rate[2]:.0f} s, {'/'.join(map(str, at_once))} "
                     "at once)")
    paired = [(mean, c.paper_rn) for c, _, mean in lines_of
              if mean is not None and c.paper_rn is not None]
    if len(paired) >= 3:
        try:
            from scipy.stats import spearmanr
        except ImportError:
            lines.append("- Spearman ρ against the paper: scipy is not installed here; "
                         "run --table-only where it is")
        else:
            rho = spearmanr([m for m, _ in paired], [p for _, p in paired]).statistic
            lines.append(f"- Spearman ρ between the mean here and the paper's ResNet-164 "
                         f"column, over the {len(paired)} functions it lists: {rho:.2f}")
    means = {c.name: mean for c, _, mean in lines_of}
    if means.get("ReLU") is not None and means.get("Swish") is not None:
        lines.append(f"- ReLU {100 * means['ReLU']:.2f} %, Swish {100 * means['Swish']:.2f} % "
                     f"(Swish − ReLU {100 * (means['Swish'] - means['ReLU']):+.2f} points)")
    return lines
