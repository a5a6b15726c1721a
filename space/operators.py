"""The operator table: the single source of truth for every function in the space.

Two layers, both plain data:

* ``PRIMITIVES`` are the functions of our expression language. Each entry holds
  its arity, how it prints (infix symbol or call name), its sympy form, its
  torch implementation, its torch source (for exported files), its LaTeX and the
  numeric guard it applies. The parser, every printer, the torch module and the
  exporter are derived from this table.
* ``UNARY`` and ``BINARY`` are the paper's 25 unary and 10 binary search
  functions (Ramachandran et al. 2017). Each is a *template* over primitives,
  e.g. ``sigmoid_mul(a, b) = sigmoid(a) * b``, so a searched function is an
  ordinary expression. The controller's vocabularies come from these tables.

Numeric decisions the paper leaves open (constants below, documented in README):

* ``EPS = 1e-3`` in ``log(|x| + eps)`` and ``x1 / (x2 + eps)``. Small enough to
  keep the paper's shapes, large enough that float32 training does not meet a
  1e7 spike the first time a denominator crosses zero.
* ``sqrt(x)`` is ``sqrt(max(x, 0) + eps)``: the paper leaves x < 0 undefined;
  we read it as 0 there, and the +eps keeps the gradient finite at 0 (it is
  infinite for a plain sqrt, which would turn every exact zero, e.g. after a
  ``max(x, 0)`` unit, into a NaN gradient).
* ``sinc(x) = sin(x) / x`` (unnormalised, as in sympy), 1 at x = 0.
* Everything else is the textbook function; overflow (exp, sinh, cosh, x^3 of
  large inputs) is left to the evaluator's divergence checks, not clamped,
  because clamping would change the function being searched.

The trainable ``beta`` is one parameter per activation function, shared by all
of its occurrences, per channel (shaped like ``nn.PReLU``'s weight).

``MACROS`` adds the named baselines (``lrelu``, ``prelu``, ``elu``, ``selu``,
``gelu``, ``swish1``, ``swish``; ``relu`` and ``softplus`` already exist). They
expand into ordinary trees over the primitives. PReLU's slope is a second
trainable leaf, ``alpha``, that only these macros use: ``UNARY`` and ``BINARY``
never build it, so the search space never contains it. The piecewise baselines
spell their positive part ``a - min(a, 0)`` rather than ``max(a, 0)``: the values
are identical, and the derivative at 0 then follows torch (F.leaky_relu,
nn.PReLU, F.elu and F.selu take the x <= 0 branch there), where
``max(a, 0) + c * min(a, 0)`` would count both branches (1 + c).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from space.lazy import LazyModule
from space.nodes import ALPHA, BETA, Call, Const, Node

# Imported on first use (space.lazy): parsing and printing need neither, so the table's
# sympy and torch columns are functions that look the library up when they are called.
sp = LazyModule("sympy", globals(), "sp")
torch = LazyModule("torch", globals(), "torch")
F = LazyModule("torch.nn.functional", globals(), "F")

EPS = 1e-3


def _eps_sympy() -> sp.Expr:
    """EPS as an exact sympy rational (1/1000)."""
    return sp.Rational(1, 1000)


@dataclass(frozen=True)
class Primitive:
    """One function of the expression language."""

    name: str
    arity: int
    sympy: Callable[..., sp.Expr]
    torch: Callable[..., torch.Tensor]
    source: str  # torch source template, {a} and {b} are argument sources
    latex: str  # LaTeX template, {a} and {b} are argument LaTeX
    infix: str | None = None  # printed as ``a + b`` (or prefix ``-a``) instead of a call
    precedence: int = 4  # 1: + -, 2: * /, 3: prefix -, 4: atoms and calls
    commutative: bool = False
    guard: str = ""  # the numeric guard applied, in words


def _sigmoid_sympy(a: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-a))


PRIMITIVES: dict[str, Primitive] = {
    p.name: p
    for p in [
        Primitive("add", 2, lambda a, b: a + b, lambda a, b: a + b, "({a} + {b})",
                  "{a} + {b}", infix="+", precedence=1, commutative=True),
        Primitive("sub", 2, lambda a, b: a - b, lambda a, b: a - b, "({a} - {b})",
                  "{a} - {b}", infix="-", precedence=1),
        Primitive("mul", 2, lambda a, b: a * b, lambda a, b: a * b, "({a} * {b})",
                  r"{a} \cdot {b}", infix="*", precedence=2, commutative=True),
        Primitive("div", 2, lambda a, b: a / (b + _eps_sympy()), lambda a, b: a / (b + EPS),
                  "({a} / ({b} + EPS))", r"\frac{{{a}}}{{{b} + \epsilon}}", infix="/",
                  precedence=2, guard="x1 / (x2 + eps)"),
        Primitive("neg", 1, lambda a: -a, lambda a: -a, "(-{a})", "-{a}", infix="-",
                  precedence=3),
        Primitive("abs", 1, lambda a: sp.Abs(a), lambda a: torch.abs(a), "torch.abs({a})",
                  r"\left|{a}\right|"),
        Primitive("square", 1, lambda a: a**2, lambda a: torch.square(a), "torch.square({a})",
                  r"\left({a}\right)^{{2}}"),
        Primitive("cube", 1, lambda a: a**3, lambda a: a * a * a, "({a}) ** 3",
                  r"\left({a}\right)^{{3}}"),
        Primitive("sqrt", 1, lambda a: sp.sqrt(sp.Max(a, 0) + _eps_sympy()),
                  lambda a: torch.sqrt(torch.clamp(a, min=0.0) + EPS),
                  "torch.sqrt(torch.clamp({a}, min=0.0) + EPS)",
                  r"\sqrt{{\max\left({a}, 0\right) + \epsilon}}",
                  guard="sqrt(max(x, 0) + eps)"),
        Primitive("log_abs", 1, lambda a: sp.log(sp.Abs(a) + _eps_sympy()),
                  lambda a: torch.log(torch.abs(a) + EPS), "torch.log(torch.abs({a}) + EPS)",
                  r"\log\left(\left|{a}\right| + \epsilon\right)", guard="log(|x| + eps)"),
        Primitive("exp", 1, lambda a: sp.exp(a), lambda a: torch.exp(a), "torch.exp({a})",
                  r"e^{{{a}}}"),
        Primitive("sin", 1, lambda a: sp.sin(a), lambda a: torch.sin(a), "torch.sin({a})",
                  r"\sin\left({a}\right)"),
        Primitive("cos", 1, lambda a: sp.cos(a), lambda a: torch.cos(a), "torch.cos({a})",
                  r"\cos\left({a}\right)"),
        Primitive("sinh", 1, lambda a: sp.sinh(a), lambda a: torch.sinh(a), "torch.sinh({a})",
                  r"\sinh\left({a}\right)"),
        Primitive("cosh", 1, lambda a: sp.cosh(a), lambda a: torch.cosh(a), "torch.cosh({a})",
                  r"\cosh\left({a}\right)"),
        Primitive("tanh", 1, lambda a: sp.tanh(a), lambda a: torch.tanh(a), "torch.tanh({a})",
                  r"\tanh\left({a}\right)"),
        Primitive("asinh", 1, lambda a: sp.asinh(a), lambda a: torch.asinh(a),
                  "torch.asinh({a})", r"\sinh^{{-1}}\left({a}\right)"),
        Primitive("atan", 1, lambda a: sp.atan(a), lambda a: torch.atan(a), "torch.atan({a})",
                  r"\tan^{{-1}}\left({a}\right)"),
        Primitive("sinc", 1, lambda a: sp.sinc(a), lambda a: torch.sinc(a / math.pi),
                  "torch.sinc({a} / math.pi)", r"\operatorname{{sinc}}\left({a}\right)",
                  guard="sin(x) / x, 1 at x = 0"),
        Primitive("sigmoid", 1, _sigmoid_sympy, lambda a: torch.sigmoid(a),
                  "torch.sigmoid({a})", r"\sigma\left({a}\right)"),
        Primitive("softplus", 1, lambda a: sp.log(1 + sp.exp(a)), lambda a: F.softplus(a),
                  "torch.nn.functional.softplus({a})", r"\log\left(1 + e^{{{a}}}\right)"),
        Primitive("erf", 1, lambda a: sp.erf(a), lambda a: torch.erf(a), "torch.erf({a})",
                  r"\operatorname{{erf}}\left({a}\right)"),
        Primitive("max", 2, lambda a, b: sp.Max(a, b), lambda a, b: torch.maximum(a, b),
                  "torch.maximum({a}, {b})", r"\max\left({a}, {b}\right)", commutative=True),
        Primitive("min", 2, lambda a, b: sp.Min(a, b), lambda a, b: torch.minimum(a, b),
                  "torch.minimum({a}, {b})", r"\min\left({a}, {b}\right)", commutative=True),
    ]
}


@dataclass(frozen=True)
class SearchOp:
    """One of the paper's search functions: a template over primitives."""

    name: str
    arity: int
    paper: str  # the paper's notation
    build: Callable[..., Node]
    uses_beta: bool = False


