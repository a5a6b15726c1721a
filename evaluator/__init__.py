"""Child training: one activation function in, one reward out.

Knows nothing of Ray, the results store or the search strategies.

    from evaluator import TaskConfig, evaluate, run_task
    result = evaluate("x * sigmoid(beta * x)", TaskConfig(steps=1000), seed=0)
    result = run_task("x * sigmoid(beta * x)", {"name": "examples.digits_mlp:train"})

``run_task`` is what a worker calls: it dispatches on the task's ``name`` to
the built-in CIFAR ResNet task, a user's ``module:function`` or a reward table.
"""

from evaluator.config import BUILTIN_TASKS, TaskConfig
from evaluator.data import (
    CIFAR10_MD5,
    CIFAR10_URL,
    CIFAR100_MD5,
    CIFAR100_URL,
    DataError,
    Dataset,
    default_root,
    download_cifar10,
    download_cifar100,
    download_dataset,
    find_dataset_dir,
    install_archive,
    load_dataset,
)
from evaluator.evaluate import activation_factory, evaluate, resolve_device
from evaluator.models import CifarResNet, resnet
from evaluator.prescreen import prescreen
from evaluator.result import STATUSES, Result
from evaluator.table import RewardTable, TableError, TableTask
from evaluator.tasks import fidelity_label, run_task, task_class, with_budget
from evaluator.usertask import UserTask

__all__ = [
    "BUILTIN_TASKS",
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "CIFAR100_MD5",
    "CIFAR100_URL",
    "STATUSES",
    "CifarResNet",
    "DataError",
    "Dataset",
    "Result",
    "RewardTable",
    "TableError",
    "TableTask",
    "TaskConfig",
    "UserTask",
    "activation_factory",
    "default_root",
    "download_cifar10",
    "download_cifar100",
    "download_dataset",
    "evaluate",
    "fidelity_label",
    "find_dataset_dir",
    "install_archive",
    "load_dataset",
    "prescreen",
    "resnet",
    "resolve_device",
    "run_task",
    "task_class",
    "with_budget",
]
