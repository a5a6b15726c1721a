"""Independent oracles for the space tests: sympy evaluated in float64 by ``math``."""

from __future__ import annotations

import math

import sympy as sp

from space.expression import BETA_SYMBOL, X_SYMBOL, Call, Node, evaluate


def _heaviside(v: float, h0: float = 0.5) -> float:
    return 1.0 if v > 0 else (0.0 if v < 0 else h0)


def _sign(v: float) -> float:
    return math.copysign(1.0, v) if v else 0.0


_MODULES = [{"Heaviside": _heaviside, "sign": _sign}, "math"]


def float64_function(expr: sp.Expr):
    """f(x, beta) -> float, or None where sympy's value is undefined or overflows."""
    f = sp.lambdify((X_SYMBOL, BETA_SYMBOL), expr, modules=_MODULES)

    def call(x: float, beta: float) -> float | None:
        try:
            value = complex(f(x, beta))
        except (ArithmeticError, ValueError, TypeError):
            return None
        if value.imag != 0 or not math.isfinite(value.real):
            return None
        return value.real

    return call


def largest_intermediate(node: Node, x, beta) -> float:
    """Largest |value| of any subtree at the point (where rounding error starts)."""
    import torch

    out = evaluate(node, x, beta)
    here = float(torch.as_tensor(out).abs().max()) if isinstance(out, torch.Tensor) else abs(out)
    if isinstance(node, Call):
        return max([here, *(largest_intermediate(a, x, beta) for a in node.args)])
    return here