def _call(name: str, *args: Node) -> Node:
    return Call(name, tuple(args))


def _unary_primitive(name: str, paper: str) -> SearchOp:
    return SearchOp(name, 1, paper, lambda a: _call(name, a))


UNARY: dict[str, SearchOp] = {
    op.name: op
    for op in [
        SearchOp("identity", 1, "x", lambda a: a),
        _unary_primitive("neg", "-x"),
        _unary_primitive("abs", "|x|"),
        _unary_primitive("square", "x^2"),
        _unary_primitive("cube", "x^3"),
        _unary_primitive("sqrt", "sqrt(x)"),
        SearchOp("beta_mul", 1, "beta*x", lambda a: _call("mul", BETA, a), uses_beta=True),
        SearchOp("beta_add", 1, "x+beta", lambda a: _call("add", a, BETA), uses_beta=True),
        _unary_primitive("log_abs", "log(|x|+eps)"),
        _unary_primitive("exp", "exp(x)"),
        _unary_primitive("sin", "sin(x)"),
        _unary_primitive("cos", "cos(x)"),
        _unary_primitive("sinh", "sinh(x)"),
        _unary_primitive("cosh", "cosh(x)"),
        _unary_primitive("tanh", "tanh(x)"),
        _unary_primitive("asinh", "sinh^-1(x)"),
        _unary_primitive("atan", "tan^-1(x)"),
        _unary_primitive("sinc", "sinc(x)"),
        SearchOp("max0", 1, "max(x,0)", lambda a: _call("max", a, Const(0.0))),
        SearchOp("min0", 1, "min(x,0)", lambda a: _call("min", a, Const(0.0))),
        _unary_primitive("sigmoid", "sigma(x)"),
        _unary_primitive("softplus", "log(1+e^x)"),
        SearchOp("gauss", 1, "exp(-x^2)", lambda a: _call("exp", _call("neg", _call("square", a)))),
        _unary_primitive("erf", "erf(x)"),
        SearchOp("beta", 1, "beta", lambda a: BETA, uses_beta=True),
    ]
}

