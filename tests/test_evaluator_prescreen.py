"""The pre-screen rejects constant, linear and non-finite functions and passes the paper's best.

Shape is judged at several values of beta (beta is trainable and moves), so a
function linear or constant only at beta = 1 is kept (issue 16).
"""

from __future__ import annotations

import pytest

from evaluator import prescreen
from evaluator.prescreen import SHAPE_BETAS
from space import SearchSpace, parse
from space.enumerate import unique_functions

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


@pytest.mark.parametrize("text", [
    "max(x, beta * x)",           # the identity at beta = 1, a learnable leaky ReLU elsewhere
    "beta_mix(x, max0(x))",       # beta*x + (1 - beta)*relu(x): PReLU's idea
    "beta * x + (1 - beta) * tanh(x)",
    "max(sin(x), beta)",          # constant at beta = 1 (sin <= 1), not at 0.5
])
def test_keeps_functions_linear_or_constant_only_at_the_initial_beta(text):
    expr = parse(text)
    assert expr.uses_beta
    assert prescreen(expr) is None


@pytest.mark.parametrize("text,reason", [
    ("beta * x + (1 - beta) * x", "linear"),   # the identity at every beta
    ("x * beta + beta", "linear"),
    ("beta / beta", "constant"),
])
def test_rejects_what_is_linear_or_constant_at_every_beta(text, reason):
    result = prescreen(parse(text))
    assert result is not None and result.startswith(reason), result
    assert "every beta tried" in result


@pytest.mark.parametrize("text", ["cosh(x) / cosh(x)", "exp(x) / exp(x)",
                                  "sigmoid(x) / sigmoid(x)", "softplus(x) / softplus(x)"])
def test_rejects_functions_constant_but_for_an_epsilon(text):
    """x / (x + eps) of a positive x is 1 - eps/(x + eps): constant relative to its scale."""
    result = prescreen(parse(text))
    assert result is not None and result.startswith("constant within"), result


def test_a_small_function_is_not_constant():
    """The constant test is relative to the output's own scale, not an absolute one."""
    assert prescreen(parse("tanh(x) * 0.001")) is None


def test_non_finite_is_judged_at_the_initial_beta():
    # exp(beta * x^2) style growth: finite at beta = -1 only.
    text = "exp(-(beta * square(x - -x)))"  # gauss_dist(x, -x) = exp(-4 beta x^2)
    assert prescreen(parse(text), beta_init=1.0) is None
    result = prescreen(parse(text), beta_init=-1.0)
    assert result is not None and result.startswith("non-finite output"), result


def test_the_initial_beta_comes_first():
    assert SHAPE_BETAS[0] == 1.0 and len(set(SHAPE_BETAS)) == len(SHAPE_BETAS)


def test_rejected_count_in_the_one_unit_space():
    """The README's figure: how many of the 4,052 distinct one-unit functions are rejected."""
    reasons = [prescreen(expr) for _, _, expr in unique_functions(SearchSpace(1))]
    rejected = [r for r in reasons if r is not None]
    assert len(reasons) == 4052
    assert 80 <= len(rejected) <= 120, len(rejected)


@pytest.mark.parametrize("text, shown", [
    ("x + x", "linear (f(x) = 2*x)"), ("-x - x", "linear (f(x) = -2*x)"),
    ("max(x, x)", "linear (f(x) = x)"), ("max(-x, -x)", "linear (f(x) = -x)")])
def test_reasons_print_rounded_coefficients_without_float_noise(text: str, shown: str):
    """Issue 22: `linear (f(x) = -2*x + -2.084e-19)`; terms below float32 noise are dropped."""
    assert prescreen(parse(text), 1.0) == shown


def test_coefficients_keep_four_significant_digits_and_their_sign():
    from evaluator.prescreen import _linear_text

    assert _linear_text(0.123456, -1e-3) == "0.1235*x - 0.001"
    assert _linear_text(2.5, 1.0) == "2.5*x + 1" and _linear_text(0.0, -0.0) == "0"
