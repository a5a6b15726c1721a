"""Child training: one activation function in, one reward out.

Knows nothing of Ray, the results store or the search strategies.

    from evaluator import TaskConfig, evaluate, run_task
    result = evaluate("x * sigmoid(beta * x)", TaskConfig(steps=1000), seed=0)
    result = run_task("x * sigmoid(beta * x)", {"name": "examples.digits_mlp:train"})

``run_task`` is what a worker calls: it dispatches on the task's ``name`` to
the built-in CIFAR ResNet task, a user's ``module:function`` or a reward table.

Every public name is imported from its module on first use (PEP 562), so the
config loader and the commands that only read results (``actsearch top``)
import the task classes without paying for torch.
"""

import importlib
import sys
import types
from typing import Any

_EXPORTS = {  # public name -> the module that defines it
    "BUILTIN_TASKS": "evaluator.config",
    "TaskConfig": "evaluator.config",
    "CIFAR10_MD5": "evaluator.data",
    "CIFAR10_URL": "evaluator.data",
    "CIFAR100_MD5": "evaluator.data",
    "CIFAR100_URL": "evaluator.data",
    "DataError": "evaluator.data",
    "Dataset": "evaluator.data",
    "default_root": "evaluator.data",
    "download_cifar10": "evaluator.data",
    "download_cifar100": "evaluator.data",
    "download_dataset": "evaluator.data",
    "find_dataset_dir": "evaluator.data",
    "install_archive": "evaluator.data",
    "load_dataset": "evaluator.data",
    "activation_factory": "evaluator.evaluate",
    "evaluate": "evaluator.evaluate",
    "resolve_device": "evaluator.evaluate",
    "CifarResNet": "evaluator.models",
    "resnet": "evaluator.models",
    "prescreen": "evaluator.prescreen",
    "STATUSES": "evaluator.result",
    "Result": "evaluator.result",
    "RewardTable": "evaluator.table",
    "TableError": "evaluator.table",
    "TableTask": "evaluator.table",
    "fidelity_label": "evaluator.tasks",
    "run_task": "evaluator.tasks",
    "task_class": "evaluator.tasks",
    "with_budget": "evaluator.tasks",
    "UserTask": "evaluator.usertask",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evaluator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``evaluator.evaluate`` and ``evaluator.prescreen`` are functions named like their
    modules; importing such a module must not put the module where the function is."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
