"""The fidelity key names how a child was trained; stores find their results by it.

A study started before a change of its format no longer recognised its own results,
so the format is frozen here: keys computed from fixed configs, written out. If one
of these fails, the change breaks every existing store; keep the old key (or give
stores a migration that rewrites ``evaluations.fidelity``) instead of updating the
expected strings.
"""

from __future__ import annotations

from pathlib import Path

from evaluator import TableTask, TaskConfig, UserTask
from search.config import load_config
from search.launch import task_for_children
from search.runner import fidelity_key

ROOT = Path(__file__).resolve().parent.parent


def test_the_default_cifar_task_key_is_frozen():
    assert fidelity_key(TaskConfig().to_dict()) == "resnet20w16-cifar10-10000steps-4a7dc192"


def test_the_quickstart_key_is_frozen():
    task = task_for_children(load_config(ROOT / "configs" / "quickstart.yaml"))
    assert fidelity_key(task) == "resnet8w8-cifar10-300steps-19f9cdf6"


def test_user_and_table_task_keys_are_frozen():
    user = UserTask(name="examples.digits_mlp:train", fidelity={"steps": 300},
                    options={"hidden": 128})
    assert fidelity_key(user.to_dict()) == "examples.digits_mlp:train[steps=300]-6427aa79"
    assert fidelity_key(TableTask(path="rewards.csv").to_dict()) == "table:rewards.csv-4b34319a"


def test_execution_only_fields_do_not_change_the_key():
    base = fidelity_key(TaskConfig().to_dict())
    moved = TaskConfig(device="cpu", threads=4, data_dir="/elsewhere", compile="never",
                       time_limit_s=60.0, log_every=10, amp=False, channels_last=False)
    assert fidelity_key(moved.to_dict()) == base
    assert fidelity_key(TaskConfig(lr=0.05).to_dict()) != base  # the recipe does
