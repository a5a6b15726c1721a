"""The pre-screen rejects constant, linear and non-finite functions and passes the paper's best."""

from __future__ import annotations

import pytest

from evaluator import prescreen
from space import parse

PAPER_TOP = ["x * sigmoid(beta * x)", "max(x, sigmoid(x))", "cos(x) - x", "min(x, sin(x))",
             "square(atan(x)) - x", "max(x, tanh(x))", "sinc(x) + x", "x * square(asinh(x))"]


@pytest.mark.parametrize("text", [*PAPER_TOP, "relu(x)", "x * sigmoid(x)", "sqrt(x)",
                                  "log_abs(x)", "x / x", "tanh(x)"])
def test_passes_useful_functions(text):
    assert prescreen(parse(text)) is None


@pytest.mark.parametrize("text,reason", [
    ("x", "linear"), ("-x", "linear"), ("2 * x + 1", "linear"), ("beta * x", "linear"),
    ("x + beta", "linear"), ("sigmoid(x) * 0 + 3", "constant"), ("beta", "constant"),
    ("x - x", "constant"), ("exp(exp(x))", "non-finite output"),
    ("cosh(cosh(x))", "non-finite output"), ("exp(square(x))", "non-finite output"),
])
def test_rejects_with_a_reason(text, reason):
    result = prescreen(parse(text))
    assert result is not None and result.startswith(reason), result
