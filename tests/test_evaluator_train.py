"""evaluate() end to end on tiny synthetic CIFAR: learns, diverges, times out, never raises."""

from __future__ import annotations

import pytest
import torch

from evaluator import DataError, Result, TaskConfig, evaluate
from evaluator import compiling as compiling_mod
from tests.evaluator_fixtures import tiny_task, write_cifar10


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root, train_per_class=40, test_per_class=10)
    return root


def test_tiny_child_learns_well_above_chance(data_dir):
    result = evaluate("x * sigmoid(beta * x)", tiny_task(data_dir), seed=0)
    assert result.status == "ok", result.error
    assert result.reward == result.val_accuracy >= 0.6  # chance is 0.1
    loss = result.curves["train_loss"]
    assert len(loss) == 6 and loss[-1] < loss[0] / 2
    assert result.curves["val_accuracy"][-1] == result.val_accuracy
    assert result.info["train_images"] == 300 and result.seconds > 0
    betas = result.info["beta"]  # one list per activation site, one value per channel
    assert len(betas) >= 3 and all(len(site) >= 1 for site in betas)
    assert any(abs(v - 1.0) > 1e-4 for site in betas for v in site)  # trained away from init
    assert "alpha" not in result.info


def test_labels_matter(data_dir, monkeypatch):
    """The oracle above can fail: with shuffled labels the same child stays near chance."""
    from evaluator import data as data_mod

    real = data_mod._read_files

    def shuffled(*args):
        split = real(*args)
        perm = torch.randperm(len(split.labels), generator=torch.Generator().manual_seed(0))
        return data_mod.Split(split.images, split.labels[perm.numpy()])

    data_mod._load_cached.cache_clear()
    monkeypatch.setattr(data_mod, "_read_files", shuffled)
    try:
        result = evaluate("x * sigmoid(beta * x)", tiny_task(data_dir), seed=0)
    finally:
        data_mod._load_cached.cache_clear()
    assert result.status == "ok" and result.val_accuracy < 0.35


def test_same_seed_same_run(data_dir):
    task = tiny_task(data_dir, steps=20)
    a, b = evaluate("relu(x)", task, seed=5), evaluate("relu(x)", task, seed=5)
    c = evaluate("relu(x)", task, seed=6)
    assert a.curves == b.curves and a.val_accuracy == b.val_accuracy
    assert a.curves["train_loss"] != c.curves["train_loss"]


def test_exploding_function_ends_diverged_not_raised(data_dir):
    result = evaluate("exp(8 * x)", tiny_task(data_dir), seed=0)  # passes the pre-screen
    assert result.status == "diverged" and result.reward == 0.0
    assert result.step is not None and 1 <= result.step <= 60 and result.val_accuracy is None
    assert "non-finite" in result.error


def test_divergence_from_a_huge_learning_rate_reports_the_step(data_dir):
    task = tiny_task(data_dir, lr=1e4, warmup_fraction=0.0, diverged_reward=-1.0)
    result = evaluate("relu(x)", task, seed=0)
    assert result.status == "diverged" and result.reward == -1.0
    assert 1 < result.step < 60 and result.info["steps_done"] == result.step


def test_invalid_function_is_scored_without_training(data_dir):
    result = evaluate("2 * x + 1", tiny_task(data_dir, invalid_reward=-0.5))
    assert (result.status, result.reward) == ("invalid", -0.5)
    assert result.error.startswith("linear") and result.seconds < 1.0


def test_unparseable_text_is_an_error_result(data_dir):
    result = evaluate("x * sigmoid(", tiny_task(data_dir))
    assert result.status == "error" and "column" in result.error and result.reward == 0.0


def test_time_limit(data_dir):
    result = evaluate("relu(x)", tiny_task(data_dir, steps=10_000, time_limit_s=0.5))
    assert result.status == "timeout" and result.step < 10_000 and result.val_accuracy is None


def test_exception_inside_the_child_is_an_error_result(data_dir):
    result = evaluate("relu(x)", tiny_task(data_dir, batch_size=10_000))
    assert result.status == "error" and "batch_size" in result.error


def test_compile_failure_falls_back_to_eager(data_dir, monkeypatch):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("backend exploded")

    monkeypatch.setattr(compiling_mod, "compile_model", lambda model, mode: Broken())
    result = evaluate("relu(x)", tiny_task(data_dir, steps=20, compile="always"))
    assert result.status == "ok" and result.info["compiled"] is False
    assert "backend exploded" in result.info["compile_error"]


def test_auto_compile_decides_after_probing(data_dir, monkeypatch):
    compiled = []
    monkeypatch.setattr(compiling_mod, "compile_model",
                        lambda model, mode: compiled.append(mode) or model)
    cheap = tiny_task(data_dir, steps=20, compile="auto", compile_cost_s=1e6)
    assert evaluate("relu(x)", cheap).info["compiled"] is False and not compiled
    worth = tiny_task(data_dir, steps=20, compile="auto", compile_cost_s=1e-9)
    result = evaluate("relu(x)", worth)
    assert result.info["compiled"] is True and compiled == ["default"]
    assert result.info["compile_decision"].startswith("auto: 14 steps")


def test_threads_are_restored(data_dir):
    before = torch.get_num_threads()
    evaluate("relu(x)", tiny_task(data_dir, steps=2, threads=max(1, before + 1)))
    assert torch.get_num_threads() == before


def test_missing_data_raises_the_setup_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        evaluate("relu(x)", tiny_task(tmp_path / "empty"))


def test_task_as_plain_dict_and_result_type(data_dir):
    result = evaluate("relu(x)", tiny_task(data_dir, steps=5).to_dict())
    assert isinstance(result, Result) and result.status == "ok"
    assert isinstance(TaskConfig.from_dict(tiny_task(data_dir).to_dict()), TaskConfig)
