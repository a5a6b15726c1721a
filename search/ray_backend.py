"""Children as Ray tasks: ``RayBackend``, on a local Ray it starts or a cluster it joins.

Ray is the distributed engine (no home-made pools, queues or sockets): each
child is one call of ``search.ray_worker.ray_child`` as a Ray task with plain data
(a generator: where it runs, then its result), waited for with
``ray.wait(num_returns=1)``. Ray is imported when a ``RayBackend`` is made, never by
the commands that only read results. A worker process that dies (or its node, or
Ray's memory monitor killing it) is an infrastructure failure: the backend submits
the child again, up to ``max_retries`` times, and the ``Finished`` record carries
why each earlier attempt ended, so the store keeps the trace (Ray's own silent
retries are off). An exception of the candidate's own is caught inside the child
(``search.child.run_child``) and comes back as an ``error`` result, which is
recorded and never retried. ``timeout_s`` is a hard wall-clock limit:
``ray.wait`` wakes at the nearest deadline and the overdue task is killed.
"""

from __future__ import annotations

import contextlib
import copy
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
from typing import Any

from search.backends import BackendError, Finished, Job
from search.child import SETUP_ERROR, cpu_fallback, error_result
from space.lazy import LazyModule

ray = LazyModule("ray", globals(), "ray")  # imported when a RayBackend is made

log = logging.getLogger(__name__)


NODE_POLL_S = 1.0  # how often the driver asks Ray which nodes are alive while it waits
NOT_STARTED = "it had not started"  # a retry that does not count against max_retries


@cache
def remote_child(client: bool = False) -> Any:
    """``search.ray_worker.ray_child`` as a Ray remote function (made once, when a
    ``RayBackend`` is first made); through Ray Client ``ray_child_once``."""
    from search.ray_worker import ray_child, ray_child_once

    return ray.remote(ray_child_once if client else ray_child)


def _infrastructure_failures() -> dict[type, str]:
    """Ray's errors for a child whose process or node died: retried, with the reason."""
    errors = ray.exceptions
    return {errors.WorkerCrashedError: "the worker process died",
            errors.NodeDiedError: "the node running it died",
            errors.OutOfMemoryError: "killed by Ray for lack of memory",
            errors.ObjectLostError: "its result was lost with its node"}


@dataclass
class _Attempt:
    """One attempt of a job as Ray runs it: where it runs once the child said so."""

    job: Job
    deadline: float
    retries: tuple[str, ...]  # why its earlier attempts ended
    placement: dict[str, Any] | None = None  # {"node", "gpus", "cuda"} from the worker


