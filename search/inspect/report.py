"""Read a finished (or running) search: the top table, one candidate, its exported module.

Everything here opens the store read-only; it is safe while a search writes.
Counts say what they count: **functions** (distinct candidates, one status each:
the worst over their seeds) or **child trainings** (evaluations, one per seed and
rung; pre-screened functions take none), never a mix.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import statistics
from pathlib import Path
from typing import Any

from search.errors import UserError
from search.rows import Candidate, Evaluation
from search.store import CONFIG_NAME, UNFINISHED, Store
from space import SearchSpace, parse

JSON_VERSION = 1  # the shape of `actsearch top --json`; raised when a key changes meaning
SHOWN_ORDER = ("ok", "diverged", "invalid", "error", "timeout", "missing")
SPARK = "▁▂▃▄▅▆▇█"

# Keys under which an evaluator may report learned beta values in Result.info.
BETA_KEYS = ("beta", "learned_beta", "betas")


class ReportError(UserError, ValueError):
    """A report that cannot be made as asked (one line)."""


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if math.isfinite(value) else repr(value)


def diverged_at(store: Store, candidate: Candidate) -> int | None:
    """The earliest step at which one of the candidate's trainings diverged, if any."""
    steps = [e.step for e in store.evaluations(candidate.id)
             if e.status == "diverged" and e.step is not None]
    return min(steps) if steps else None


def _tie_key(candidate: Candidate) -> tuple | None:
    """Candidates with equal keys are tied: ok, same rung, the same reward exactly."""
    if candidate.status != "ok" or candidate.reward is None or not math.isfinite(
            candidate.reward):
        return None
    return candidate.rung, candidate.reward


def top_rows(store: Store, k: int) -> list[dict[str, Any]]:
    """The ``k`` best candidates as plain rows (rank, id, function, reward, status, ...);
    ``tied_with``: the ids of the other rows with exactly the same reward (ok, same rung)."""
    top = store.top(k)
    rows = []
    for rank, c in enumerate(top, start=1):
        key = _tie_key(c)
        tied = [o.id for o in top if o.id != c.id and key is not None and _tie_key(o) == key]
        rows.append({"rank": rank, "id": c.id, "function": c.text, "canonical": c.canonical,
                     "reward": c.reward, "status": c.status, "rung": c.rung,
                     "seconds": c.seconds, "proposals": c.proposals, "tied_with": tied,
                     "diverged_at": diverged_at(store, c) if c.status == "diverged" else None})
    return rows


def status_counts(counts: dict[str, int]) -> str:
    """``74 ok, 8 diverged, 10 invalid``: nonzero counts in a fixed order."""
    known = [s for s in SHOWN_ORDER if counts.get(s)]
    other = sorted(s for s in counts if s not in SHOWN_ORDER and counts[s])
    return ", ".join(f"{counts[s]} {s}" for s in known + other)


def summary(store: Store) -> dict[str, Any]:
    """What the run holds, counted two ways that are never mixed: functions (candidates)
    and child trainings (evaluations that trained; pre-screened ones excluded)."""
    functions = store.function_counts()
    pending = functions.pop("pending", 0)
    trainings = store.training_counts()
    out = {s: trainings.pop(s, 0) for s in UNFINISHED}
    alive = store.writer_alive()
    if not alive:  # a driver killed with SIGKILL could not mark what it left running
        out["abandoned"] += out.pop("running")
        out["running"] = 0
    return {"functions": {"finished": sum(functions.values()), "pending": pending,
                          "by_status": dict(sorted(functions.items()))},
            "trainings": {"finished": sum(trainings.values()), **out,
                          "by_status": dict(sorted(trainings.items()))},
            "duplicates": store.count_duplicates(), "seeds": len(run_seeds(store)),
            "search_running": alive}


def run_seeds(store: Store) -> list[int]:
    """The seeds each function is trained with, from the run's config ([0] if unknown)."""
    row = store.first_run()
    seeds = json.loads(row["config_json"]).get("seeds") if row is not None else None
    return list(seeds) if isinstance(seeds, list) and seeds else [0]


