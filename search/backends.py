"""Where children run: ``InlineBackend`` (this process) and ``RayBackend`` (Ray tasks).

Both have one interface: ``submit(job)`` hands a child over and returns a
handle, ``next_finished()`` blocks until some child is done and returns it
(completion order, not submission order), ``in_flight`` counts children out,
``shutdown()`` cancels what is left. The runner owns the loop; a backend owns
no queue of its own beyond the handles it returned.

Ray is the distributed engine (no home-made pools, queues or sockets): each
child is one call of ``search.ray_worker.ray_child`` as a Ray task with plain data,
results are streamed with ``ray.wait(num_returns=1)``. Ray is imported when a
``RayBackend`` is made, never by the commands that only read results. A worker
process that dies (or its node, or Ray's memory monitor killing it) is an
infrastructure failure: the backend submits the child again, up to
``max_retries`` times, and the ``Finished`` record carries why each earlier
attempt ended, so the store keeps the trace (Ray's own silent retries are off).
An exception of the candidate's own is caught inside the child
(``search.child.run_child``) and comes back as an ``error`` result, which is
recorded and never retried. ``timeout_s`` is a hard wall-clock limit:
``ray.wait`` wakes at the nearest deadline and the overdue task is killed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from search.child import SETUP_ERROR, error_result, run_child
from search.errors import UserError
from space.lazy import LazyModule

ray = LazyModule("ray", globals(), "ray")  # imported when a RayBackend is made

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


# -- Ray ---------------------------------------------------------------------------


@cache
def remote_child() -> Any:
    """``search.ray_worker.ray_child`` as a Ray remote function (made once, when a
    ``RayBackend`` is first made)."""
    from search.ray_worker import ray_child

    return ray.remote(ray_child)


def _infrastructure_failures() -> dict[type, str]:
    """Ray's errors for a child whose process or node died: retried, with the reason."""
    errors = ray.exceptions
    return {errors.WorkerCrashedError: "the worker process died",
            errors.NodeDiedError: "the node running it died",
            errors.OutOfMemoryError: "killed by Ray for lack of memory"}


class RayBackend:
    """Children as Ray tasks with per-child resources; joins or starts a Ray instance."""

    def __init__(self, target: str, task: dict[str, Any], *, address: str | None = None,
                 workers: int = 2, num_cpus: float = 1.0, num_gpus: float = 0.0,
                 max_retries: int = 2, timeout_s: float | None = None,
                 device: str | None = None, runtime_env: dict | None = None,
                 dashboard: bool = False) -> None:
        self.target, self.task, self.device = target, task, device
        self.num_cpus, self.num_gpus, self.timeout_s = num_cpus, num_gpus, timeout_s
        self.max_retries = max_retries
        self._owns_ray = False
        # ref -> (job, deadline, why its earlier attempts ended)
        self._out: dict[ray.ObjectRef, tuple[Job, float, tuple[str, ...]]] = {}
        # Ray's C++ crash handler turns a SIGTERM during ray.init into an abort with a stack
        # dump; without it the SIGTERM reaches Python and ends the start cleanly (see _init).
        # Read when Ray is imported (next line); RAY_DISABLE_FAILURE_SIGNAL_HANDLER=0 keeps it.
        os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
        try:
            if not ray.is_initialized():
                self._init(address, workers, num_cpus, runtime_env, dashboard)
            self._check_resources()
        except (BackendError, KeyboardInterrupt):  # SIGTERM held while Ray started, Ctrl-C
            self.shutdown()
            raise
        # Ray does not retry on its own: this backend does, so each retry is recorded.
        self._remote = remote_child().options(num_cpus=num_cpus, num_gpus=num_gpus,
                                              max_retries=0, retry_exceptions=False)

    def _init(self, address: str | None, workers: int, num_cpus: float,
              runtime_env: dict | None, dashboard: bool) -> None:
        """``runtime_env`` (Ray's: working_dir, py_modules, pip, env_vars) is how a user
        task's code reaches a cluster's workers; local workers start in this directory."""
        self._owns_ray = True  # from the start: a Ctrl-C inside ray.init leaves a half Ray
        with _sigterm_deferred():
            try:
                ray.init(**init_options(address, workers, num_cpus, runtime_env, dashboard))
            except (OSError, RuntimeError, ValueError) as error:  # ConnectionError: an OSError
                where = ("start a local Ray" if address is None
                         else f"join the Ray cluster {address!r}")
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
                raise BackendError(f"cannot {where}: {first}") from None

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

    def submit(self, job: Job, retries: tuple[str, ...] = ()) -> ray.ObjectRef:
        """Start one attempt of ``job``; ``retries``: why its earlier attempts ended."""
        ref = self._remote.remote(self.target, job.expr_text, job.task or self.task, job.seed,
                                  self.device)
        deadline = time.monotonic() + self.timeout_s if self.timeout_s else math.inf
        self._out[ref] = (job, deadline, retries)
        return ref

    @property
    def in_flight(self) -> int:
        return len(self._out)

    def next_finished(self, timeout: float | None = None) -> Finished | None:
        """The next child to finish, or None after ``timeout`` s; a child past
        ``timeout_s`` is killed and comes back as a ``timeout`` result."""
        give_up = math.inf if timeout is None else time.monotonic() + timeout
        while True:
            nearest = min(min(deadline for _, deadline, _ in self._out.values()), give_up)
            wait = None if nearest == math.inf else max(0.0, nearest - time.monotonic())
            ready, _ = ray.wait(list(self._out), num_returns=1, timeout=wait)
            if ready:
                finished = self._collect(ready[0])
                if finished is not None:
                    return finished
                continue  # its worker died: submitted again
            now = time.monotonic()
            for ref, (job, deadline, retries) in list(self._out.items()):
                if deadline <= now:
                    ray.cancel(ref, force=True)
                    del self._out[ref]
                    message = f"killed after the backend's timeout_s={self.timeout_s:g} s"
                    return Finished(job, error_result(message, self.task, self.timeout_s or 0.0,
                                                      status="timeout"), "ray", retries)
            if now >= give_up:
                return None

    def _collect(self, ref: ray.ObjectRef) -> Finished | None:
        """The finished child of ``ref``; None if its worker died and it was resubmitted."""
        job, _, retries = self._out.pop(ref)
        failures = _infrastructure_failures()
        try:
            result, worker = ray.get(ref)
        except tuple(failures) as error:
            what = next(text for kind, text in failures.items() if isinstance(error, kind))
            reason = f"attempt {len(retries) + 1}: {what} ({type(error).__name__})"
            log.info("evaluation %d: %s", job.evaluation_id, reason)
            if len(retries) < self.max_retries:
                self.submit(job, (*retries, reason))
                return None
            message = f"{what} on every attempt ({len(retries) + 1}): {_first_line(error)}"
            return Finished(job, error_result(message, self.task), "ray", retries)
        except ray.exceptions.RayError as error:  # a task error outside the child
            return Finished(job, error_result(f"{type(error).__name__}: {_first_line(error)}",
                                              self.task), "ray", retries)
        return Finished(job, result, worker, retries)

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


