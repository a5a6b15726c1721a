"""Hand-computed values of known functions, and the operator table against its paper notation."""

from __future__ import annotations

import math

import pytest
import torch

from space import BINARY, UNARY, parse, to_module
from space.expression import Expression, X

POINTS = torch.tensor([-2.0, -0.5, 1.0, 3.0], dtype=torch.float64)

# Values computed by hand (math module, formulas written out), rounded to 1e-10.
HAND_VALUES = {
    "relu(x)": [0.0, 0.0, 1.0, 3.0],
    "x * sigmoid(x)": [-0.238405844, -0.1887703344, 0.7310585786, 2.8577223805],
    "max(x, sigmoid(x))": [0.119202922, 0.3775406688, 1.0, 3.0],
    "cos(x) - x": [1.5838531635, 1.3775825619, -0.4596976941, -3.9899924966],
    "min(x, sin(x))": [-2.0, -0.5, 0.8414709848, 0.1411200081],
    "square(atan(x)) - x": [3.2257782833, 0.7149691053, -0.3831497249, -1.4398846585],
    "max(x, tanh(x))": [-0.9640275801, -0.4621171573, 1.0, 3.0],
    "sinc(x) + x": [-1.5453512866, 0.4588510772, 1.8414709848, 3.0470400027],
    "x * square(asinh(x))": [-4.1681667704, -0.1157824103, 0.7768193999, 9.9202425753],
}
SWISH_BETA_2 = [-0.0359724199, -0.1344707107, 0.880797078, 2.9925821305]


@pytest.mark.parametrize(("text", "expected"), HAND_VALUES.items())
def test_hand_computed_values(text, expected):
    values = parse(text)(POINTS)
    assert values.tolist() == pytest.approx(expected, abs=1e-9)


def test_swish_with_beta_2_in_expression_and_module():
    swish = parse("x * sigmoid(beta * x)")
    assert swish(POINTS, 2.0).tolist() == pytest.approx(SWISH_BETA_2, abs=1e-9)
    module = to_module(swish).double()
    with torch.no_grad():
        module.beta.fill_(2.0)
    assert module(POINTS).tolist() == pytest.approx(SWISH_BETA_2, abs=1e-9)
    assert swish(POINTS, 1.0).tolist() == pytest.approx(HAND_VALUES["x * sigmoid(x)"], abs=1e-9)


def test_the_table_has_the_papers_25_unary_and_10_binary_functions():
    assert len(UNARY) == 25 and len(BINARY) == 10
    assert {op.name for op in UNARY.values() if op.uses_beta} == {"beta_mul", "beta_add", "beta"}
    assert {op.name for op in BINARY.values() if op.uses_beta} == {
        "gauss_dist", "laplace_dist", "beta_mix"}


def _paper_unary(name: str, x: float, b: float) -> float:
    eps = 1e-3
    return {
        "identity": x, "neg": -x, "abs": abs(x), "square": x * x, "cube": x ** 3,
        "sqrt": math.sqrt(max(x, 0) + eps), "beta_mul": b * x, "beta_add": x + b,
        "log_abs": math.log(abs(x) + eps), "exp": math.exp(x), "sin": math.sin(x),
        "cos": math.cos(x), "sinh": math.sinh(x), "cosh": math.cosh(x), "tanh": math.tanh(x),
        "asinh": math.asinh(x), "atan": math.atan(x), "sinc": math.sin(x) / x,
        "max0": max(x, 0), "min0": min(x, 0), "sigmoid": 1 / (1 + math.exp(-x)),
        "softplus": math.log(1 + math.exp(x)), "gauss": math.exp(-x * x), "erf": math.erf(x),
        "beta": b,
    }[name]


def _paper_binary(name: str, x1: float, x2: float, b: float) -> float:
    eps = 1e-3
    return {
        "add": x1 + x2, "mul": x1 * x2, "sub": x1 - x2, "div": x1 / (x2 + eps),
        "max": max(x1, x2), "min": min(x1, x2), "sigmoid_mul": x2 / (1 + math.exp(-x1)),
        "gauss_dist": math.exp(-b * (x1 - x2) ** 2), "laplace_dist": math.exp(-b * abs(x1 - x2)),
        "beta_mix": b * x1 + (1 - b) * x2,
    }[name]


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_templates_compute_the_paper_function(name):
    expr = Expression(UNARY[name].build(X))
    for x in (-1.7, 0.3, 2.2):
        value = float(expr(torch.tensor([x], dtype=torch.float64), 1.3)[0])
        assert value == pytest.approx(_paper_unary(name, x, 1.3), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_templates_compute_the_paper_function(name):
    from space.expression import Call

    expr = Expression(BINARY[name].build(X, Call("sin", (X,))))
    for x in (-1.7, 0.3, 2.2):
        value = float(expr(torch.tensor([x], dtype=torch.float64), 0.6)[0])
        expected = _paper_binary(name, x, math.sin(x), 0.6)
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_guards_keep_values_and_gradients_finite_at_zero():
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    for text in ("sqrt(x)", "log_abs(x)", "x / x", "sinc(x)"):
        out = parse(text)(x)
        (grad,) = torch.autograd.grad(out.sum(), x)
        assert torch.isfinite(out).all() and torch.isfinite(grad).all(), text
    assert parse("sinc(x)")(x).tolist() == [1.0, 1.0, 1.0]
