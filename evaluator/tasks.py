"""Tasks by name: the one entry point a worker calls, ``run_task``.

A task is plain data (a dict) whose ``name`` picks how a candidate is scored:

=================================  =============  ======================================
name                               class          what it does
=================================  =============  ======================================
``cifar10-resnet`` (the default)   ``TaskConfig``  trains a CIFAR ResNet (``evaluate``)
``cifar100-resnet``                ``TaskConfig``  the same on CIFAR-100 (fine labels)
``package.module:function``        ``UserTask``    calls your function (``evaluator.usertask``)
``table``                          ``TableTask``   replays a CSV of rewards (``evaluator.table``)
=================================  =============  ======================================

    from evaluator import run_task
    run_task("x * sigmoid(beta * x)", {"name": "examples.digits_mlp:train",
                                       "fidelity": {"steps": 300}}, seed=0)

``task_class(name)`` gives the dataclass a config loader builds for a name
(each has ``to_dict``/``from_dict``); ``with_budget`` and ``fidelity_label``
know where each kind keeps its training budget.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from evaluator.config import BUILTIN_TASKS, TaskConfig
from evaluator.result import Result
from evaluator.table import TableTask, run_table_task
from evaluator.usertask import UserTask, is_target, run_user_task

DEFAULT_TASK = "cifar10-resnet"


def task_class(name: str) -> type:
    """The dataclass of tasks called ``name``; ``ValueError`` listing the choices if none."""
    if name in BUILTIN_TASKS:
        return TaskConfig
    if name == "table":
        return TableTask
    if is_target(name):
        return UserTask
    raise ValueError(f"task name {name!r} is not a built-in task ({', '.join(BUILTIN_TASKS)}, "
                     "table) nor a user function 'package.module:function'")


def task_name(task: dict[str, Any]) -> str:
    """The task's name (a dict without one is the default CIFAR-10 task)."""
    return task.get("name") or DEFAULT_TASK


def as_task(task: dict[str, Any] | TaskConfig | UserTask | TableTask
            ) -> TaskConfig | UserTask | TableTask:
    """The typed task for plain data (a task object is returned as it is)."""
    if not isinstance(task, dict):
        return task
    return task_class(task_name(task)).from_dict(task)


def run_task(expr_text: str, task: dict[str, Any] | TaskConfig | UserTask | TableTask,
             seed: int = 0, device: str | None = None) -> Result:
    """Score candidate ``expr_text`` on ``task``: what a worker runs for one child.

    Never raises for the candidate's own failure (that is a ``Result``); raises
    for a broken setup: an unknown task name or field (``ValueError``), data or a
    table that cannot be read, a user module that cannot be imported.
    """
    typed = as_task(task)
    if isinstance(typed, TableTask):
        return run_table_task(expr_text, typed, seed)
    if isinstance(typed, UserTask):
        return run_user_task(expr_text, typed, seed, device)
    from evaluator.evaluate import evaluate  # torch: imported where children train

    return evaluate(expr_text, typed, seed, device)


def with_budget(task: dict[str, Any], budget: int) -> dict[str, Any]:
    """A copy of ``task`` trained at fidelity ``budget`` (what successive halving sets).

    CIFAR tasks: ``steps = budget``; user tasks: ``fidelity[budget_key] = budget``;
    table tasks replay fixed rewards and come back unchanged (a copy).
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be an integer >= 1, got {budget!r}")
    typed = as_task(task)
    if isinstance(typed, UserTask):
        changed = dataclasses.replace(typed, fidelity={**typed.fidelity,
                                                       typed.budget_key: budget})
    elif isinstance(typed, TaskConfig):
        changed = dataclasses.replace(typed, steps=budget)
    else:
        changed = typed
    return changed.to_dict()


def fidelity_label(task: dict[str, Any]) -> str:
    """A short human name for how children are trained, e.g. ``resnet20w16-cifar10-1000steps``.

    User tasks: ``module:function[key=value,...]`` (sorted fidelity items);
    table tasks: ``table:<file name>``.
    """
    typed = as_task(task)
    if isinstance(typed, TableTask):
        return f"table:{Path(typed.path).name}"
    if isinstance(typed, UserTask):
        items = ",".join(f"{k}={v}" for k, v in sorted(typed.fidelity.items()))
        return f"{typed.name}[{items}]" if items else typed.name
    label = f"resnet{typed.depth}w{typed.width}-{typed.dataset}-{typed.steps}steps"
    if typed.train_subset is not None:
        label += f"-{typed.train_subset}images"
    if typed.image_size != 32:
        label += f"-{typed.image_size}px"
    return label