def init_options(address: str | None, workers: int, num_cpus: float,
                 runtime_env: dict | None, dashboard: bool = False) -> dict[str, Any]:
    """``ray.init``'s arguments. A local Ray is sized for the children, keeps the workers'
    output off this terminal and starts without the dashboard unless ``dashboard`` (so a
    killed driver leaves fewer processes behind); a cluster's own settings stand.

    ``address: null`` is always a Ray of this search's own (``address="local"``): without
    it ``ray.init`` would join whatever ``RAY_ADDRESS`` or a ``ray start`` left on the
    machine names, and refuse the local sizing. Joining is asked for with an address
    (``auto``, ``HOST:PORT``, ``ray://HOST:10001``)."""
    if address is None:
        return {"address": "local", "num_cpus": max(1, math.ceil(workers * num_cpus)),
                "include_dashboard": dashboard,
                "log_to_driver": False, "logging_level": logging.ERROR,
                "runtime_env": runtime_env}
    return {"address": address, "logging_level": logging.WARNING, "runtime_env": runtime_env}


@contextlib.contextmanager
def _sigterm_deferred() -> Iterator[None]:
    """Hold a SIGTERM that arrives while Ray starts and deliver it when the start is over.

    On the main thread ``ray.init`` installs a SIGTERM handler that calls ``sys.exit`` from
    wherever Python happens to be: a silent exit 15, or an exception swallowed inside a
    logging lock (the signal lost), and the processes it had started left with no parent.
    Here Ray's ``signal.signal(SIGTERM, ...)`` is declined for the length of the start, a
    SIGTERM is only noted, and once ``ray.init`` is done the caller's handler is back and
    the noted signal is raised to it (the CLI's turns it into ``Terminated``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    callers = signal.getsignal(signal.SIGTERM)
    set_handler = signal.signal

    def decline_sigterm(signum: int, handler: Any) -> Any:
        if signum == signal.SIGTERM:
            return signal.getsignal(signum)
        return set_handler(signum, handler)

    set_handler(signal.SIGTERM, lambda signum, frame: noted.append(signum))
    signal.signal = decline_sigterm
    try:
        yield
    finally:
        signal.signal = set_handler
        set_handler(signal.SIGTERM, callers if callers is not None else signal.SIG_DFL)
        if noted:
            signal.raise_signal(signal.SIGTERM)


def _have(node: dict, resource: str) -> float:
    return float(node.get("Resources", {}).get(resource, 0.0))


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(error).__name__
