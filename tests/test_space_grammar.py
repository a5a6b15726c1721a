"""Search spaces: exact size, masks, decode, resumable enumeration, de-duplication."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from space import SearchSpace, SpaceError, parse
from space.enumerate import count, unique_functions

SMALL = {"unary": ["identity", "neg", "abs", "sigmoid", "beta"], "binary": ["add", "mul", "max"]}


def _brute_force_size(space: SearchSpace) -> int:
    return sum(1 for tokens in itertools.product(*(range(len(s.choices)) for s in space.slots))
               if space.is_valid(tokens))


@pytest.mark.parametrize("units", [1, 2, 3])
def test_size_closed_form_matches_brute_force(units):
    space = SearchSpace(units, unary=["identity", "sin"], binary=["add", "mul"])
    assert space.size == _brute_force_size(space)
    assert len(list(space.enumerate())) == space.size


def test_full_spaces_have_the_papers_sizes():
    assert SearchSpace(1).size == 25 * 25 * 10
    assert SearchSpace(2).size == 6250 * (4 * 25 * 25 * 10)


def test_slots_follow_the_papers_order_and_restrict_inputs():
    space = SearchSpace(3, **SMALL)
    assert [s.role for s in space.slots[:5]] == ["input1", "input2", "unary1", "unary2", "binary"]
    assert space.slots[0].choices == ("x", "u0", "u1")
    assert [s.allowed for s in space.slots if s.kind == "input"] == [
        (0,), (0,), (0, 1), (0, 1), (0, 1, 2), (0, 1, 2)]


def test_decode_builds_units_on_earlier_outputs():
    space = SearchSpace(2, **SMALL)
    unary, binary = space.unary.index, space.binary.index
    first = [0, 0, unary("identity"), unary("sigmoid"), binary("mul")]  # x * sigmoid(x)
    second = [1, 0, unary("identity"), unary("neg"), binary("max")]  # max(u0, -x)
    assert space.decode(first + second) == parse("max(x * sigmoid(x), -x)")
    assert space.describe(first + second) == (
        "[x x identity sigmoid mul] [u0 x identity neg max]")


def test_invalid_tokens_are_refused_with_the_slot():
    space = SearchSpace(2, **SMALL)
    with pytest.raises(SpaceError, match="slot 0"):
        space.decode([1] + [0] * 9)  # unit 0 cannot read u0
    with pytest.raises(SpaceError, match="expected 10 tokens"):
        space.decode([0] * 5)


def test_unknown_operator_is_one_line_with_a_suggestion():
    with pytest.raises(SpaceError, match="unknown unary operator 'sigmod'; did you mean 'sigmoid'"):
        SearchSpace(1, unary=["sigmod"])
    with pytest.raises(SpaceError, match="unknown binary operator"):
        SearchSpace(1, binary=["xor"])


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 3), st.data())
def test_positions_and_tokens_are_inverse(units, data):
    space = SearchSpace(units, **SMALL)
    position = data.draw(st.integers(0, space.size - 1))
    tokens = space.tokens_at(position)
    assert space.is_valid(tokens)
    assert space.position_of(tokens) == position
    assert next(space.enumerate(position)) == (position, tokens)


def test_enumeration_resumes_exactly():
    space = SearchSpace(2, unary=["identity", "neg", "sin"], binary=["add", "max"])
    whole = list(space.enumerate())
    assert whole[137:] == list(space.enumerate(137))
    unique = list(unique_functions(space))
    resumed = list(unique_functions(space, start=unique[20][0] + 1))
    assert unique[21:] == resumed


def test_deduplication_counts_on_one_unit():
    space = SearchSpace(1, unary=["identity", "neg"], binary=["add", "sub", "mul"])
    stats = count(space)
    # x+x, x+-x, -x+x, -x+-x, x-x, x--x, -x-x, -x--x, x*x, x*-x, -x*x, -x*-x
    assert stats.raw == 12
    assert stats.canonical == 10  # x+-x and -x+x sort to one form; so do x*-x and -x*x
    # functions: 2x, 0, -2x, x^2, -x^2
    assert stats.fingerprints == 5
