"""Children of the paper-fidelity benchmark: the measured evaluate target and a process backend.

``measured_evaluate`` is ``evaluator.evaluate`` plus the child's peak memory
and the device's name in ``Result.info``; both backends run it through
``search.child.run_child``, as a search worker would.

``ProcessBackend`` runs each child in its own process, at most
``workers`` at once, with the interface of ``search.backends`` (submit,
next_finished, in_flight, shutdown). Several children on one GPU is what a
fractional ``backend.num_gpus`` makes Ray do (benchmarks/gpu_sharing.py); this
does the same where Ray is not installed. A child process that dies without
an answer is started again, up to ``max_retries`` times, and the record says
why (as ``RayBackend`` does); ``shutdown`` kills the children still running,
whose results are then never recorded. Children are forked from a
forkserver that has imported torch, torch._dynamo (which torch's optimizers
import: seconds of CPU per child otherwise) and the evaluator once; it never
touches CUDA, so each child starts its own CUDA context. Where there is no
forkserver, children are spawned.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import resource
import time
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any

from search.backends import Finished, Job
from search.child import error_result, run_child

TARGET = "benchmarks.fidelity_children:measured_evaluate"
EXIT_GRACE_S = 30.0  # a child that answered and is still there after this is killed
PRELOAD = ["torch", "torch._dynamo", "evaluator.evaluate", "search.child",
           "benchmarks.fidelity_children"]


def process_context() -> mp.context.BaseContext:
    """forkserver with the training code preloaded, else spawn."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def measured_evaluate(expr_text: str, task, seed: int = 0, device: str | None = None):
    """``evaluator.evaluate``, with ``peak_mib``, ``peak_kind`` and ``device_name`` in info.

    On CUDA the peak is ``torch.cuda.max_memory_allocated`` of this child; on the
    CPU the process's peak resident memory (cumulative if the process is reused).
    """
    import torch

    from evaluator.evaluate import evaluate, resolve_device

    dev = resolve_device(device, task)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    result = evaluate(expr_text, task, seed, device)
    if dev.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(dev) / 2**20, "cuda allocated"
        name = torch.cuda.get_device_name(dev)
    else:
        peak, kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process RSS"
        name = f"{os.cpu_count()}-core CPU"
    info = {**result.info, "peak_mib": round(peak, 1), "peak_kind": kind, "device_name": name}
    return dataclasses.replace(result, info=info)


def _child_main(writer: Connection, target: str, expr_text: str, task: dict[str, Any],
                seed: int, device: str | None) -> None:
    """The body of one child process: train, send (payload, worker), exit."""
    writer.send(run_child(target, expr_text, task, seed, device))
    writer.close()


class ProcessBackend:
    """Each child in its own spawned process, ``workers`` at once (no Ray)."""

    def __init__(self, target: str, task: dict[str, Any], workers: int,
                 device: str | None = None, max_retries: int = 2) -> None:
        self.target, self.task, self.workers = target, task, workers
        self.device, self.max_retries = device, max_retries
        self._context = process_context()
        self._waiting: deque[tuple[Job, tuple[str, ...]]] = deque()
        self._running: dict[Connection, tuple[Any, Job, tuple[str, ...]]] = {}
        self._exiting: list[tuple[Any, float]] = []  # answered, not yet exited: (process, until)

    def submit(self, job: Job, retries: tuple[str, ...] = ()) -> Job:
        self._waiting.append((job, retries))
        self._start()
        return job

    def _start(self) -> None:
        while self._waiting and len(self._running) < self.workers:
            job, retries = self._waiting.popleft()
            reader, writer = self._context.Pipe(duplex=False)
            process = self._context.Process(
                target=_child_main, name=f"child-{job.evaluation_id}",
                args=(writer, self.target, job.expr_text, job.task or self.task, job.seed,
                      self.device))
            process.start()
            writer.close()  # the child holds the only writer: its death is EOF here
            self._running[reader] = (process, job, retries)

    @property
    def in_flight(self) -> int:
        return len(self._waiting) + len(self._running)

    def next_finished(self, timeout: float | None = None) -> Finished | None:
        """The next child to finish, or None after ``timeout`` seconds."""
        give_up = None if timeout is None else time.monotonic() + timeout
        while self._running:
            left = None if give_up is None else max(0.0, give_up - time.monotonic())
            ready = wait(list(self._running), timeout=left)
            if not ready:
                return None
            reader = ready[0]
            process, job, retries = self._running.pop(reader)
            try:
                result, worker = reader.recv()
            except (EOFError, OSError):
                process.join(5)
                why = f"attempt {len(retries) + 1}: the child process died " \
                      f"(exit code {process.exitcode})"
                finished = self._died(job, (*retries, why))
            else:
                finished = Finished(job, result, worker, retries)
                self._exiting.append((process, time.monotonic() + EXIT_GRACE_S))
            reader.close()
            self._reap()
            self._start()
            if finished is not None:
                return finished
        return None

    def _reap(self, grace: bool = True) -> None:
        """Join the children that answered; kill one still there after its grace."""
        still = []
        for process, until in self._exiting:
            if process.is_alive() and (not grace or time.monotonic() > until):
                process.kill()
                process.join(5)
            if process.is_alive() or process.exitcode is None:
                still.append((process, until))
        self._exiting = still

    def _died(self, job: Job, retries: tuple[str, ...]) -> Finished | None:
        """Start ``job`` again, or record its last death once retries are spent."""
        if len(retries) <= self.max_retries:
            self._waiting.appendleft((job, retries))
            return None
        message = f"the child process died on every attempt ({len(retries)}): {retries[-1]}"
        return Finished(job, error_result(message, self.task), "process", retries[:-1])

    def shutdown(self) -> None:
        """Kill the children still running; forget the ones not started."""
        self._waiting.clear()
        for reader, (process, _, _) in list(self._running.items()):
            process.terminate()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
            reader.close()
        self._running.clear()
        self._reap(grace=False)
