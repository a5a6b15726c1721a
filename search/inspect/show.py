"""``actsearch show``: everything recorded about one function, found by id or by any
spelling; ``export --rank`` finds its function here too."""

from __future__ import annotations

import math
import re
import shlex
import statistics
from typing import Any

from search.inspect.formats import BETA_KEYS, ReportError, beta_fmt, fmt, tied_with
from search.inspect.top import PREDICTED
from search.rows import Candidate, Evaluation
from search.store import CONFIG_NAME, Store
from space import SearchSpace, parse

SPARK = "▁▂▃▄▅▆▇█"

MAX_ID = 2**63 - 1  # SQLite's largest rowid: an id with more digits is no candidate's


def find_candidate(store: Store, ref: str) -> Candidate:
    """A candidate by id (ASCII digits only: "²" or "٣" are not ids) or by expression (any
    spelling of the same function)."""
    digits = ref.strip()
    if re.fullmatch(r"[0-9]+", digits):
        too_long = len(digits.lstrip("0")) > len(str(MAX_ID))
        candidate = None if too_long or int(digits) > MAX_ID else store.candidate(int(digits))
        ref = ref if len(ref) <= 30 else f"{digits[:20]}... ({len(digits)} digits)"
        if candidate is None:
            raise ReportError(f"no candidate with id {ref} in {store.run_dir}; "
                              f"see `actsearch top {store.run_dir}`")
        return candidate
    expr = parse(ref)  # ParseError: one line with the column
    candidate = store.find(expr.canonical, expr.fingerprint)
    if candidate is None:
        raise ReportError(f"{ref!r} was not evaluated in {store.run_dir}; "
                          + eval_suggestion(store, ref))
    return candidate


def eval_suggestion(store: Store, expr_text: str) -> str:
    """The command that trains one function once as this run's children were trained."""
    config = store.run_dir / CONFIG_NAME
    command = f"actsearch eval {shlex.quote(expr_text)} --config"
    if config.exists():
        return f"train it once with the run's config: `{command} {shlex.quote(str(config))}`"
    return (f"train it once with `{command} CONFIG`, CONFIG being the file this run was "
            f"started from ({store.run_dir} has no {CONFIG_NAME}: an older actsearch made it)")


def by_rank(store: Store, rank: int) -> Candidate:
    if rank < 1:
        raise ReportError(f"--rank must be >= 1, got {rank}")
    rows = store.top(rank)
    if len(rows) < rank:
        raise ReportError(f"--rank {rank}: the run has only {len(rows)} ranked functions")
    return rows[rank - 1]


def rank_of(store: Store, candidate: Candidate) -> str:
    """``3 of 82`` in ``top``'s order (with its ties), or why it has no rank."""
    if candidate.status == "pending" or candidate.reward is None:
        return "- (not finished)"
    ranked = store.top(store.count_finished())
    position = next(i for i, c in enumerate(ranked, start=1) if c.id == candidate.id)
    tied = tied_with(ranked)[candidate.id]
    return f"{position} of {len(ranked)}" + (
        f" (tied with id {', '.join(map(str, tied))}: the same reward)" if tied else "")


def run_space(store: Store) -> SearchSpace | None:
    """The run's search space, rebuilt from its config (None if the store lacks one)."""
    config = store.config()  # shapes checked (search.rows)
    if config is None:
        return None
    space = config.get("space", {})
    if space.get("functions"):
        from space import FunctionPool

        return FunctionPool(space["functions"])
    return SearchSpace(space.get("units", 1), space.get("unary"), space.get("binary"))


def describe_tokens(space: SearchSpace | None, tokens: tuple[int, ...]) -> str:
    """``unit 0: input1=x input2=x unary1=sin unary2=beta_mul binary=max`` (raw tokens too)."""
    if not tokens:
        return "- (not proposed by a strategy)"
    if space is None or len(tokens) != len(space.slots) or any(
            not 0 <= t < len(slot.choices) for t, slot in zip(tokens, space.slots)):
        return str(list(tokens))
    units: dict[int, list[str]] = {}
    for token, slot in zip(tokens, space.slots):
        units.setdefault(slot.unit, []).append(f"{slot.role}={slot.choices[token]}")
    named = "; ".join(f"unit {u}: {' '.join(parts)}" for u, parts in units.items())
    return f"{named}   {list(tokens)}"


def sparkline(values: list[float], width: int = 24) -> str:
    """Block characters for a curve (at most ``width``, evenly picked); × for non-finite."""
    if len(values) > width:
        values = [values[round(i * (len(values) - 1) / (width - 1))] for i in range(width)]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "×" * len(values)
    low, high = min(finite), max(finite)
    scale = (len(SPARK) - 1) / (high - low) if high > low else 0.0
    return "".join(SPARK[round((v - low) * scale)] if math.isfinite(v) else "×"
                   for v in values)


