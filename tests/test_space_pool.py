"""A pool of given functions is a space: every strategy searches it unchanged."""

from __future__ import annotations

import pytest

from controller import NAMES, StrategyConfig, make_strategy
from space import FunctionPool, SpaceError, parse, read_pool

TEXTS = ["relu(x)", "x * sigmoid(beta * x)", "tanh(x)", "max(x, sin(x))", "cos(x) - x"]


def test_tokens_are_indices_into_the_functions():
    pool = FunctionPool(TEXTS)
    assert pool.size == 5 and len(pool.slots) == 1 and pool.slots[0].kind == "function"
    assert [pool.decode(t) for _, t in pool.enumerate()] == [parse(t) for t in TEXTS]
    assert pool.tokens_at(3) == (3,) and pool.position_of((3,)) == 3
    with pytest.raises(SpaceError, match=r"one token in \[0, 5\)"):
        pool.decode((5,))


@pytest.mark.parametrize("name", NAMES)
def test_every_strategy_proposes_pool_members(name):
    pool = FunctionPool(TEXTS)
    strategy = make_strategy(StrategyConfig(name=name, seed=1, batch_size=2,
                                            population_size=3, sample_size=2), pool)
    seen = set()
    for _ in range(6):
        asked = strategy.ask(2)
        assert all(pool.is_valid(t) for t in asked)
        seen.update(asked)
        strategy.tell([(t, float(t[0]) / 10) for t in asked])
        if strategy.exhausted:
            break
    assert seen


def test_exhaustive_trains_the_pool_in_its_order():
    strategy = make_strategy(StrategyConfig(name="exhaustive"), FunctionPool(TEXTS))
    assert strategy.ask(10) == [(i,) for i in range(5)]
    assert strategy.exhausted


def test_a_pool_file_is_read_with_the_parser(tmp_path):
    path = tmp_path / "pool.txt"
    path.write_text("# candidates from the literature\nrelu(x)\n\nswish(x)  # trainable beta\n")
    assert read_pool(path) == [parse("relu(x)").text, parse("swish(x)").text]


@pytest.mark.parametrize("content, message", [
    ("relu(x)\nsigmod(x)\n", r"pool.txt:2: 'sigmod\(x\)' does not parse"),
    ("__import__('os')\n", "pool.txt:1:"),
    ("# nothing\n\n", "lists no expression"),
])
def test_bad_pool_files_are_one_line(tmp_path, content, message):
    path = tmp_path / "pool.txt"
    path.write_text(content)
    with pytest.raises(SpaceError, match=message) as error:
        read_pool(path)
    assert "\n" not in str(error.value)


def test_a_missing_pool_file_is_one_line(tmp_path):
    with pytest.raises(SpaceError, match="cannot read the pool"):
        read_pool(tmp_path / "absent.txt")
