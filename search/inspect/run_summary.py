"""What a report says about a run, read from its store as plain data (no HTML, no plots).

Everything here reads a ``Store`` opened read-only, so it is safe while the
search writes (the store is WAL: a reader sees the last committed state and
never blocks the writer). The page (``search.inspect.html_report``) and its figures
(``search.inspect.report_figures``) are drawn from these records.

Decisions, for the page to state:

* The search's progress is told over the functions scored (distinct functions,
  pre-screened ones included, in the order their results arrived) at the first
  rung's fidelity: with successive halving a candidate's later rungs are other
  fidelities, and the strategy too hears only the first.
* Duplicates are the proposals answered from the store: each candidate's
  ``proposals - 1``, summed.
* Children per hour: finished child trainings divided by the hours during
  which at least one was running (the union of their start-to-finish spans),
  so the pauses between a stopped search and its resume do not count.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search.inspect.formats import BETA_KEYS
from search.inspect.run_progress import Progress, RandomBaseline, progress, random_baseline
from search.inspect.top import noise_line, run_seeds
from search.rows import Candidate, Evaluation
from search.store import DB_NAME, Store
from search.studies.stats import Summary, summarize

STATUS_MEANING = {
    "ok": "trained, reward recorded",
    "diverged": "trained until the loss or parameters turned NaN/inf",
    "timeout": "stopped by the time limit",
    "error": "the child raised an exception",
    "missing": "the reward table has no row for the function",
    "invalid": "rejected by the pre-screen, not trained",
    "running": "submitted, no result yet",
}
PRESCREEN = "prescreen"  # the worker name of evaluations scored without training
# Where rerank and compare keep their stores in a run directory, as search.studies.compare
# names them; that module is imported only when one exists (it imports Ray, via its study).
RERANK_DIR, COMPARE_DIR = "rerank", "compare"


def has_study(run_dir: Path, folder: str) -> bool:
    return (run_dir / folder / DB_NAME).exists()


# -- the run at a glance --------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """The facts of the page's first section."""

    run_dir: str
    name: str
    config: dict[str, Any]  # the resolved config of the first invocation (JSON form)
    config_yaml: str
    code_versions: list[str]  # one per invocation, in order (a resume may run newer code)
    invocations: int
    started: float | None  # the first invocation's start (epoch seconds)
    last_activity: float | None  # the latest start or finish of an evaluation
    statuses: dict[str, int]  # evaluations by status, running included
    duplicates: int
    functions: int  # distinct candidates met
    finished: int  # candidates with a final status
    proposals: int  # the strategy's proposals answered, duplicates included
    space_size: int | None  # token sequences in the space
    space_functions: int | None  # its distinct functions (by the run's dedup), small spaces
    fidelities: list[tuple[str, int]]  # (fidelity key, child trainings) in first-seen order
    trained: int  # finished child trainings (pre-screened ones excluded)
    trained_first_rung: int  # of those, at the first rung (what budget.max_evaluations counts)
    child_seconds: float  # their summed training time
    busy_seconds: float  # time during which at least one child was running

    @property
    def wall_seconds(self) -> float | None:
        if self.started is None or self.last_activity is None:
            return None
        return max(0.0, self.last_activity - self.started)

    @property
    def children_per_hour(self) -> float | None:
        return self.trained / (self.busy_seconds / 3600) if self.busy_seconds > 0 else None


