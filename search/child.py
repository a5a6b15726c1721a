"""What a worker runs for one child: import the evaluate target, call it, return plain data.

A candidate crosses to a worker as plain data (expression text, task dict,
seed), never as a pickled closure; the evaluate function is named by a
``"module:function"`` path and imported where it runs. ``run_child`` never
raises: a candidate's own failure is already a ``Result`` (error, diverged,
...), and an exception of the evaluate function is reported back as a setup
error, so Ray retries only what neither explains (a worker process that died).
"""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Callable
from typing import Any

from evaluator import DataError, Result
from evaluator.tasks import as_task
from evaluator.usertask import import_function
from search.errors import UserError

EvaluateFn = Callable[..., Result]


SETUP_ERROR = "setup_error"  # the payload key of a child whose setup failed


class TargetError(UserError, ValueError):
    """The evaluate target cannot be imported; the message is one line."""


def import_target(target: str) -> EvaluateFn:
    """The function named by ``"package.module:function"`` (no eval: importlib + getattr).

    Modules in the current directory are found too (as with ``python -m``); local
    Ray workers start in the driver's directory, so they find the same module.
    """
    try:
        return import_function(target, what="evaluate target")
    except (ImportError, ValueError) as error:
        raise TargetError(str(error)) from None


def worker_name() -> str:
    """``host:pid`` of the process running the child."""
    return f"{socket.gethostname()}:{os.getpid()}"


def error_result(message: str, task: dict[str, Any], seconds: float = 0.0,
                 status: str = "error") -> dict[str, Any]:
    """A ``Result.to_dict()`` for a child that produced no result of its own."""
    reward = task.get(f"{status}_reward", task.get("error_reward", 0.0))
    return Result(status=status, reward=float(reward), seconds=seconds,
                  error=message).to_dict()


def run_child(target: str, expr_text: str, task: dict[str, Any], seed: int,
              device: str | None = None) -> tuple[dict[str, Any], str]:
    """Train one child: (payload, worker name); never raises.

    The payload is the ``Result.to_dict()``, or ``{"setup_error": "..."}`` when
    the evaluate function raised: by contract it returns a result for every
    failure of the candidate itself, so an exception means the setup is broken
    (data missing on this node, no such device, the target not importable) and
    the search should stop rather than score every candidate zero.
    """
    try:
        evaluate = import_target(target)
        result = evaluate(expr_text, as_task(task), seed, device)
        if not isinstance(result, Result):
            raise TypeError(f"{target} returned {type(result).__name__}, not evaluator.Result")
        return result.to_dict(), worker_name()
    except Exception as error:
        message = f"{type(error).__name__}: {' '.join(str(error).split())}"
        if not isinstance(error, (UserError, DataError)):  # a bug: say where
            last = traceback.extract_tb(error.__traceback__)[-1:]
            message += f" ({last[0].filename}:{last[0].lineno})" if last else ""
        return {SETUP_ERROR: message}, worker_name()


def cpu_fallback(device: str | None, gpus: list[str], cuda: bool) -> bool:
    """Whether a child that Ray gave ``gpus`` trains on the CPU: ``device`` is auto (or
    unset) and torch finds no CUDA where it runs (``resolve_device`` then picks the CPU)."""
    return bool(gpus) and not cuda and (device or "auto") == "auto"