def curve_lines(curves: dict[str, list[Any]]) -> list[str]:
    """One line per recorded curve: first and last value, a sparkline, the steps; a curve
    of one point is that value, not drawn (one block is no curve)."""
    lines = []
    for name, values in curves.items():
        if name == "step" or name.endswith("_step") or not values:
            continue
        own = "val_step" if name.startswith("val_") and "val_step" in curves else "step"
        steps = curves.get(own) or []
        values = [float(v) for v in values]
        span = ""
        if len(steps) == len(values):
            span = (f"step {steps[0]:g}, " if len(steps) == 1
                    else f"steps {steps[0]:g}-{steps[-1]:g}, ")
        if len(values) == 1:
            lines.append(f"  {name + ':':14s}{fmt(values[0])}  ({span}1 point)")
            continue
        points = f"{len(values)} points"
        lines.append(f"  {name + ':':14s}{fmt(values[0])} -> {fmt(values[-1])}  "
                     f"{sparkline(values)}  ({span}{points})")
    return lines


def parameter_lines(info: dict[str, Any]) -> list[str]:
    """Learned per-channel parameters (beta, alpha) as mean/min/max per activation site."""
    lines = []
    for name in (*BETA_KEYS, "alpha"):
        sites = info.get(name)
        if not isinstance(sites, list):
            continue
        for site, values in enumerate(sites, start=1):
            values = [float(v) for v in (values if isinstance(values, list) else [values])]
            if values:
                lines.append(f"  {name} site {site}: mean {beta_fmt(statistics.fmean(values))}, "
                             f"min {beta_fmt(min(values))}, max {beta_fmt(max(values))} "
                             f"({len(values)} channels)")
    return lines


def show_text(store: Store, candidate: Candidate) -> str:
    """Everything recorded about one candidate: rank, tokens by slot, each evaluation with
    its curves, learned parameters and error text."""
    expr = parse(candidate.text)
    lines = [f"id:          {candidate.id}",
             f"rank:        {rank_of(store, candidate)}",
             f"function:    {candidate.text}",
             f"canonical:   {candidate.canonical}",
             f"latex:       {expr.latex()}",
             f"fingerprint: {candidate.fingerprint}",
             f"tokens:      {describe_tokens(run_space(store), candidate.tokens)}",
             f"status:      {candidate.status}",
             f"reward:      {fmt(candidate.reward)}",
             f"seconds:     {fmt(candidate.seconds, 1)}",
             f"proposed:    {candidate.proposals} time(s)"]
    if candidate.note:
        lines.append(f"note:        {candidate.note}")
    prediction = store.prediction(candidate.fingerprint, candidate.canonical)
    if prediction is not None:
        lines.append(f"predicted:   {_prediction(prediction)}, before training")
    alive = store.writer_alive()  # as top counts: `running` with no search left is abandoned
    for e in store.evaluations(candidate.id):
        lines.append(_evaluation_line(e, alive))
        lines += curve_lines(e.curves)
        lines += parameter_lines(e.info)
        if e.error:
            lines.append(f"  error: {e.error}")
        for reason in e.retries:
            lines.append(f"  retried: {reason}")
    return "\n".join(lines)


def _evaluation_line(e: Evaluation, alive: bool = True) -> str:
    status = e.status if alive or e.status != "running" else \
        "abandoned (its search stopped; `actsearch run --resume` trains it)"
    return (f"evaluation {e.id}: rung {e.rung}, seed {e.seed}, {e.fidelity}, "
            f"status {status}, reward {fmt(e.reward)}, val accuracy {fmt(e.val_accuracy)}, "
            f"{fmt(e.seconds, 1)} s on {e.worker or '-'}, attempts {e.attempts}")


def predicted_text(store: Store, ref: str) -> str | None:
    """``show`` of a function the surrogate predicted but no one trained, or None."""
    expr = parse(ref)
    if store.find(expr.canonical, expr.fingerprint) is not None:
        return None
    prediction = store.prediction(expr.fingerprint, expr.canonical)
    if prediction is None:
        return None
    return "\n".join([f"function:    {prediction.text}",
                      f"status:      {PREDICTED} (the surrogate filter passed it over)",
                      f"predicted:   {_prediction(prediction)}",
                      f"next:        {eval_suggestion(store, prediction.text)}"])


def _prediction(prediction) -> str:
    spread = "" if prediction.std is None else f" ± {fmt(prediction.std)}"
    return f"{fmt(prediction.mean)}{spread} (the reward surrogate's mean ± standard deviation)"
