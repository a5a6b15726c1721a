"""``actsearch top``: the ranked table (or JSON) with what the run holds above it and
whether its differences mean anything below it."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

from search.inspect.formats import TIE_NOTE, fmt, rank_label, status_counts, tied_with
from search.rows import Candidate
from search.store import UNFINISHED, Store

JSON_VERSION = 1  # the shape of `actsearch top --json`; raised when a key changes meaning


def diverged_at(store: Store, candidate: Candidate) -> int | None:
    """The earliest step at which one of the candidate's trainings diverged, if any."""
    steps = [e.step for e in store.evaluations(candidate.id)
             if e.status == "diverged" and e.step is not None]
    return min(steps) if steps else None


def top_rows(store: Store, k: int) -> list[dict[str, Any]]:
    """The ``k`` best candidates as plain rows (rank, id, function, reward, status, ...);
    ``tied_with``: the ids of the other rows with exactly the same reward (ok, same rung)."""
    top = store.top(k)
    ties = tied_with(top)
    rows = []
    for rank, c in enumerate(top, start=1):
        tied = ties[c.id]
        rows.append({"rank": rank, "id": c.id, "function": c.text, "canonical": c.canonical,
                     "reward": c.reward, "status": c.status, "rung": c.rung,
                     "seconds": c.seconds, "proposals": c.proposals, "tied_with": tied,
                     "diverged_at": diverged_at(store, c) if c.status == "diverged" else None})
    return rows


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


def placement(store: Store) -> dict[str, Any] | None:
    """Where the children trained, read from the worker column (``host:pid node ID
    DEVICE`` on Ray): trainings per node and device, and the retries (those a lost
    node cost: its children, or their results, went with it). None if the workers
    name no node and nothing was retried (an inline run)."""
    nodes: dict[str, dict[str, int]] = {}
    retries = node_retries = 0
    for e in store.evaluations():
        words = (e.worker or "").split(" ")
        if len(words) >= 4 and words[1] == "node" and e.status not in UNFINISHED:
            devices = nodes.setdefault(words[2], {})
            device = " ".join(words[3:])
            devices[device] = devices.get(device, 0) + 1
        retries += len(e.retries)
        node_retries += sum("node" in reason for reason in e.retries)
    if not nodes and not retries:
        return None
    return {"nodes": nodes, "retries": retries, "lost_node_retries": node_retries}


def placement_line(store: Store) -> str | None:
    """``placement: node 1a2b3c4d 40 on GPU 0, ...; retries 3 (3 after a lost node)``."""
    where = placement(store)
    if where is None:
        return None
    nodes = ", ".join(f"node {node} " + ", ".join(f"{n} on {device}" for device, n in
                                                   sorted(devices.items()))
                      for node, devices in sorted(where["nodes"].items()))
    return (f"placement:       {nodes or 'no node named'}; retries {where['retries']} "
            f"({where['lost_node_retries']} after a lost node)")


def run_seeds(store: Store) -> list[int]:
    """The seeds each function is trained with, from the run's config ([0] if unknown)."""
    seeds = (store.config() or {}).get("seeds")  # shapes checked (search.rows)
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
    where = placement_line(store)
    lines = [*summary_lines(store, counts), *([where] if where else []), "",
             "| rank | id | function | reward | status | " + ("rung | " if rungs else "")
             + "seconds | proposed |",
             "|---:|---:|---|---:|---|" + ("---:|" if rungs else "") + "---:|---:|"]
    for row in rows:
        rung = f"{row['rung']} | " if rungs else ""
        status = row["status"]
        if row["diverged_at"] is not None:
            status += f" (step {row['diverged_at']})"
        rank = rank_label(row["rank"], bool(row["tied_with"]))
        lines.append(f"| {rank} | {row['id']} | `{row['function']}` | "
                     f"{fmt(row['reward'])} | {status} | {rung}"
                     f"{fmt(row['seconds'], 1)} | {row['proposals']} |")
    lines.append("")
    if any(row["tied_with"] for row in rows):
        lines.append(TIE_NOTE)
    lines.append(noise_line(store, counts["seeds"]))
    lines += predicted_lines(store)
    return "\n".join(lines)

PREDICTED = "predicted, not trained"


def predicted_lines(store: Store, shown: int = 3) -> list[str]:
    """Below the table: the functions the surrogate filter passed over (never dropped)."""
    count, best = store.predicted_untrained(shown)
    if not count:
        return []
    listed = ", ".join(f"`{p.text}` {fmt(p.mean, 3)}" + (f" ± {fmt(p.std, 3)}" if p.std
                                                          is not None else "") for p in best)
    return [f"{PREDICTED}: {count} functions the surrogate filter passed over, by predicted "
            f"reward {listed}{', ...' if count > shown else ''} "
            f"(`actsearch show {store.run_dir} EXPR` shows one)."]


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
    counts["placement"] = placement(store)
    return json.dumps({"version": JSON_VERSION, "run_dir": str(store.run_dir),
                       "summary": counts, "rows": rows}, indent=2, allow_nan=False)
