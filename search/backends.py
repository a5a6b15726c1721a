"""Where children run: the interface the runner drives, and ``InlineBackend`` (this process).

A backend has one interface: ``submit(job)`` hands a child over and returns a
handle, ``next_finished()`` blocks until some child is done and returns it
(completion order, not submission order), ``in_flight`` counts children out,
``shutdown()`` cancels what is left. The runner owns the loop; a backend owns
no queue of its own beyond the handles it returned. Children on Ray:
``search.ray_backend.RayBackend``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from search.child import SETUP_ERROR, run_child
from search.errors import UserError


class BackendError(UserError, RuntimeError):
    """A backend that cannot start or cannot run the requested children (one line)."""


@dataclass(frozen=True)
class Job:
    """One child to train: an evaluation row of the store, as plain data."""

    evaluation_id: int
    candidate_id: int
    expr_text: str
    seed: int
    task: dict[str, Any] | None = None  # this child's task when not the backend's (a rung,
    #                                     another model); plain data like the default


@dataclass(frozen=True)
class Finished:
    """A child's outcome: ``result`` is a ``Result.to_dict()`` (or a setup error)."""

    job: Job
    result: dict[str, Any]
    worker: str
    retries: tuple[str, ...] = ()  # why each earlier attempt ended (its worker died, ...)

    @property
    def setup_error(self) -> str | None:
        """Why the child could not run at all (its setup is broken), or None."""
        return self.result.get(SETUP_ERROR)


class Backend(Protocol):
    """What the runner drives."""

    def submit(self, job: Job) -> Any: ...

    def next_finished(self, timeout: float | None = None) -> Finished | None: ...

    @property
    def in_flight(self) -> int: ...

    def shutdown(self) -> None: ...


# -- inline ------------------------------------------------------------------------


class InlineBackend:
    """Children run one at a time in this process when the runner asks for the next result."""

    def __init__(self, target: str, task: dict[str, Any], device: str | None = None) -> None:
        self.target, self.task, self.device = target, task, device
        self._queue: deque[Job] = deque()

    def submit(self, job: Job) -> Job:
        self._queue.append(job)
        return job

    def next_finished(self, timeout: float | None = None) -> Finished | None:
        """Run the oldest submitted child now; None if ``timeout`` is 0 (nothing is done
        until it runs). A positive ``timeout`` cannot interrupt a child."""
        if timeout is not None and timeout <= 0:
            return None
        job = self._queue.popleft()
        result, worker = run_child(self.target, job.expr_text, job.task or self.task, job.seed,
                                   self.device)
        return Finished(job, result, worker)

    @property
    def in_flight(self) -> int:
        return len(self._queue)

    def shutdown(self) -> None:
        self._queue.clear()
