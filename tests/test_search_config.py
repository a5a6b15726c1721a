"""The config loader: every shipped config loads; every mistake is one line naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import StrategyConfig
from evaluator import TaskConfig
from search.config import (
    ConfigError,
    RunConfig,
    config_from_text,
    load_config,
    replace,
    to_yaml,
)

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


def test_shipped_configs_exist():
    names = {p.name for p in CONFIGS}
    assert {"quickstart.yaml", "paper_exhaustive.yaml", "paper_rnn.yaml",
            "paper_ppo.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads_and_round_trips(path):
    config = load_config(path)
    assert isinstance(config.strategy, StrategyConfig)
    assert isinstance(config.task, TaskConfig)
    assert config_from_text(to_yaml(config)) == config


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_key_of_a_shipped_config_has_a_comment(path):
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not stripped.endswith(":"):
            assert "#" in line, f"{path.name}:{number} has no comment: {line!r}"


def test_empty_config_is_all_defaults():
    assert config_from_text("") == RunConfig()


@pytest.mark.parametrize(("text", "message"), [
    ("strategy: {lr: fast}", "strategy.lr: expected a number, got 'fast'"),
    ("strategy: {lrr: 0.1}", "strategy.lrr: unknown key (did you mean 'lr'?)"),
    ("budgett: {}", "budgett: unknown key (did you mean 'budget'?)"),
    ("task: {steps: 1.5}", "task.steps: expected an integer, got 1.5"),
    ("task: {augment: 'yes'}", "task.augment: expected true or false, got 'yes'"),
    ("backend: {kind: slurm}", "backend.kind: expected one of 'ray' | 'inline', got 'slurm'"),
    ("backend: {workers: 0}", "backend.workers: must be >= 1"),
    ("space: {unary: [sin, sinn]}", "space.unary: unknown unary operator 'sinn'"),
    ("space: {binary: add}", "space.binary: expected a list, got 'add'"),
    ("space: {unary: [sin, 3]}", "space.unary[1]: expected a string, got 3"),
    ("seeds: [0, 0]", "seeds: lists a seed twice"),
    ("evaluate: 'evaluator.evaluate'", "evaluate: must look like 'module.path:function'"),
    ("task: {depth: 9}", "task: invalid TaskConfig: depth 9 is not 6n+2"),
    ("strategy: {name: bayes}", "strategy: strategy.name 'bayes' is not one of"),
    ("strategy: 3", "strategy: expected a mapping of keys, got 3"),
    ("[1, 2]", "expected a mapping of keys"),
    ("task: {steps: [1, 2}", "not valid YAML"),
])
def test_mistakes_are_one_line_with_the_key_path(text, message):
    with pytest.raises(ConfigError) as caught:
        config_from_text(text)
    text_of_error = str(caught.value)
    assert message in text_of_error
    assert "\n" not in text_of_error


def test_file_name_prefixes_the_message(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("strategy:\n  lr: fast\n")
    with pytest.raises(ConfigError, match=r"^.*mine\.yaml: strategy\.lr: expected a number"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_config(tmp_path / "missing.yaml")


def test_exponent_without_dot_is_a_number():
    assert config_from_text("strategy: {lr: 1e-3}").strategy.lr == 0.001


def test_lists_become_tuples_and_overrides_are_checked():
    config = config_from_text("seeds: [0, 1]\nspace: {unary: [sin, cos]}")
    assert config.seeds == (0, 1)
    assert config.space.unary == ("sin", "cos")
    assert replace(config, "backend", workers=4).backend.workers == 4
    with pytest.raises(ConfigError, match=r"backend\.workers"):
        replace(config, "backend", workers=0)


@pytest.mark.parametrize("name", ["quickstart.yaml", "quickstart_halving.yaml"])
def test_the_demos_have_no_wall_clock_limit_and_a_budget_that_covers_their_space(name):
    """A busy machine made the quickstart's old 3600 s limit cut it short: a demo's budget
    is its space, so it finishes however slow its children are."""
    from search.launch import build_space, space_functions

    config = load_config(Path(__file__).resolve().parent.parent / "configs" / name)
    assert config.budget.max_seconds is None
    functions = space_functions(config, build_space(config))
    assert functions is not None and functions <= config.budget.max_evaluations
