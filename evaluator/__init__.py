"""Child training: one activation function in, one validation-accuracy reward out.

Knows nothing of Ray, the results store or the search strategies.

    from evaluator import TaskConfig, evaluate
    result = evaluate("x * sigmoid(beta * x)", TaskConfig(steps=1000), seed=0)
"""

from evaluator.config import TaskConfig
from evaluator.data import (
    CIFAR10_MD5,
    CIFAR10_URL,
    DataError,
    Dataset,
    default_root,
    download_cifar10,
    find_dataset_dir,
    install_archive,
    load_dataset,
)
from evaluator.evaluate import activation_factory, evaluate, resolve_device
from evaluator.models import CifarResNet, resnet
from evaluator.prescreen import prescreen
from evaluator.result import STATUSES, Result

__all__ = [
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "STATUSES",
    "CifarResNet",
    "DataError",
    "Dataset",
    "Result",
    "TaskConfig",
    "activation_factory",
    "default_root",
    "download_cifar10",
    "evaluate",
    "find_dataset_dir",
    "install_archive",
    "load_dataset",
    "prescreen",
    "resnet",
    "resolve_device",
]
