"""The Ray task of one child: what a Ray worker process imports and runs.

It lives in its own module so that a worker imports torch and the training code
when it loads the task's function, before the child starts, and not while the
child runs: ``ray.cancel`` (a time budget, Ctrl-C) interrupts a running child,
and a child interrupted in the middle of ``import torch`` would leave a half-
imported torch in a worker that Ray reuses for the next child. The driver
imports this module only when it makes a ``RayBackend``.

The task is a generator of two items: first where it runs (the node, the GPUs
Ray assigned it, whether torch sees CUDA there), so the driver knows which
children a lost node takes with it; then the child's result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ray
import torch

import evaluator.evaluate  # noqa: F401  (the built-in task's training code, loaded up front)
from search.child import run_child


def placement() -> dict[str, Any]:
    """Where this task runs: Ray's node id, the GPU ids Ray assigned it (it sets
    ``CUDA_VISIBLE_DEVICES`` to them, so ``cuda`` is that GPU) and whether torch finds CUDA."""
    gpus = [str(gpu) for gpu in ray.get_gpu_ids()]
    return {"node": ray.get_runtime_context().get_node_id(), "gpus": gpus,
            "cuda": bool(gpus) and torch.cuda.is_available()}


def ray_child(target: str, expr_text: str, task: dict[str, Any], seed: int,
              device: str | None) -> Iterator[Any]:
    """One child on a Ray worker: plain data in, its placement and then its result out."""
    yield placement()
    torch.set_num_threads(max(1, int(task.get("threads", 1))))
    yield run_child(target, expr_text, task, seed, device)


def ray_child_once(target: str, expr_text: str, task: dict[str, Any], seed: int,
                   device: str | None) -> tuple[dict[str, Any], tuple[dict[str, Any], str]]:
    """``ray_child`` as one return, (placement, (result, worker)), for Ray Client, which
    runs no generator tasks: the driver learns where a child ran only when it ends."""
    where = placement()
    torch.set_num_threads(max(1, int(task.get("threads", 1))))
    return where, run_child(target, expr_text, task, seed, device)