def overview(store: Store, candidates: Sequence[Candidate],
             evaluations: Sequence[Evaluation]) -> Overview:
    runs = store.runs()  # columns and config shapes checked (search.rows)
    config = store.config() or {}
    trained = [e for e in evaluations if e.status != "running" and e.worker != PRESCREEN]
    times = [t for e in evaluations for t in (e.started, e.finished) if t is not None]
    trainings = Counter(e.fidelity for e in trained)  # pre-screened functions are not trained
    fidelities = {e.fidelity: trainings[e.fidelity] for e in evaluations}
    return Overview(
        run_dir=str(store.run_dir), name=str(config.get("name", store.run_dir.name)),
        config=config, config_yaml=runs[0]["config_yaml"] if runs else "",
        code_versions=[r["code_version"] or "unknown" for r in runs], invocations=len(runs),
        started=runs[0]["started"] if runs else None,
        last_activity=max(times) if times else None,
        statuses=store.counts(), duplicates=sum(c.proposals - 1 for c in candidates),
        functions=len(candidates), finished=sum(c.status != "pending" for c in candidates),
        proposals=sum(c.proposals for c in candidates if c.tokens),
        space_size=_space_size(config.get("space")),
        space_functions=_space_functions(config.get("space"), config.get("dedup")),
        fidelities=list(fidelities.items()),
        trained=len(trained), trained_first_rung=sum(e.rung == 0 for e in trained),
        child_seconds=sum(e.seconds or 0.0 for e in trained),
        busy_seconds=union_length((e.started, e.finished) for e in trained
                                  if e.finished is not None))


def _space_size(space: dict[str, Any] | None) -> int | None:
    if not space:
        return None
    from space import SearchSpace, SpaceError

    try:
        return SearchSpace(space.get("units", 1), space.get("unary"), space.get("binary")).size
    except (SpaceError, ValueError, TypeError):
        return None  # written by another version of the operator table: not ours to judge


COUNTED_UP_TO = 20_000  # token sequences walked to count a space's distinct functions


def _space_functions(space: dict[str, Any] | None, dedup: str | None) -> int | None:
    """Distinct functions of a small space, as the run told them apart (``dedup``)."""
    if _space_size(space) is None or _space_size(space) > COUNTED_UP_TO:
        return None
    from space import SearchSpace
    from space.enumerate import unique_functions

    assert space is not None
    built = SearchSpace(space.get("units", 1), space.get("unary"), space.get("binary"))
    by = "canonical" if dedup == "canonical" else "fingerprint"
    return sum(1 for _ in unique_functions(built, by=by))


def union_length(spans: Iterable[tuple[float, float]]) -> float:
    """Total length covered by the intervals (overlaps counted once)."""
    total, end = 0.0, -math.inf
    for start, stop in sorted(spans):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


# -- the top-k ------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Count, mean and range of some values (learned beta over sites and channels)."""

    n: int
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        return cls(len(values), statistics.fmean(values), min(values), max(values)) \
            if values else None


@dataclass(frozen=True)
class TopRow:
    rank: int
    candidate: Candidate
    seeds: list[int]  # seeds of its evaluations at the rung it holds
    rewards: list[float]  # their rewards (ok, finite)
    interval: Summary | None  # over those seeds, when there are several
    rerank: Summary | None  # the rerank's fresh seeds, when the run has one
    beta: Spread | None  # learned beta values the evaluator reported (all sites, channels)
    evaluations: list[Evaluation] = field(default_factory=list)  # all of it, every rung


def top_rows(store: Store, k: int, evaluations: Sequence[Evaluation]) -> list[TopRow]:
    """``Store.top(k)`` with what the table shows beside each function."""
    by_candidate: dict[int, list[Evaluation]] = {}
    for e in evaluations:
        by_candidate.setdefault(e.candidate_id, []).append(e)
    reranked = rerank_summaries(store)
    rows = []
    for rank, c in enumerate(store.top(k), start=1):
        own = by_candidate.get(c.id, [])
        held = [e for e in own if e.rung == c.rung and e.status != "running"]
        rewards = [e.reward for e in held if e.status == "ok" and e.reward is not None
                   and math.isfinite(e.reward)]
        betas = [b for e in held for b in _numbers(_beta_info(e))]
        rows.append(TopRow(rank, c, [e.seed for e in held], rewards,
                           summarize(rewards) if len(rewards) > 1 else None,
                           reranked.get(c.canonical),
                           Spread.of(betas), own))
    return rows


