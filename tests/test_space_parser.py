"""The parser: the paper's functions, clear errors with columns, and hostile text."""

from __future__ import annotations

import builtins

import pytest
import sympy

from space import ParseError, parse
from space.parser import MAX_DEPTH, MAX_LENGTH, MAX_NODES

PAPER_TOP_8 = [
    "x * sigmoid(beta * x)",
    "max(x, sigmoid(x))",
    "cos(x) - x",
    "min(x, sin(x))",
    "square(atan(x)) - x",
    "max(x, tanh(x))",
    "sinc(x) + x",
    "x * square(asinh(x))",
]
OTHER_FORMS = [
    "relu(x)",
    "max(x, 0)",
    "x * sigmoid(1.702 * x)",  # GELU, sigmoid approximation
    "0.5 * x * (1 + erf(0.7071067811865476 * x))",  # GELU, exact
    "0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * cube(x))))",  # GELU, tanh form
    "β·x − x",
    "sigmoid_mul(x, x)",
    "beta_mix(x, sin(x))",
    "-(-x)",
    "2.5e-3 * x",
]


@pytest.mark.parametrize("text", PAPER_TOP_8 + OTHER_FORMS)
def test_known_functions_parse_and_round_trip(text):
    expr = parse(text)
    assert parse(str(expr)) == expr
    assert parse(expr.canonical).canonical == expr.canonical


def test_spellings_of_one_function_share_canonical_form_or_fingerprint():
    assert parse("sigmoid(x) * x").canonical == parse("x * sigmoid(x)").canonical
    assert parse("sigmoid_mul(x, x)").canonical == parse("x * sigmoid(x)").canonical
    assert parse("relu(x)").canonical == parse("max(0, x)").canonical
    assert parse("x + x").fingerprint == parse("2 * x").fingerprint
    assert parse("x + x").canonical != parse("2 * x").canonical
    assert parse("x * sigmoid(beta * x)").fingerprint != parse("x * sigmoid(x)").fingerprint


def test_sympy_form_of_swish():
    x, beta = sympy.symbols("x beta", real=True)
    swish = x / (1 + sympy.exp(-beta * x))
    assert sympy.simplify(parse("x * sigmoid(beta * x)").sympy() - swish) == 0


@pytest.mark.parametrize(("text", "message", "column"), [
    ("sigmod(x)", "unknown function 'sigmod' at column 1; did you mean 'sigmoid'?", 1),
    ("x * sigmod(x)", "did you mean 'sigmoid'?", 5),
    ("max(x)", "'max' takes 2 arguments, got 1", 1),
    ("x +", "found end of text", 4),
    ("(x", "expected ')'", 3),
    ("x ^ 2", "unexpected character '^'", 3),
    ("y", "unknown name 'y'", 1),
    ("x x", "unexpected 'x' after a complete expression", 3),
    ("", "empty expression", 1),
    ("x(1)", "'x' is not a function", 1),
])
def test_errors_name_the_problem_and_its_column(text, message, column):
    with pytest.raises(ParseError) as error:
        parse(text)
    assert message in str(error.value)
    assert error.value.column == column


HOSTILE = [
    "__import__('os').system('touch CANARY')",
    "x.__class__.__bases__",
    "(lambda: 1)()",
    "lambda x: x",
    "exec('1')",
    "eval('x')",
    "x; import os",
    "open('/etc/passwd').read()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "x" * 50_000,
    "(" * 10_000 + "x" + ")" * 10_000,
    "-" * 10_000 + "x",
    "sin(" * 5_000 + "x" + ")" * 5_000,
    "x+" * 600 + "x",
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: t[:30])
def test_hostile_text_is_rejected_without_side_effects(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    called = []

    def forbidden(*args, **kwargs):
        called.append(args)
        raise AssertionError("the parser must never evaluate text")

    error = None
    try:
        monkeypatch.setattr(builtins, "eval", forbidden)
        monkeypatch.setattr(builtins, "exec", forbidden)
        monkeypatch.setattr(sympy, "sympify", forbidden)
        monkeypatch.setattr(builtins, "__import__", forbidden)
        parse(text)
    except ParseError as raised:
        error = raised
    finally:
        monkeypatch.undo()
    assert isinstance(error, ParseError)
    assert not called
    assert not (tmp_path / "CANARY").exists()


def test_limits_are_stated_in_the_error():
    with pytest.raises(ParseError, match=f"the limit is {MAX_LENGTH}"):
        parse("x" * 50_000)
    with pytest.raises(ParseError, match=f"nesting deeper than {MAX_DEPTH}"):
        parse("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(ParseError, match=f"deeper than {MAX_DEPTH} levels"):
        parse("x + " * 499 + "x")
    with pytest.raises(ParseError, match=f"more than {MAX_NODES} nodes"):
        parse("+".join(["(" + "+".join(["x"] * 31) + ")"] * 9))
