"""TaskConfig validation, the learning-rate schedule and the compile policy."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from evaluator import TaskConfig
from evaluator.compiling import DEFAULT_GAIN, decide, gain_for, resolve_mode
from evaluator.train import lr_at


def test_defaults_follow_the_paper():
    task = TaskConfig()
    assert (task.depth, task.width, task.steps, task.dataset) == (20, 16, 10_000, "cifar10")
    assert task.validation_size == 5000 and task.blocks_per_stage == 3


def test_dict_round_trip_and_unknown_keys():
    task = TaskConfig(steps=500, threads=2, time_limit_s=60.0)
    assert TaskConfig.from_dict(task.to_dict()) == task
    assert TaskConfig(**task.to_dict()) == task
    with pytest.raises(ValueError, match="stepz"):
        TaskConfig.from_dict({"stepz": 3})
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.steps = 3  # type: ignore[misc]


@pytest.mark.parametrize("bad", [dict(depth=21), dict(compile="sometimes"), dict(device="tpu"),
                                 dict(steps=0), dict(dataset="mnist"), dict(warmup_fraction=1.0),
                                 dict(train_subset=0), dict(time_limit_s=0.0),
                                 dict(compile_gain=1.5)])
def test_invalid_values_are_rejected(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TaskConfig(**bad)


def test_warmup_then_cosine():
    task = TaskConfig(steps=1000, lr=0.1, warmup_fraction=0.1)
    assert lr_at(0, task) == pytest.approx(0.001)
    assert lr_at(99, task) == pytest.approx(0.1)
    assert lr_at(100, task) == pytest.approx(0.1)
    assert lr_at(550, task) == pytest.approx(0.05)
    assert lr_at(999, task) < 1e-5
    values = [lr_at(s, task) for s in range(100, 1000)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_compile_policy():
    assert decide("never", 10**6, 1.0, 30, 0.35).compile is False
    assert decide("always", 1, 1e-6, 30, 0.35).compile is True
    assert decide("auto", 10_000, None, 30, 0.35).compile is False  # not timed yet
    # CPU-like: 1 s eager steps, 200 steps left -> 70 s saved > 30 s compile.
    assert decide("auto", 200, 1.0, 30, 0.35).compile is True
    # GPU-like: 5 ms steps, 10K steps -> 17.5 s saved < 30 s compile.
    decision = decide("auto", 10_000, 0.005, 30, 0.35)
    assert decision.compile is False and "17.5 s <= 30 s" in decision.reason


def test_compile_defaults_per_device():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert gain_for(None, cpu) == DEFAULT_GAIN["cpu"]
    assert gain_for(None, cuda) == DEFAULT_GAIN["cuda"]
    assert gain_for(0.1, cuda) == 0.1
    assert resolve_mode("auto", cuda) == "reduce-overhead"
    assert resolve_mode("auto", cpu) == "default"
    assert resolve_mode("max-autotune", cpu) == "max-autotune"
    # The paper's 10K-step child on an H100 (15 ms eager steps) pays off a 30 s compile.
    assert decide("auto", 10_000, 0.015, 30, gain_for(None, cuda)).compile is True