class RayBackend:
    """Children as Ray tasks with per-child resources; joins or starts a Ray instance.

    Each child first reports where it runs (node, GPUs), then its result. While it
    waits the driver polls ``ray.nodes()`` every ``NODE_POLL_S``: the attempts of a
    node no longer alive (Ray may never fail them) are submitted again, a recorded
    retry; if no node left can run a child, ``BackendError`` (one line).
    """

    def __init__(self, target: str, task: dict[str, Any], *, address: str | None = None,
                 workers: int = 2, num_cpus: float = 1.0, num_gpus: float = 0.0,
                 max_retries: int = 2, timeout_s: float | None = None,
                 device: str | None = None, runtime_env: dict | None = None,
                 dashboard: bool = False) -> None:
        self.target, self.task, self.device = target, task, device
        self.num_cpus, self.num_gpus, self.timeout_s = num_cpus, num_gpus, timeout_s
        self.max_retries = max_retries
        self._owns_ray = False
        self._out: dict[Any, _Attempt] = {}  # ObjectRefGenerator -> its attempt
        self._done: deque[Finished] = deque()  # out of retries when their node was lost
        self._warned_cpu: set[str] = set()  # nodes said to train GPU children on the CPU
        # Ray's C++ crash handler turns a SIGTERM during ray.init into an abort with a stack
        # dump; without it the SIGTERM reaches Python and ends the start cleanly (see _init).
        # Read when Ray is imported (next line); RAY_DISABLE_FAILURE_SIGNAL_HANDLER=0 keeps it.
        os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
        try:
            if not ray.is_initialized():
                self._init(address, workers, num_cpus, runtime_env, dashboard)
            self._alive = self._check_resources()
        except (BackendError, KeyboardInterrupt):  # SIGTERM held while Ray started, Ctrl-C
            self.shutdown()
            raise
        self._next_poll = time.monotonic() + NODE_POLL_S
        # Ray Client runs no generator tasks: a child's placement comes with its result.
        self._client = ray.util.client.ray.is_connected()
        # Ray does not retry on its own: this backend does, so each retry is recorded.
        self._remote = remote_child(self._client).options(
            num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0, retry_exceptions=False,
            num_returns=1 if self._client else "streaming")

    def _init(self, address: str | None, workers: int, num_cpus: float,
              runtime_env: dict | None, dashboard: bool) -> None:
        """``runtime_env`` (working_dir, py_modules, pip, env_vars) ships a user's code."""
        self._owns_ray = True  # from the start: a Ctrl-C inside ray.init leaves a half Ray
        with _sigterm_deferred():
            try:
                ray.init(**init_options(address, workers, num_cpus, runtime_env, dashboard))
            except (OSError, RuntimeError, ValueError) as error:  # ConnectionError: an OSError
                where = ("start a local Ray" if address is None
                         else f"join the Ray cluster {address!r}")
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
                raise BackendError(f"cannot {where}: {first}") from None

    def _check_resources(self, lost: str = "") -> set[str]:
        """The ids of the nodes alive now; fails in one line if none of them can ever run a
        child (Ray would wait forever). ``lost``: what was lost, to say so in that line."""
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        need = {"CPU": self.num_cpus, "GPU": self.num_gpus}
        for node in nodes:
            have = node.get("Resources", {})
            if all(have.get(k, 0.0) >= v for k, v in need.items() if v > 0):
                return {n["NodeID"] for n in nodes}
        seen = ", ".join(f"{n.get('NodeManagerAddress', '?')}: {_have(n, 'CPU'):g} CPU, "
                         f"{_have(n, 'GPU'):g} GPU" for n in nodes)
        hint = ("set backend.num_gpus: 0 to train on CPUs, or join a cluster with GPUs "
                "(--address)" if self.num_gpus > 0 else "lower backend.num_cpus")
        if lost:
            hint = "add a node that can (ray start --address HEAD:PORT ...), then resume"
        raise BackendError(f"{lost}no Ray node {'left ' if lost else ''}can run a child "
                           f"needing {self.num_cpus:g} CPU and {self.num_gpus:g} GPU (nodes: "
                           f"{seen or 'none'}); {hint}")

    def submit(self, job: Job, retries: tuple[str, ...] = ()) -> Any:
        """Start one attempt of ``job``; ``retries``: why its earlier attempts ended."""
        generator = self._remote.remote(self.target, job.expr_text, job.task or self.task,
                                        job.seed, self.device)
        deadline = time.monotonic() + self.timeout_s if self.timeout_s else math.inf
        self._out[generator] = _Attempt(job, deadline, retries)
        return generator

    @property
    def in_flight(self) -> int:
        return len(self._out) + len(self._done)

    def next_finished(self, timeout: float | None = None) -> Finished | None:
        """The next child to finish, or None after ``timeout`` s; a child past
        ``timeout_s`` is killed and comes back as a ``timeout`` result."""
        give_up = math.inf if timeout is None else time.monotonic() + timeout
        while True:
            if time.monotonic() >= self._next_poll:
                self._watch_nodes()
            if self._done:
                return self._done.popleft()
            nearest = min([a.deadline for a in self._out.values()] + [give_up, self._next_poll])
            wait = max(0.0, nearest - time.monotonic())
            ready, _ = ray.wait(list(self._out), num_returns=1, timeout=wait)
            if ready:
                finished = self._step(ready[0])
                if finished is not None:
                    return finished
                continue  # it said where it runs, or its worker died and it was resubmitted
            now = time.monotonic()
            for generator, attempt in list(self._out.items()):
                if attempt.deadline <= now:
                    ray.cancel(generator, force=True)
                    del self._out[generator]
                    message = f"killed after the backend's timeout_s={self.timeout_s:g} s"
                    return Finished(attempt.job, error_result(message, self.task,
                                                              self.timeout_s or 0.0,
                                                              status="timeout"),
                                    self._where("ray", attempt), attempt.retries)
            if now >= give_up:
                return None

    def _step(self, generator: Any) -> Finished | None:
        """Take the next item of a child: where it runs (None is returned) or its result."""
        attempt = self._out[generator]
        failures = _infrastructure_failures()
        try:
            item = ray.get(generator if self._client else next(generator))
        except StopIteration:  # ended without a result: as if its worker died
            return self._retry(generator, "it ended without a result", "StopIteration")
        except tuple(failures) as error:
            what = next(text for kind, text in failures.items() if isinstance(error, kind))
            return self._retry(generator, what, type(error).__name__, error)
        except ray.exceptions.RuntimeEnvSetupError as error:  # the setup: stop the search
            del self._out[generator]
            return Finished(attempt.job, {SETUP_ERROR: f"Ray could not set up the runtime_env: "
                                                       f"{_first_line(error)}"},
                            self._where("ray", attempt), attempt.retries)
        except ray.exceptions.RayError as error:  # a task error outside the child
            del self._out[generator]
            return Finished(attempt.job, error_result(f"{type(error).__name__}: "
                                                      f"{_first_line(error)}", self.task),
                            self._where("ray", attempt), attempt.retries)
        if self._client:  # (placement, (result, worker)) at once
            attempt.placement, item = item
        elif attempt.placement is None:
            attempt.placement = item
            return None
        del self._out[generator]
        result, worker = item
        self._say_cpu_fallback(attempt)
        return Finished(attempt.job, result, self._where(worker, attempt), attempt.retries)

    def _retry(self, generator: Any, what: str, kind: str,
               error: BaseException | None = None) -> Finished | None:
        """Submit ``generator``'s job again (None), or its error result when out of retries."""
        attempt = self._out.pop(generator)
        job, retries = attempt.job, attempt.retries
        reason = f"attempt {len(retries) + 1}: {what} ({kind})"
        log.info("evaluation %d: %s", job.evaluation_id, reason)
        failed = sum(NOT_STARTED not in earlier for earlier in (*retries, reason))
        if failed <= self.max_retries:  # an attempt moved before it started is no failure
            self.submit(job, (*retries, reason))
            return None
        detail = f": {_first_line(error)}" if error is not None else ""
        message = f"{what} on every attempt ({len(retries) + 1}){detail}"
        return Finished(job, error_result(message, self.task), self._where("ray", attempt),
                        retries)

    def _watch_nodes(self) -> None:
        """Resubmit the attempts of nodes that are no longer alive; stop (one line) if no
        node left can run a child."""
        self._next_poll = time.monotonic() + NODE_POLL_S
        alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
        lost = self._alive - alive
        self._alive = alive
        for node in sorted(lost):
            log.warning("Ray node %s was lost; its children are trained again elsewhere",
                        node[:8])
        gone = ", ".join(node[:8] for node in sorted(lost))
        for generator, attempt in list(self._out.items()):
            node = (attempt.placement or {}).get("node")
            if node is not None and node not in alive:
                what = f"its node {node[:8]} was lost"
            elif node is None and lost:  # perhaps bound to the lost node before it could say
                with contextlib.suppress(Exception):  # (it would wait there for ever)
                    ray.cancel(generator, force=False)
                what = f"{NOT_STARTED} when node {gone} was lost"
            else:
                continue
            finished = self._retry(generator, what, "Ray lists the node dead")
            if finished is not None:
                self._done.append(finished)
        if lost:
            self._check_resources(lost=f"Ray node {gone} was lost and ")

    def _where(self, worker: str, attempt: _Attempt) -> str:
        """``host:pid node 1a2b3c4d GPU 0`` (or ``CPU``): the store's worker column."""
        placement = attempt.placement
        if placement is None:
            return worker
        gpus = ",".join(str(g) for g in placement.get("gpus", []))
        device = f"GPU {gpus}" if gpus else "CPU"
        if gpus and not placement.get("cuda"):
            device += " (no CUDA: trained on the CPU)"
        return f"{worker} node {str(placement['node'])[:8]} {device}"

    def _say_cpu_fallback(self, attempt: _Attempt) -> None:
        """Once per node: children that asked for a GPU there train on the CPU."""
        placement = attempt.placement or {}
        node = str(placement.get("node", "?"))
        task = attempt.job.task or self.task
        if node in self._warned_cpu or not cpu_fallback(
                self.device or task.get("device"), placement.get("gpus", []),
                bool(placement.get("cuda"))):
            return
        self._warned_cpu.add(node)
        log.warning("device auto: Ray node %s gave children GPU %s but torch finds no CUDA "
                    "there; they train on the CPU", node[:8],
                    ",".join(str(g) for g in placement.get("gpus", [])))

    def shutdown(self) -> None:
        """Cancel what is still out; stop Ray if this backend started it.

        The cancel interrupts the children (KeyboardInterrupt in the task) but
        keeps their worker processes, so a resume on the same cluster starts at
        once; only a child past ``timeout_s`` is killed with its process.
        """
        for generator, attempt in list(self._out.items()):
            node = (attempt.placement or {}).get("node")
            if node is None or node in self._alive:  # a lost node's task cannot be reached
                ray.cancel(generator, force=False)
        self._out.clear()
        self._done.clear()
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
    (``auto``, ``HOST:PORT``, ``ray://HOST:10001``).

    ``runtime_env`` is copied: Ray rewrites the dict it is given (a ``working_dir``
    becomes the ``gcs://`` package it uploaded), and the run's config must keep the folder."""
    runtime_env = copy.deepcopy(runtime_env)
    if address is None:
        return {"address": "local", "num_cpus": max(1, math.ceil(workers * num_cpus)),
                "include_dashboard": dashboard, "log_to_driver": False,
                "logging_level": logging.ERROR, "runtime_env": runtime_env}
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