BINARY: dict[str, SearchOp] = {
    op.name: op
    for op in [
        SearchOp("add", 2, "x1+x2", lambda a, b: _call("add", a, b)),
        SearchOp("mul", 2, "x1*x2", lambda a, b: _call("mul", a, b)),
        SearchOp("sub", 2, "x1-x2", lambda a, b: _call("sub", a, b)),
        SearchOp("div", 2, "x1/(x2+eps)", lambda a, b: _call("div", a, b)),
        SearchOp("max", 2, "max(x1,x2)", lambda a, b: _call("max", a, b)),
        SearchOp("min", 2, "min(x1,x2)", lambda a, b: _call("min", a, b)),
        SearchOp("sigmoid_mul", 2, "sigma(x1)*x2",
                 lambda a, b: _call("mul", _call("sigmoid", a), b)),
        SearchOp("gauss_dist", 2, "exp(-beta(x1-x2)^2)",
                 lambda a, b: _call("exp", _call("neg", _call(
                     "mul", BETA, _call("square", _call("sub", a, b))))),
                 uses_beta=True),
        SearchOp("laplace_dist", 2, "exp(-beta|x1-x2|)",
                 lambda a, b: _call("exp", _call("neg", _call(
                     "mul", BETA, _call("abs", _call("sub", a, b))))),
                 uses_beta=True),
        SearchOp("beta_mix", 2, "beta*x1+(1-beta)*x2",
                 lambda a, b: _call("add", _call("mul", BETA, a),
                                    _call("mul", _call("sub", Const(1.0), BETA), b)),
                 uses_beta=True),
    ]
}

