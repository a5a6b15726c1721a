"""The config loader: every shipped config loads; every mistake is one line naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import StrategyConfig
from evaluator import TableTask, TaskConfig, UserTask
from search.config import (
    BackendConfig,
    BudgetConfig,
    ConfigError,
    HalvingConfig,
    RunConfig,
    SpaceConfig,
    config_from_dict,
    config_from_text,
    load_config,
    replace,
    to_yaml,
)
from search.launch import LaunchError, check_stop_rule

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
COMPARE_ONLY = {"baselines_cpu.yaml"}  # a task and backend for `actsearch compare --config`
SEARCH_CONFIGS = [p for p in CONFIGS if p.name not in COMPARE_ONLY] + sorted(
    (ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "benchmarks/landscapes").glob("*.yaml"))


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


@pytest.mark.parametrize("text", ["", "# only a comment\n\n", "{}", "---\n"])
def test_a_config_without_keys_is_refused(text):
    with pytest.raises(ConfigError, match=r"^the config has no settings \(the file is empty or "
                                          r"only comments\); start from configs/quickstart"):
        config_from_text(text)


def test_the_python_api_keeps_its_defaults():
    assert config_from_dict({}) == RunConfig()


@pytest.mark.parametrize("path", SEARCH_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_search_config_loads_and_has_a_stop_rule(path):
    check_stop_rule(load_config(path))  # LaunchError if nothing would stop it


def test_a_search_with_no_stop_rule_is_refused_unless_the_config_says_so():
    for text in ("strategy: {name: reinforce}", "strategy: {name: evolution}\nhalving: "
                 "{rungs: [1, 3]}", "budget: {checkpoint_every: 5}"):
        with pytest.raises(LaunchError, match=r"^budget: nothing stops this search .*"
                                              r"budget\.unlimited: true"):
            check_stop_rule(config_from_text(text))
    for text in ("budget: {unlimited: true}", "budget: {max_seconds: 60}",
                 "budget: {max_proposals: 100}", "strategy: {name: exhaustive}"):
        check_stop_rule(config_from_text(text))
    with pytest.raises(ConfigError, match=r"^budget\.unlimited: true means no limit"):
        config_from_text("budget: {unlimited: true, max_evaluations: 10}")


@pytest.mark.parametrize(("text", "message"), [  # what the issue tried, and a few more
    ("task: {lr: 1e999}", "task.lr: must be in (0, 100], got inf"),
    ("task: {lr: .inf}", "task.lr: must be in (0, 100], got inf"),
    ("task: {lr: .nan}", "task.lr: must be in (0, 100], got nan"),
    ("task: {lr: -1}", "task.lr: must be in (0, 100], got -1.0"),
    ("task: {weight_decay: .nan}", "task.weight_decay: must be in [0, 1), got nan"),
    ("task: {diverged_reward: .nan}", "task.diverged_reward: must be a finite number, got nan"),
    ("task: {steps: 0}", "task.steps: must be in [1, 10000000], got 0"),
    ("strategy: {lr: .nan}", "strategy.lr: must be in [0, 10], got nan"),
    ("strategy: {ema_decay: 1.0}", "strategy.ema_decay: must be in [0, 1), got 1.0"),
    ("backend: {workers: 100000}", "backend.workers: must be in [1, 10000], got 100000"),
    ("backend: {num_cpus: .inf}", "backend.num_cpus: must be in (0, 1024], got inf"),
    ("budget: {max_seconds: .nan}", "budget.max_seconds: must be in (0, 31536000], got nan"),
    ("halving: {rungs: [100, 1e999]}", "halving.rungs[1]: expected an integer, got '1e999'"),
    ("task: {name: 'examples.digits_mlp:train', threads: 0}",
     "task.threads: must be in [1, 1024], got 0"),
    ("task: {name: table, path: t.csv, missing_reward: .inf}",
     "task.missing_reward: must be a finite number, got inf"),
])
def test_numbers_out_of_their_declared_range_are_one_line(text, message):
    with pytest.raises(ConfigError) as caught:
        config_from_text(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(("text", "message"), [
    ("seeds: [0, 99999999999999999999]",
     "seeds[1]: must be in [0, 4294967295], got 99999999999999999999"),
    ("seeds: [-1]", "seeds[0]: must be in [0, 4294967295], got -1"),
    ("strategy: {seed: 4294967296}", "strategy.seed: must be in [0, 4294967295], got 4294967296"),
    ("seeds_per_candidate: 100000000000000",  # refused before range(n) is built
     "seeds_per_candidate: must be in [1, 1000], got 100000000000000"),
    (f"seeds: [{'9' * 5000}]", "not a usable YAML value"),
    (f"task: {{split_seed: {'9' * 100}}}", f"task.split_seed: must be in [0, 4294967295], "
                                           f"got {'9' * 40}... (100 characters)"),
])
def test_seeds_that_do_not_fit_are_refused_where_they_enter(text, message):
    with pytest.raises(ConfigError) as caught:
        config_from_text(text)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def _numeric_fields(cls):
    """(field name, type hint) of every int/float field, bare, optional or in a tuple."""
    import dataclasses
    import typing

    def numeric(hint) -> bool:
        return hint in (int, float) or any(numeric(a) for a in typing.get_args(hint))
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls)
            if hints[f.name] is not bool and numeric(hints[f.name])]


@pytest.mark.parametrize("cls", [SpaceConfig, BudgetConfig, BackendConfig, HalvingConfig,
                                 RunConfig, StrategyConfig, TaskConfig, UserTask, TableTask],
                         ids=lambda c: c.__name__)
def test_every_number_of_every_section_declares_a_range_its_default_meets(cls):
    from search.ranges import interval, problem

    for name, _ in _numeric_fields(cls):
        assert name in cls.RANGES, f"{cls.__name__}.{name} declares no range"
        interval(cls.RANGES[name])  # parses
        default = cls.__dataclass_fields__[name].default
        if isinstance(default, (int, float)):
            assert problem(cls.RANGES[name], default) is None, (cls.__name__, name, default)
    assert set(cls.RANGES) <= {name for name, _ in _numeric_fields(cls)}  # no stale entries


def test_overrides_from_the_command_line_are_range_checked():
    config = config_from_text("budget: {max_evaluations: 5}")
    with pytest.raises(ConfigError, match=r"^backend\.workers: must be in \[1, 10000\]"):
        replace(config, "backend", workers=10**6)


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The issue's 695-byte config: 9 levels of 9 aliases under backend.runtime_env."""
    lines = ["backend:", "  runtime_env:", "    env_vars:", '      a0: &a0 ["lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"      a{level}: &a{level} [{refs}]")
    lines.append(f"      bomb: [{', '.join([f'*a{levels - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_before_anything_is_built():
    text = _alias_bomb()
    assert len(text) < 1000  # small on disk; 9**9 values expanded
    with pytest.raises(ConfigError, match=r"^the config expands to more than 110,000 values"):
        config_from_text(text)


def test_a_config_file_too_large_is_refused(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\n" + "# padding\n" * 120_000)
    with pytest.raises(ConfigError, match=r"huge\.yaml: the config is 1,200,008 bytes, more "):
        load_config(path)


@pytest.mark.parametrize(("text", "message"), [
    ("strategy: {lr: fast}", "strategy.lr: expected a number, got 'fast'"),
    ("strategy: {lrr: 0.1}", "strategy.lrr: unknown key (did you mean 'lr'?)"),
    ("budgett: {}", "budgett: unknown key (did you mean 'budget'?)"),
    ("task: {steps: 1.5}", "task.steps: expected an integer, got 1.5"),
    ("task: {augment: 'yes'}", "task.augment: expected true or false, got 'yes'"),
    ("backend: {kind: slurm}", "backend.kind: expected one of 'ray' | 'inline', got 'slurm'"),
    ("backend: {workers: 0}", "backend.workers: must be in [1, 10000], got 0"),
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
