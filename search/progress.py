"""What the progress bar shows: ``Progress``, read from the store (so it survives a resume)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from search.rows import Candidate
from search.store import UNFINISHED, Store

FAILED = ("error", "timeout")
CLOSING = ("budget", "exhausted", "proposals")  # stops after which the last cohort is ranked


@dataclass
class Progress:
    """What the progress bar shows, read from the store once the children that a recorded
    result freed were replaced (so ``training`` counts the children out then): it counts
    the whole run directory (every invocation, so it survives a resume) and agrees with
    ``actsearch top``. Its unit is the **function**: a distinct function is finished
    once all its first-rung trainings finished, or the pre-screen rejected it."""

    functions: dict[str, int] = field(default_factory=dict)  # finished functions by status
    pending: int = 0  # functions proposed and not finished (training or queued)
    training: int = 0  # child trainings out now (this invocation's workers)
    trained: int = 0  # finished child trainings, all rungs (pre-screened ones excluded)
    failures: int = 0  # child trainings that ended in error or timeout
    duplicates: int = 0  # proposals answered from the store (all invocations)
    budget: int | None = None  # budget.max_evaluations (trainings)
    seeds: int = 1  # trainings per function and rung
    space_functions: int | None = None  # distinct functions of a small exhaustive space
    best: Candidate | None = None
    stopped_by: str = ""  # budget | proposals | time | exhausted | interrupted | terminated
    #                       | errors
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def finished(self) -> int:
        """Functions finished, whatever their status (the bar's position)."""
        return sum(self.functions.values())

    @property
    def total(self) -> int | None:
        """Functions the search will finish (the bar's end), None when unknown: every
        distinct function of a small exhaustive space, at most the budget's trained
        functions plus the pre-screened ones (free); once the search ends by a rule that
        finishes it (budget, exhausted, proposals), what it finished."""
        if self.stopped_by in CLOSING and not self.pending:
            return self.finished
        by_budget = (None if self.budget is None
                     else self.budget // self.seeds + self.functions.get("invalid", 0))
        bounds = [n for n in (self.space_functions, by_budget) if n is not None]
        return max(min(bounds), self.finished) if bounds else None

    def read(self, store: Store) -> None:
        """Refresh the counts from the store."""
        functions = store.function_counts()
        self.pending = functions.pop("pending", 0)
        self.functions = functions
        trainings = store.training_counts()
        self.trained = sum(n for s, n in trainings.items() if s not in UNFINISHED)
        self.failures = sum(trainings.get(s, 0) for s in FAILED)
        self.duplicates = store.count_duplicates()