def _beta_info(evaluation: Evaluation) -> Any:
    return next((evaluation.info[key] for key in BETA_KEYS if key in evaluation.info), None)


def _numbers(value: Any) -> list[float]:
    """The finite numbers in a nested list (learned beta per site and channel)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)] if math.isfinite(value) else []
    if isinstance(value, (list, tuple)):
        return [n for item in value for n in _numbers(item)]
    return []


def rerank_summaries(store: Store) -> dict[str, Summary]:
    """canonical -> the rerank's summary over fresh seeds (empty without a rerank)."""
    if not has_study(store.run_dir, RERANK_DIR):
        return {}
    from search.studies.compare import load_study
    from search.studies.study import cell

    with Store(store.run_dir / RERANK_DIR) as study:
        arms, seeds, _, _ = load_study(study)
        out = {}
        for arm in arms:
            rewards = cell(study, arm, seeds).rewards
            if rewards:
                out[arm.expr.canonical] = summarize(rewards)
        return out


# -- rewards and failures --------------------------------------------------------------------


@dataclass(frozen=True)
class FailureGroup:
    status: str
    reason: str  # the error's first line, numbers replaced by N
    count: int
    examples: list[tuple[Candidate, str]]  # (candidate, full error text), the first few


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def reason_key(error: str | None) -> str:
    """An error's first line with numbers replaced, so one cause groups together:
    "non-finite loss or parameters at step 2" and "... step 40" are one reason."""
    first = (error or "").strip().splitlines()[0] if (error or "").strip() else "no message"
    first = re.sub(r"\s*\(.*\)\s*$", "", first) or first  # "linear (f(x) = 2*x + 1e-19)"
    return _NUMBER.sub("N", first)[:200]


def failure_groups(candidates: Sequence[Candidate], evaluations: Sequence[Evaluation],
                   examples: int = 3) -> list[FailureGroup]:
    """Finished evaluations that were not ``ok``, grouped by status and reason, largest
    group first; the examples are distinct functions."""
    by_id = {c.id: c for c in candidates}
    groups: dict[tuple[str, str], list[Evaluation]] = {}
    for e in evaluations:
        if e.status not in ("ok", "running"):
            groups.setdefault((e.status, reason_key(e.error)), []).append(e)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    out = []
    for (status, reason), group in ordered:
        first = {}
        for e in group:
            first.setdefault(e.candidate_id, e)
        shown = [(by_id[cid], e.error or "") for cid, e in list(first.items())[:examples]]
        out.append(FailureGroup(status, reason, len(group), shown))
    return out


def ok_rewards(results: dict[int, tuple[str, float]]) -> list[float]:
    """First-rung mean rewards of the functions trained without failure (finite ones)."""
    return [reward for status, reward in results.values()
            if status == "ok" and math.isfinite(reward)]


# -- the whole record ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    overview: Overview
    progress: Progress
    baseline: RandomBaseline
    top: list[TopRow]
    rewards: list[float]  # ok first-rung rewards, for the histogram
    failures: list[FailureGroup]
    made: float  # when the summary was read (epoch seconds)
    noise: str = ""  # whether the differences mean anything, as `actsearch top` says it


def summarize_run(store: Store, k: int) -> RunSummary:
    """Read everything the report shows from one snapshot of the store: one read
    transaction, so a result the search commits meanwhile is either in every section or
    in none (WAL: the writer is not blocked)."""
    store.db.execute("BEGIN")
    try:
        candidates = store.candidates()
        evaluations = store.evaluations()
        results = store.rung_results(0)
        view = overview(store, candidates, evaluations)
        seen = progress(results, evaluations, view.started)
        top = top_rows(store, k, evaluations)
        noise = noise_line(store, len(run_seeds(store)))
    finally:
        store.db.execute("COMMIT")
    return RunSummary(view, seen, random_baseline(view, seen.rewards), top,
                      ok_rewards(results), failure_groups(candidates, evaluations), time.time(),
                      noise)
