"""Tasks by name: dispatch, user tasks (contract and faults), budgets and labels."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest
import torch

from evaluator import (
    Result,
    TableTask,
    TaskConfig,
    UserTask,
    fidelity_label,
    run_task,
    task_class,
    with_budget,
)
from tests.evaluator_fixtures import tiny_task, write_cifar10, write_cifar100

DIGITS = "examples.digits_mlp:train"
SWISH = "x * sigmoid(beta * x)"


def user(name: str, **fields) -> dict:
    return UserTask(name=f"tests.user_tasks:{name}", **fields).to_dict()


# -- names and classes ------------------------------------------------------------------


def test_task_class_by_name():
    assert task_class("cifar10-resnet") is TaskConfig
    assert task_class("cifar100-resnet") is TaskConfig
    assert task_class("table") is TableTask
    assert task_class("examples.digits_mlp:train") is UserTask
    with pytest.raises(ValueError, match="cifar10-resnet, cifar100-resnet, table") as info:
        task_class("mnist-resnet")
    assert "\n" not in str(info.value) and "module:function" in str(info.value)


def test_builtin_name_fixes_the_dataset():
    assert TaskConfig(name="cifar100-resnet").dataset == "cifar100"
    assert TaskConfig(dataset="cifar100").name == "cifar100-resnet"
    assert (TaskConfig().name, TaskConfig().dataset) == ("cifar10-resnet", "cifar10")
    with pytest.raises(ValueError) as info:
        TaskConfig.from_dict({"name": "cifar100-resnet", "dataset": "cifar10"})
    assert "cifar100-resnet" in str(info.value) and "'cifar10'" in str(info.value)
    with pytest.raises(ValueError, match="run_task"):
        TaskConfig(name="table")
    task = TaskConfig(name="cifar100-resnet", steps=7)
    assert TaskConfig.from_dict(task.to_dict()) == task


def test_task_dataclasses_round_trip_and_refuse_unknown_keys(tmp_path):
    for task in (UserTask(name=DIGITS, fidelity={"steps": 5}, options={"hidden": 8}),
                 TableTask(path=str(tmp_path / "t.csv"), cost="seconds")):
        assert type(task).from_dict(json.loads(json.dumps(task.to_dict()))) == task
        with pytest.raises(dataclasses.FrozenInstanceError):
            task.name = "x"  # type: ignore[misc]
        with pytest.raises(ValueError, match="colour"):
            type(task).from_dict({**task.to_dict(), "colour": 1})


@pytest.mark.parametrize("bad, word", [
    (dict(name="examples.digits_mlp"), "package.module:function"),
    (dict(options={"seed": 3}), "seed"),
    (dict(options={"not an identifier": 3}), "not an identifier"),
    (dict(device="tpu"), "device"),
    (dict(threads=0), "threads"),
    (dict(reward=""), "reward"),
])
def test_user_task_values_are_checked(bad, word):
    with pytest.raises(ValueError, match=word) as info:
        UserTask(**{"name": DIGITS, **bad})
    assert "\n" not in str(info.value)


def test_user_task_keeps_its_own_copy_of_the_dicts():
    fidelity = {"steps": 5}
    task = UserTask(name=DIGITS, fidelity=fidelity)
    fidelity["steps"] = 500
    assert task.fidelity == {"steps": 5}


# -- dispatch ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root, train_per_class=20, test_per_class=2)
    write_cifar100(root, train_per_class=4, test_per_class=1)
    return root


def test_run_task_defaults_to_cifar10(cifar_root):
    task = tiny_task(cifar_root, steps=3, validation_size=50).to_dict()
    del task["name"], task["dataset"]
    result = run_task("relu(x)", task)
    assert result.status == "ok", result.error
    assert (result.info["dataset"], result.info["num_classes"]) == ("cifar10", 10)


def test_cifar100_end_to_end(cifar_root):
    task = {**tiny_task(cifar_root, steps=3).to_dict(), "name": "cifar100-resnet"}
    del task["dataset"]
    result = run_task(SWISH, task, seed=0)
    assert result.status == "ok", result.error
    assert (result.info["dataset"], result.info["num_classes"]) == ("cifar100", 100)
    assert result.info["train_images"] == 300  # 400 minus one validation image per class
    ten = run_task(SWISH, {**task, "name": "cifar10-resnet"}, seed=0)
    head_in = 4 * task["width"]  # the last stage's channels feed the linear head
    assert result.info["params"] - ten.info["params"] == 90 * (head_in + 1)


def test_evaluate_still_takes_a_config_or_dict(cifar_root):
    from evaluator import evaluate

    task = tiny_task(cifar_root, steps=2, validation_size=50)
    assert evaluate("relu(x)", task).status == "ok"
    assert evaluate("relu(x)", task.to_dict()).status == "ok"


# -- user tasks: the worked example -----------------------------------------------------


def test_digits_example_reward_is_the_metric():
    task = UserTask(name=DIGITS, fidelity={"steps": 60}, options={"hidden": 32, "layers": 2},
                    device="cpu")  # pinned: "auto" would pick a GPU where there is one
    result = run_task(SWISH, task.to_dict(), seed=0)
    assert result.status == "ok", result.error
    metrics = result.info["metrics"]
    assert result.reward == result.val_accuracy == metrics["val_accuracy"]
    assert 0.5 < result.reward <= 1.0  # chance is 0.1
    assert result.step == 60 and result.info["device"] == "cpu"
    again = run_task(SWISH, task.to_dict(), seed=0)
    assert again.info["metrics"] == metrics  # same seed, same run


def test_minimising_a_metric_negates_it():
    task = UserTask(name=DIGITS, reward="val_loss", maximize=False,
                    fidelity={"steps": 30}, options={"hidden": 16, "layers": 1})
    result = run_task("relu(x)", task.to_dict())
    assert result.status == "ok"
    assert result.reward == -result.info["metrics"]["val_loss"] < 0
    assert result.val_accuracy == result.info["metrics"]["val_loss"]


def test_digits_divergence_is_reported():
    task = UserTask(name=DIGITS, fidelity={"steps": 30}, options={"layers": 6, "hidden": 64})
    result = run_task("exp(x)", task.to_dict(), seed=0)
    assert result.status == "diverged" and "val_accuracy" in result.error


# -- user tasks: the contract -----------------------------------------------------------


def test_user_function_gets_the_promised_arguments():
    before = torch.get_num_threads()
    state = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()
    task = user("echo", fidelity={"steps": 12}, options={"scale": 2.0}, beta_init=0.25,
                threads=max(1, before + 1), device="cpu")
    result = run_task(SWISH, task, seed=3)
    assert result.status == "ok", result.error
    m = result.info["metrics"]
    assert (m["beta_shape"], m["default_beta_shape"], m["beta_value"]) == (7.0, 1.0, 0.25)
    assert m["fresh"] == 1.0 and m["steps"] == 12.0 and m["options"] == 0.0
    assert m["threads"] == before + 1 and m["cpu"] == 1.0 and m["seed"] == 3.0
    assert m["tensor_metric"] == 0.25  # a 0-d tensor counts as a number
    assert result.reward == m["val_accuracy"] and result.step == 12
    # Seeded: the same seed draws the same numbers, another seed others.
    same, other = run_task(SWISH, task, seed=3), run_task(SWISH, task, seed=4)
    for key in ("torch_draw", "numpy_draw", "python_draw"):
        assert same.info["metrics"][key] == m[key] != other.info["metrics"][key]
    # Nothing leaks out: threads and the global generators are as they were.
    assert torch.get_num_threads() == before
    assert random.getstate() == state[0]
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert torch.equal(torch.get_rng_state(), state[2])


def test_exception_inside_the_function_is_an_error_result():
    result = run_task(SWISH, user("raises", error_reward=-1.0))
    assert (result.status, result.reward) == ("error", -1.0)
    assert "RuntimeError: the user's training blew up" in result.error
    assert "tests/user_tasks.py:" in result.error and "in _boom" in result.error
    assert result.error.count(" in ") == 3 and "\n" not in result.error


def test_missing_reward_names_the_metric_and_the_keys():
    result = run_task(SWISH, user("no_reward"))
    assert result.status == "error"
    assert "'val_accuracy'" in result.error and "'accuracy'" in result.error
    assert "'loss'" in result.error and result.info["metrics"] == {"accuracy": 0.5, "loss": 1.0}


def test_nan_reward_is_diverged():
    result = run_task(SWISH, user("nan_reward", diverged_reward=-2.0))
    assert (result.status, result.reward) == ("diverged", -2.0)
    assert "val_accuracy" in result.error and "nan" in result.error
    back = Result.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))
    assert back.info["metrics"]["val_loss"] == float("inf")


def test_a_value_that_is_not_a_mapping_is_an_error():
    result = run_task(SWISH, user("not_a_mapping"))
    assert result.status == "error" and "float" in result.error and "mapping" in result.error


def test_candidate_failures_before_the_call():
    assert run_task("x * sigmoid(", user("raises")).status == "error"  # unparseable
    invalid = run_task("2 * x + 1", user("raises", invalid_reward=-0.5))  # never called
    assert (invalid.status, invalid.reward) == ("invalid", -0.5)
    assert invalid.error.startswith("linear")


def test_unimportable_module_or_missing_function_raises():
    with pytest.raises(ImportError, match="no_such_module") as info:
        run_task(SWISH, {"name": "tests.no_such_module:train"})
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="no function 'nope'"):
        run_task(SWISH, {"name": "tests.user_tasks:nope"})


def test_unknown_task_name_raises():
    with pytest.raises(ValueError, match="not a built-in task"):
        run_task(SWISH, {"name": "imagenet"})


# -- budgets and labels ----------------------------------------------------------------


def test_with_budget_for_each_kind(tmp_path):
    cifar = TaskConfig(name="cifar100-resnet", steps=10_000).to_dict()
    assert with_budget(cifar, 500)["steps"] == 500 and cifar["steps"] == 10_000
    assert with_budget({}, 300)["steps"] == 300
    digits = UserTask(name=DIGITS, fidelity={"steps": 300, "hidden": 8}).to_dict()
    assert with_budget(digits, 50)["fidelity"] == {"steps": 50, "hidden": 8}
    assert digits["fidelity"]["steps"] == 300  # the original is untouched
    epochs = UserTask(name=DIGITS, budget_key="epochs").to_dict()
    assert with_budget(epochs, 4)["fidelity"] == {"epochs": 4}
    table = TableTask(path=str(tmp_path / "r.csv")).to_dict()
    assert with_budget(table, 9) == table
    with pytest.raises(ValueError, match="budget"):
        with_budget(cifar, 0)


def test_fidelity_labels():
    assert fidelity_label({"steps": 1000}) == "resnet20w16-cifar10-1000steps"
    assert fidelity_label(TaskConfig(name="cifar100-resnet", depth=8, width=8, steps=60,
                                     image_size=16).to_dict()) == "resnet8w8-cifar100-60steps-16px"
    digits = UserTask(name=DIGITS, fidelity={"steps": 300, "hidden": 64}).to_dict()
    assert fidelity_label(digits) == "examples.digits_mlp:train[hidden=64,steps=300]"
    assert fidelity_label(UserTask(name=DIGITS).to_dict()) == DIGITS
    table = {"name": "table", "path": "/data/runs/rewards.csv"}
    assert fidelity_label(table) == "table:rewards.csv"


def test_user_task_reports_the_learned_beta_of_every_module_it_made():
    """As the CIFAR task does, so `export` and `plot` find the trained beta."""
    result = run_task(SWISH, user("echo", beta_init=0.25))
    assert result.status == "ok", result.error
    assert result.info["beta"] == [[0.25] * 7, [0.25]]  # echo makes a 7-channel and a 1-channel
    assert "beta" not in run_task("x * sigmoid(x)", user("echo")).info