def seed_noise(store: Store) -> tuple[float, int] | None:
    """(pooled standard deviation of one training's reward between seeds, functions it
    pools) over ok functions with two or more ok trainings at one rung; None if none."""
    groups: dict[tuple[int, int], list[float]] = {}
    for e in store.evaluations(status="ok"):
        if e.reward is not None and math.isfinite(e.reward):
            groups.setdefault((e.candidate_id, e.rung), []).append(e.reward)
    groups = {key: values for key, values in groups.items() if len(values) >= 2}
    if not groups:
        return None
    dof = sum(len(v) - 1 for v in groups.values())
    pooled = sum((len(v) - 1) * statistics.variance(v) for v in groups.values()) / dof
    return math.sqrt(pooled), len({candidate for candidate, _ in groups})


def summary_lines(store: Store, counts: dict[str, Any] | None = None) -> list[str]:
    """Three lines above the top table, each counting one thing and saying which."""
    counts = counts or summary(store)
    functions, trainings = counts["functions"], counts["trainings"]
    by_status = status_counts(functions["by_status"])
    first = f"functions:       {functions['finished']} finished" + (
        f" ({by_status})" if by_status else "")
    if functions["pending"]:
        first += f", {functions['pending']} " + ("in training" if counts["search_running"]
                                                  else "unfinished")
    second = f"child trainings: {trainings['finished']} finished"
    if trainings["running"]:
        second += f", {trainings['running']} running"
    if trainings["abandoned"]:
        second += (f", {trainings['abandoned']} abandoned when the search stopped "
                   f"(`actsearch run --resume {store.run_dir}` trains them)")
    third = (f"duplicates:      {counts['duplicates']} proposals answered from the store "
             "without training")
    return [first, second, third]


def noise_line(store: Store, seeds: int) -> str:
    """Whether differences between rewards mean anything: with one seed they may not."""
    if seeds <= 1:
        return ("One seed per function: rewards closer than the seed-to-seed noise (which "
                "this run cannot measure) are not a ranking; `actsearch rerank "
                f"{store.run_dir} --seeds 3` retrains the top with fresh seeds.")
    noise = seed_noise(store)
    if noise is None:
        return f"{seeds} seeds per function; no function has two ok trainings yet."
    sigma, pooled = noise
    threshold = 2 * sigma * math.sqrt(2 / seeds)
    return (f"{seeds} seeds per function; seed noise σ = {sigma:.4f} per training (pooled "
            f"over {pooled} functions): mean rewards closer than 2·σ·√(2/{seeds}) = "
            f"{threshold:.4f} are not a ranking.")


def top_table(store: Store, k: int) -> str:
    """A markdown table of the ``k`` best candidates, with what the run holds above it and
    whether its differences mean anything below it."""
    rows = top_rows(store, k)
    counts = summary(store)
    rungs = store.rung_members(1) != []  # successive halving: show how far each function got
    lines = [*summary_lines(store, counts), "",
             "| rank | id | function | reward | status | " + ("rung | " if rungs else "")
             + "seconds | proposed |",
             "|---:|---:|---|---:|---|" + ("---:|" if rungs else "") + "---:|---:|"]
    for row in rows:
        rung = f"{row['rung']} | " if rungs else ""
        status = row["status"]
        if row["diverged_at"] is not None:
            status += f" (step {row['diverged_at']})"
        rank = f"{row['rank']}=" if row["tied_with"] else str(row["rank"])
        lines.append(f"| {rank} | {row['id']} | `{row['function']}` | "
                     f"{_fmt(row['reward'])} | {status} | {rung}"
                     f"{_fmt(row['seconds'], 1)} | {row['proposals']} |")
    lines.append("")
    if any(row["tied_with"] for row in rows):
        lines.append("A rank with = has exactly the same reward as another row: a tie (the "
                     "earlier function is listed first).")
    lines.append(noise_line(store, counts["seeds"]))
    lines += predicted_lines(store)
    return "\n".join(lines)


PREDICTED = "predicted, not trained"


def predicted_lines(store: Store, shown: int = 3) -> list[str]:
    """Below the table: the functions the surrogate filter passed over (never dropped)."""
    count, best = store.predicted_untrained(shown)
    if not count:
        return []
    listed = ", ".join(f"`{p.text}` {_fmt(p.mean, 3)}" + (f" ± {_fmt(p.std, 3)}" if p.std
                                                          is not None else "") for p in best)
    return [f"{PREDICTED}: {count} functions the surrogate filter passed over, by predicted "
            f"reward {listed}{', ...' if count > shown else ''} "
            f"(`actsearch show {store.run_dir} EXPR` shows one)."]


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
    spread = "" if prediction.std is None else f" ± {_fmt(prediction.std)}"
    return f"{_fmt(prediction.mean)}{spread} (the reward surrogate's mean ± standard deviation)"