# Constants of the baselines, as torch defines them.
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
LRELU_SLOPE = 0.01  # F.leaky_relu's default negative slope
SQRT1_2 = math.sqrt(0.5)  # 1 / sqrt(2), in GELU's erf form


def _positive_part(a: Node) -> Node:
    """max(a, 0) spelled a - min(a, 0): same values, derivative 0 at a = 0."""
    return _call("sub", a, _call("min", a, Const(0.0)))


def _negative_part(a: Node) -> Node:
    """min(a, 0), derivative 1 at a = 0."""
    return _call("min", a, Const(0.0))


def _elu_negative(a: Node) -> Node:
    """exp(min(a, 0)) - 1: ELU's negative branch, exactly 0 for a >= 0."""
    return _call("sub", _call("exp", _negative_part(a)), Const(1.0))


def _lrelu(a: Node) -> Node:
    return _call("add", _positive_part(a), _call("mul", Const(LRELU_SLOPE), _negative_part(a)))


def _prelu(a: Node) -> Node:
    return _call("add", _positive_part(a), _call("mul", ALPHA, _negative_part(a)))


def _elu(a: Node) -> Node:
    return _call("add", _positive_part(a), _elu_negative(a))


def _selu(a: Node) -> Node:
    negative = _call("mul", Const(SELU_ALPHA), _elu_negative(a))
    return _call("mul", Const(SELU_LAMBDA), _call("add", _positive_part(a), negative))


def _gelu(a: Node) -> Node:
    cdf = _call("add", Const(1.0), _call("erf", _call("mul", Const(SQRT1_2), a)))
    return _call("mul", _call("mul", Const(0.5), a), cdf)


# Names that the parser accepts as calls beside primitives and search ops.
ALIASES: dict[str, str] = {"relu": "max0", "arcsinh": "asinh", "arctan": "atan", "silu": "swish1"}
MACROS: dict[str, SearchOp] = {
    op.name: op
    for op in [
        SearchOp("swish1", 1, "x*sigma(x)", lambda a: _call("mul", a, _call("sigmoid", a))),
        SearchOp("swish", 1, "x*sigma(beta*x)",
                 lambda a: _call("mul", a, _call("sigmoid", _call("mul", BETA, a))),
                 uses_beta=True),
        SearchOp("lrelu", 1, "max(x,0.01x)", _lrelu),
        SearchOp("prelu", 1, "max(x,0)+alpha*min(x,0)", _prelu),
        SearchOp("elu", 1, "max(x,0)+exp(min(x,0))-1", _elu),
        SearchOp("selu", 1, "lambda*(max(x,0)+a*(exp(min(x,0))-1))", _selu),
        SearchOp("gelu", 1, "x/2*(1+erf(x/sqrt(2)))", _gelu),
    ]
}

assert len(UNARY) == 25 and len(BINARY) == 10


def search_op(name: str, arity: int) -> SearchOp | None:
    """The search op or macro called ``name`` with ``arity`` arguments, if any."""
    name = ALIASES.get(name, name)
    table = UNARY if arity == 1 else BINARY
    return table.get(name) or (MACROS.get(name) if arity == 1 else None)


def callable_names() -> list[str]:
    """Every name the parser accepts as a function, for error hints."""
    names = set(PRIMITIVES) | set(UNARY) | set(BINARY) | set(ALIASES) | set(MACROS)
    return sorted(names - {"beta"})
