"""Where children run: ``InlineBackend`` (this process) and ``RayBackend`` (Ray tasks).

Both have one interface: ``submit(job)`` hands a child over and returns a
handle, ``next_finished()`` blocks until some child is done and returns it
(completion order, not submission order), ``in_flight`` counts children out,
``shutdown()`` cancels what is left. The runner owns the loop; a backend owns
no queue of its own beyond the handles it returned.

Ray is the distributed engine (no home-made pools, queues or sockets): each
child is one call of the module-level remote function ``ray_child`` with
plain data, results are streamed with ``ray.wait(num_returns=1)``. A worker
process that dies is an infrastructure failure, retried by Ray itself
(``max_retries``); an exception of the candidate's own is caught inside the
child (``search.child.run_child``) and comes back as an ``error`` result,
which is recorded and never retried. ``timeout_s`` is a hard wall-clock limit:
``ray.wait`` wakes at the nearest deadline and the overdue task is killed.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import ray
import ray.exceptions

from search.child import SETUP_ERROR, error_result, run_child
from search.errors import UserError

log = logging.getLogger(__name__)


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


# -- Ray ---------------------------------------------------------------------------


@ray.remote
def ray_child(target: str, expr_text: str, task: dict[str, Any], seed: int,
              device: str | None) -> tuple[dict[str, Any], str]:
    """One child on a Ray worker: plain data in, plain data out."""
    import torch

    torch.set_num_threads(max(1, int(task.get("threads", 1))))
    return run_child(target, expr_text, task, seed, device)


class RayBackend:
    """Children as Ray tasks with per-child resources; joins or starts a Ray instance."""

    def __init__(self, target: str, task: dict[str, Any], *, address: str | None = None,
                 workers: int = 2, num_cpus: float = 1.0, num_gpus: float = 0.0,
                 max_retries: int = 2, timeout_s: float | None = None,
                 device: str | None = None, runtime_env: dict | None = None) -> None:
        self.target, self.task, self.device = target, task, device
        self.num_cpus, self.num_gpus, self.timeout_s = num_cpus, num_gpus, timeout_s
        self._owns_ray = False
        self._out: dict[ray.ObjectRef, tuple[Job, float]] = {}  # ref -> (job, deadline)
        if not ray.is_initialized():
            self._init(address, workers, num_cpus, runtime_env)
        try:
            self._check_resources()
        except BackendError:
            self.shutdown()
            raise
        self._remote = ray_child.options(num_cpus=num_cpus, num_gpus=num_gpus,
                                         max_retries=max_retries, retry_exceptions=False)

    def _init(self, address: str | None, workers: int, num_cpus: float,
              runtime_env: dict | None) -> None:
        """``runtime_env`` (Ray's: working_dir, py_modules, pip, env_vars) is how a user
        task's code reaches a cluster's workers; local workers start in this directory."""
        try:
            if address is None:  # a local instance sized for the children, ours to shut down
                ray.init(num_cpus=max(1, math.ceil(workers * num_cpus)), include_dashboard=False,
                         log_to_driver=False, logging_level=logging.ERROR,
                         runtime_env=runtime_env)
            else:  # "auto" or "ray://host:port": join a running cluster, its settings stand
                ray.init(address=address, logging_level=logging.WARNING,
                         runtime_env=runtime_env)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = "start a local Ray" if address is None else f"join the Ray cluster {address!r}"
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise BackendError(f"cannot {where}: {first}") from None
        self._owns_ray = True

    def _check_resources(self) -> None:
        """Fail now, in one line, if no node can ever run one child (Ray would wait forever)."""
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        need = {"CPU": self.num_cpus, "GPU": self.num_gpus}
        for node in nodes:
            have = node.get("Resources", {})
            if all(have.get(k, 0.0) >= v for k, v in need.items() if v > 0):
                return
        seen = ", ".join(f"{n.get('NodeManagerAddress', '?')}: {_have(n, 'CPU'):g} CPU, "
                         f"{_have(n, 'GPU'):g} GPU" for n in nodes)
        hint = ("set backend.num_gpus: 0 to train on CPUs, or join a cluster with GPUs "
                "(--address)" if self.num_gpus > 0 else "lower backend.num_cpus")
        raise BackendError(f"no Ray node can run a child needing {self.num_cpus:g} CPU and "
                           f"{self.num_gpus:g} GPU (nodes: {seen or 'none'}); {hint}")

    def submit(self, job: Job) -> ray.ObjectRef:
        ref = self._remote.remote(self.target, job.expr_text, job.task or self.task, job.seed,
                                  self.device)
        deadline = time.monotonic() + self.timeout_s if self.timeout_s else math.inf
        self._out[ref] = (job, deadline)
        return ref

    @property
    def in_flight(self) -> int:
        return len(self._out)

    def next_finished(self, timeout: float | None = None) -> Finished | None:
        """The next child to finish, or None after ``timeout`` s; a child past
        ``timeout_s`` is killed and comes back as a ``timeout`` result."""
        give_up = math.inf if timeout is None else time.monotonic() + timeout
        while True:
            nearest = min(min(deadline for _, deadline in self._out.values()), give_up)
            wait = None if nearest == math.inf else max(0.0, nearest - time.monotonic())
            ready, _ = ray.wait(list(self._out), num_returns=1, timeout=wait)
            if ready:
                return self._collect(ready[0])
            now = time.monotonic()
            for ref, (job, deadline) in list(self._out.items()):
                if deadline <= now:
                    ray.cancel(ref, force=True)
                    del self._out[ref]
                    message = f"killed after the backend's timeout_s={self.timeout_s:g} s"
                    return Finished(job, error_result(message, self.task, self.timeout_s or 0.0,
                                                      status="timeout"), "ray")
            if now >= give_up:
                return None

    def _collect(self, ref: ray.ObjectRef) -> Finished:
        job, _ = self._out.pop(ref)
        try:
            result, worker = ray.get(ref)
        except ray.exceptions.WorkerCrashedError as error:
            message = f"the worker process died on every attempt: {_first_line(error)}"
            return Finished(job, error_result(message, self.task), "ray")
        except ray.exceptions.OutOfMemoryError as error:
            message = f"killed by Ray for lack of memory: {_first_line(error)}"
            return Finished(job, error_result(message, self.task), "ray")
        except ray.exceptions.RayError as error:  # node lost, task error outside the child
            return Finished(job, error_result(f"{type(error).__name__}: {_first_line(error)}",
                                              self.task), "ray")
        return Finished(job, result, worker)

    def shutdown(self) -> None:
        """Cancel what is still out; stop Ray if this backend started it.

        The cancel interrupts the children (KeyboardInterrupt in the task) but
        keeps their worker processes, so a resume on the same cluster starts at
        once; only a child past ``timeout_s`` is killed with its process.
        """
        for ref in list(self._out):
            ray.cancel(ref, force=False)
        self._out.clear()
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False


def _have(node: dict, resource: str) -> float:
    return float(node.get("Resources", {}).get(resource, 0.0))


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(error).__name__
