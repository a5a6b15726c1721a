"""Resuming a search: what the store holds of earlier invocations, as one plain record.

The runner checkpoints the strategy into the store every ``checkpoint_every``
results and when it stops (``save_checkpoint``); ``resume_point`` reads the
newest checkpoint back with the store's view of what happened since:

- proposals the strategy was awaiting are told now if their candidate finished
  since, or keep waiting for it;
- every evaluation ``abandoned`` (a clean stop) or still ``running`` (the
  driver was killed) is trained again;
- proposals made after the checkpoint are asked again by the restored strategy
  and answered from the store: ``replays`` counts them (new candidates and
  duplicates recorded since the checkpoint), so that they are not counted as
  duplicates a second time. It is exact for the deterministic strategies
  (they re-ask the same sequence); after a checkpoint of an older store,
  without these counters, it is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from search.rows import Candidate, Evaluation
from search.store import UNFINISHED, Store

Tokens = tuple[int, ...]


@dataclass
class ResumePoint:
    """Where a search takes up again; empty for a new run."""

    state: dict[str, Any] | None = None  # the strategy's state_dict, None: start afresh
    proposals: int = 0  # asks the strategy had answered at the checkpoint
    answered: list[tuple[Tokens, Candidate]] = field(default_factory=list)  # awaited, finished
    waiting: dict[int, list[Tokens]] = field(default_factory=dict)  # candidate id -> awaiting
    rerun: list[tuple[Evaluation, Candidate]] = field(default_factory=list)  # to train again
    replays: int = 0  # proposals since the checkpoint, asked again: not duplicates


def resume_point(store: Store) -> ResumePoint:
    """Read what the store holds (the newest checkpoint, unfinished evaluations). Marks
    nothing: the runner restarts each of ``rerun`` as it queues it."""
    point = ResumePoint()
    checkpoint = store.latest_checkpoint()
    if checkpoint is not None:
        point.state, outstanding, counters = checkpoint
        point.proposals = int(counters.get("proposals", 0))
        for tokens, candidate_id in outstanding:
            candidate = store.candidate(candidate_id)
            if candidate is not None and candidate.status != "pending":
                point.answered.append((tokens, candidate))
            else:
                point.waiting.setdefault(candidate_id, []).append(tokens)
        if "candidates" in counters and "duplicates" in counters:
            since = (_candidates(store) - int(counters["candidates"])
                     + store.count_duplicates() - int(counters["duplicates"]))
            point.replays = max(0, since)
    unfinished = [e for status in UNFINISHED for e in store.evaluations(status=status)]
    for evaluation in sorted(unfinished, key=lambda e: e.id):
        candidate = store.candidate(evaluation.candidate_id)
        assert candidate is not None  # an evaluation row belongs to a candidate
        point.rerun.append((evaluation, candidate))
    return point


def save_checkpoint(store: Store, strategy: Any, told: int,
                    waiters: dict[int, Sequence[Tokens]], proposals: int) -> None:
    """Save the strategy with the proposals it awaits (a consistent pair), and the counts
    that tell a resume how many of the proposals that follow it will be asked again."""
    outstanding = [(tokens, cid) for cid, waiting in waiters.items() for tokens in waiting]
    counters = {"proposals": proposals, "candidates": _candidates(store),
                "duplicates": store.count_duplicates()}
    store.save_checkpoint(strategy.state_dict(), told, outstanding, counters)


def _candidates(store: Store) -> int:
    """Candidates in the store (distinct functions proposed, every status)."""
    return sum(store.function_counts().values())
