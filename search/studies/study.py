"""Fixed sets of trainings: re-ranking a run's top-k and comparing against baselines.

A study is a list of arms (a function trained with one task variant, e.g. one
model) and the seeds each arm is trained with. It runs on the same backends as
a search and writes to its own store (``RUN_DIR/rerank``, or the ``--out`` of
``compare``): one candidate per function, one evaluation per (function,
variant, seed). Running the same study again trains only what the store does
not hold yet, so a killed study resumes by being run again.

Seeds start at ``FRESH_SEED``: the functions of a run's top-k were chosen for
their scores under the search's own seeds, so re-scoring them with those seeds
would carry the selection's luck (the winner's curse) into the ranking.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from search.backends import Backend, Job
from search.errors import UserError
from search.rows import Evaluation
from search.runner import fidelity_key
from search.store import Store
from space import Expression

FRESH_SEED = 1000


@dataclass(frozen=True)
class Arm:
    """One function under one task variant."""

    label: str  # how reports name the function ("ReLU", or its text)
    expr: Expression
    variant: str  # how reports name the task variant ("ResNet-20"); "" when there is one
    task: dict  # the children's task, plain data


def fresh_seeds(n: int) -> tuple[int, ...]:
    return tuple(range(FRESH_SEED, FRESH_SEED + n))


def run_study(store: Store, arms: Sequence[Arm], seeds: Sequence[int], backend: Backend,
              workers: int, on_result: Callable[[int, int], None] | None = None) -> int:
    """Train every (arm, seed) the store has not finished; returns how many were trained.

    ``on_result(done, total)`` is called after each recorded child.
    """
    pending: list[Job] = []
    total = 0
    for arm in arms:
        candidate = store.ensure_candidate(arm.expr.canonical, arm.expr.text,
                                           arm.expr.fingerprint, note=arm.label)
        fidelity = fidelity_key(arm.task)
        store.add_evaluations(candidate.id, fidelity, arm.task.get("steps"), seeds)
        for evaluation in store.evaluations(candidate.id):
            if evaluation.fidelity != fidelity or evaluation.seed not in seeds:
                continue
            total += 1
            if evaluation.status == "running":
                store.restart(evaluation.id)
                pending.append(Job(evaluation.id, candidate.id, candidate.text,
                                   evaluation.seed, arm.task))
    done = total - len(pending)
    trained = 0
    if on_result is not None:
        on_result(done, total)
    while pending or backend.in_flight:
        while pending and backend.in_flight < workers:
            backend.submit(pending.pop(0))
        finished = backend.next_finished()
        if finished is None:
            continue
        if finished.setup_error is not None:
            raise StudyAborted(f"a child could not run on {finished.worker}: "
                               f"{finished.setup_error}; fix it and run the same command "
                               "again (finished trainings are kept)")
        store.record_result(finished.job.evaluation_id, finished.result, finished.worker,
                            retries=finished.retries)
        trained += 1
        if on_result is not None:
            on_result(done + trained, total)
    return trained


class StudyAborted(UserError, RuntimeError):
    """A study stopped because its children cannot run (one line)."""


@dataclass(frozen=True)
class Cell:
    """The finished seeds of one arm."""

    rewards: list[float]  # finite rewards of the seeds that finished ok
    diverged: list[int | None]  # the step of each seed that diverged
    failed: list[str]  # status: error text of seeds that failed otherwise
    seconds: float

    @property
    def median(self) -> float | None:
        return statistics.median(self.rewards) if self.rewards else None


def cell(store: Store, arm: Arm, seeds: Sequence[int]) -> Cell:
    """What the store holds for one arm over ``seeds``."""
    candidate = store.find(arm.expr.canonical)
    fidelity = fidelity_key(arm.task)
    evaluations: list[Evaluation] = [] if candidate is None else [
        e for e in store.evaluations(candidate.id)
        if e.fidelity == fidelity and e.seed in seeds and e.status != "running"]
    rewards = [e.reward for e in evaluations
               if e.status == "ok" and e.reward is not None and math.isfinite(e.reward)]
    diverged = [e.step for e in evaluations if e.status == "diverged"]
    failed = [f"{e.status}: {e.error}" for e in evaluations
              if e.status not in ("ok", "diverged")]
    return Cell(rewards, diverged, failed, sum(e.seconds or 0.0 for e in evaluations))
