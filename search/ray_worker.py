"""The Ray task of one child: what a Ray worker process imports and runs.

It lives in its own module so that a worker imports torch and the training code
when it loads the task's function, before the child starts, and not while the
child runs: ``ray.cancel`` (a time budget, Ctrl-C) interrupts a running child,
and a child interrupted in the middle of ``import torch`` would leave a half-
imported torch in a worker that Ray reuses for the next child. The driver
imports this module only when it makes a ``RayBackend``.
"""

from __future__ import annotations

from typing import Any

import torch

import evaluator.evaluate  # noqa: F401  (the built-in task's training code, loaded up front)
from search.child import run_child


def ray_child(target: str, expr_text: str, task: dict[str, Any], seed: int,
              device: str | None) -> tuple[dict[str, Any], str]:
    """One child on a Ray worker: plain data in, plain data out."""
    torch.set_num_threads(max(1, int(task.get("threads", 1))))
    return run_child(target, expr_text, task, seed, device)
