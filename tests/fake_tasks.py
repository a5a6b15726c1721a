"""Evaluate functions for tests: same signature as ``evaluator.evaluate``, no training.

Named in a config as ``evaluate: tests.fake_tasks:<name>``. The reward of
``instant`` is a deterministic function of the expression's values, so
strategies have a landscape to climb and reruns agree. Faults are driven by
files, so they work across Ray worker processes:

* ``FAKE_TASK_LOG``: each call appends ``pid expr`` as one line (who trained what);
* ``FAKE_TASK_STEPS_LOG``: each call of ``instant`` appends ``steps<TAB>expr<TAB>seed``;
* ``FAKE_TASK_CRASH_ONCE``: the first call that finds this marker file missing
  creates it and kills its own process (``os._exit``), as a dying worker would.
* ``FAKE_TASK_SIGTERM_AT``: ``sigterm_ray_style`` sends SIGTERM to its own process
  when it is asked to train the expression named there.
"""

from __future__ import annotations

import math
import os
import signal
import time

import torch

from evaluator import DataError, Result, TaskConfig
from space import parse

_POINTS = torch.linspace(-3.0, 3.0, 61)
_SWISH = _POINTS * torch.sigmoid(_POINTS)


def _log(expr_text: str) -> None:
    path = os.environ.get("FAKE_TASK_LOG")
    if path:
        with open(path, "a") as log:
            log.write(f"{os.getpid()} {expr_text}\n")


def score(expr_text: str) -> float:
    """A reward in (0, 1]: closeness of f to Swish on [-3, 3] (NaN-safe)."""
    with torch.no_grad():
        values = parse(expr_text)(_POINTS, 1.0)
    error = torch.nan_to_num((values - _SWISH).abs(), nan=1e3, posinf=1e3, neginf=1e3)
    return float(1.0 / (1.0 + error.mean()))


def instant(expr_text: str, task: TaskConfig, seed: int = 0, device: str | None = None) -> Result:
    """An immediate ``ok`` with a deterministic reward."""
    _log(expr_text)
    steps_log = os.environ.get("FAKE_TASK_STEPS_LOG")
    if steps_log:
        with open(steps_log, "a") as log:
            log.write(f"{task.steps}\t{expr_text}\t{seed}\n")
    reward = score(expr_text)
    info = {"beta": [[0.5, 1.5], [2.0, 2.5]]} if parse(expr_text).uses_beta else {}
    return Result(status="ok", reward=reward, val_accuracy=reward, step=task.steps,
                  curves={"step": [float(task.steps)], "val_accuracy": [reward]},
                  seconds=0.0, expr=expr_text, seed=seed, info=info)


def slow(expr_text: str, task: TaskConfig, seed: int = 0, device: str | None = None) -> Result:
    """Like ``instant`` after a wait of ``FAKE_TASK_SECONDS`` (default 0.2 s)."""
    time.sleep(float(os.environ.get("FAKE_TASK_SECONDS", "0.2")))
    return instant(expr_text, task, seed, device)


def sleepy(expr_text: str, task: TaskConfig, seed: int = 0, device: str | None = None) -> Result:
    """Hangs for a minute: only a hard timeout ends it early."""
    time.sleep(60.0)
    return instant(expr_text, task, seed, device)


def crash_once(expr_text: str, task: TaskConfig, seed: int = 0,
               device: str | None = None) -> Result:
    """Kill the worker process on the first call (marker file), then behave as ``instant``."""
    marker = os.environ["FAKE_TASK_CRASH_ONCE"]
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return instant(expr_text, task, seed, device)
    os.write(fd, f"{os.getpid()} {expr_text}\n".encode())
    os.close(fd)
    os._exit(1)  # the worker process dies mid-child, no result, no exception


def nan(expr_text: str, task: TaskConfig, seed: int = 0, device: str | None = None) -> Result:
    """Every child 'trains' to a NaN loss: ``diverged`` with NaN curves."""
    _log(expr_text)
    return Result(status="diverged", reward=task.diverged_reward, step=3,
                  curves={"step": [1.0, 2.0, 3.0], "train_loss": [2.3, math.inf, math.nan]},
                  error="non-finite loss at step 3", expr=expr_text, seed=seed)


def nan_ok(expr_text: str, task: TaskConfig, seed: int = 0, device: str | None = None) -> Result:
    """A misbehaving evaluator: status ``ok`` with a NaN reward (the runner must cope)."""
    _log(expr_text)
    return Result(status="ok", reward=math.nan, val_accuracy=math.nan, expr=expr_text, seed=seed)


def failing(expr_text: str, task: TaskConfig, seed: int = 0, device: str | None = None) -> Result:
    """Every child ends in an ``error`` result (a crash inside training)."""
    _log(expr_text)
    return Result(status="error", reward=task.error_reward, error="fake crash in training",
                  expr=expr_text, seed=seed)


def broken(expr_text: str, task: TaskConfig, seed: int = 0, device: str | None = None) -> Result:
    """Raises, as evaluate does when its setup is broken (data set missing on a node),
    until ``FAKE_TASK_FIXED`` is set; then behaves as ``instant``."""
    if not os.environ.get("FAKE_TASK_FIXED"):
        raise DataError("cifar10 not found on this node (fake)")
    return instant(expr_text, task, seed, device)


def mixed(expr_text: str, task: TaskConfig, seed: int = 0, device: str | None = None) -> Result:
    """``diverged`` for functions that use tanh; otherwise ``instant``'s reward + 0.01 x seed
    (so seeds differ and a table's std is not 0)."""
    if "tanh" in expr_text:
        return nan(expr_text, task, seed, device)
    result = instant(expr_text, task, seed, device)
    reward = result.reward + 0.01 * seed
    return Result(status="ok", reward=reward, val_accuracy=reward, step=task.steps,
                  curves=result.curves, seconds=1.5, expr=expr_text, seed=seed, info=result.info)


def sigterm_ray_style(expr_text: str, task: TaskConfig, seed: int = 0,
                      device: str | None = None) -> Result:
    """SIGTERM to this process while training ``FAKE_TASK_SIGTERM_AT``; whatever the
    handler raises comes out as a plain KeyboardInterrupt, as it does from ``ray.wait``."""
    if expr_text == os.environ.get("FAKE_TASK_SIGTERM_AT"):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5.0)  # the handler runs here
        except KeyboardInterrupt:
            raise KeyboardInterrupt from None
    return instant(expr_text, task, seed, device)