def top_json(store: Store, k: int) -> str:
    """``{"version", "run_dir", "summary", "rows"}`` as JSON (non-finite floats as the
    strings "nan"/"inf"); ``version`` is ``JSON_VERSION``."""
    def safe(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        return value
    rows = [{key: safe(value) for key, value in row.items()} for row in top_rows(store, k)]
    noise = seed_noise(store)
    counts = summary(store)
    counts["seed_noise"] = None if noise is None else {"std": noise[0], "functions": noise[1]}
    counts["predicted_not_trained"] = store.predicted_untrained(0)[0]
    return json.dumps({"version": JSON_VERSION, "run_dir": str(store.run_dir),
                       "summary": counts, "rows": rows}, indent=2, allow_nan=False)


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
    key = _tie_key(candidate)
    tied = [c.id for c in ranked if c.id != candidate.id and key is not None
            and _tie_key(c) == key]
    return f"{position} of {len(ranked)}" + (
        f" (tied with id {', '.join(map(str, tied))}: the same reward)" if tied else "")


def run_space(store: Store) -> SearchSpace | None:
    """The run's search space, rebuilt from its config (None if the store lacks one)."""
    row = store.first_run()
    if row is None:
        return None
    space = json.loads(row["config_json"]).get("space", {})
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
    """One line per recorded curve: first and last value, a sparkline, the steps."""
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
        points = f"{len(values)} point" + ("" if len(values) == 1 else "s")
        lines.append(f"  {name + ':':14s}{_fmt(values[0])} -> {_fmt(values[-1])}  "
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
                lines.append(f"  {name} site {site}: mean {statistics.fmean(values):.4f}, "
                             f"min {min(values):.4f}, max {max(values):.4f} "
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
             f"reward:      {_fmt(candidate.reward)}",
             f"seconds:     {_fmt(candidate.seconds, 1)}",
             f"proposed:    {candidate.proposals} time(s)"]
    if candidate.note:
        lines.append(f"note:        {candidate.note}")
    prediction = store.prediction(candidate.fingerprint, candidate.canonical)
    if prediction is not None:
        lines.append(f"predicted:   {_prediction(prediction)}, before training")
    for e in store.evaluations(candidate.id):
        lines.append(_evaluation_line(e))
        lines += curve_lines(e.curves)
        lines += parameter_lines(e.info)
        if e.error:
            lines.append(f"  error: {e.error}")
        for reason in e.retries:
            lines.append(f"  retried: {reason}")
    return "\n".join(lines)


def _evaluation_line(e: Evaluation) -> str:
    return (f"evaluation {e.id}: rung {e.rung}, seed {e.seed}, {e.fidelity}, "
            f"status {e.status}, reward {_fmt(e.reward)}, val accuracy {_fmt(e.val_accuracy)}, "
            f"{_fmt(e.seconds, 1)} s on {e.worker or '-'}, attempts {e.attempts}")


def learned_beta(store: Store, candidate: Candidate) -> Any:
    """Learned beta values the evaluator reported for this candidate, or None."""
    for evaluation in store.evaluations(candidate.id):
        for key in BETA_KEYS:
            if key in evaluation.info:
                return evaluation.info[key]
    return None


def export_file(store: Store, candidate: Candidate, path: str | Path,
                beta_init: float = 1.0) -> str:
    """Write the standalone module file; returns a one-line note about beta values."""
    from space import export_source  # torch: only this command needs it

    expr = parse(candidate.text)
    source = export_source(expr, init=beta_init)
    beta = learned_beta(store, candidate) if expr.uses_beta else None
    if beta is not None:
        source += ("\n# Learned beta values reported by the evaluator for this run's child "
                   "(per activation site, per channel):\n"
                   f"LEARNED_BETA = {json.dumps(beta)}\n")
        note = "learned beta values appended as LEARNED_BETA"
    elif expr.uses_beta:
        note = (f"the run kept no learned beta values (the evaluator does not report them); "
                f"beta starts at {beta_init:g}")
    else:
        note = "the function has no beta"
    Path(path).write_text(source)
    return note
