"""Expressions in readable math as plain Unicode text: ``x·σ(βx)``, ``max(x, sin(x))``.

One visitor over the expression tree (``space.nodes``), for pages that cannot
typeset LaTeX (a static HTML report without MathJax). The numeric guards are
left out of the notation, as the paper writes them, and stated once beside it
(``GUARDS``): √u is √(max(u, 0) + ε), log|u| is log(|u| + ε) and u/v is
u/(v + ε), with ε = 10⁻³. The text is display only; the parseable text
(``Expression.text``) is what a user copies.
"""

from __future__ import annotations

from space import Expression
from space.nodes import ALPHA, BETA, Call, Const, Node, Var, X
from space.operators import PRIMITIVES

GUARDS = "√u = √(max(u, 0) + ε), log|u| = log(|u| + ε), u/v = u/(v + ε), ε = 10⁻³"

_LEAVES = {BETA: "β", ALPHA: "α"}
_NAMED = {"sigmoid": "σ"}
_POWERS = {"square": "²", "cube": "³"}
_FUNCTIONS = ("sin", "cos", "sinh", "cosh", "tanh", "asinh", "atan", "sinc", "sigmoid",
              "softplus", "erf")  # named one-argument functions: f²(x) is written so
_ATOM = 4  # precedence of leaves and calls (PRIMITIVES: 1 + -, 2 * /, 3 prefix -)


def unicode_math(expr: Expression) -> str:
    """The expression as one line of Unicode math."""
    return _render(expr.root)


def _precedence(node: Node) -> int:
    if isinstance(node, Call) and node.op not in _POWERS and node.op != "abs":
        return PRIMITIVES[node.op].precedence
    return _ATOM


def _wrap(node: Node, below: int, sign: bool = False) -> str:
    """The node's text, in parentheses when it binds looser than ``below`` (or, with
    ``sign``, when it starts with a minus: x − (−y), not x − −y)."""
    text = _render(node)
    negated = isinstance(node, Call) and node.op == "neg"
    return f"({text})" if _precedence(node) < below or (sign and negated) else text


def _power(base: Node, mark: str) -> str:
    """x², |x|², sin²(x) (the usual notation for a named function), max(x, 0)², (x + 1)²."""
    if isinstance(base, Call) and PRIMITIVES[base.op].infix is None and base.op in _FUNCTIONS:
        name = _NAMED.get(base.op, base.op)
        return f"{name}{mark}({', '.join(_render(a) for a in base.args)})"
    text = _render(base)
    bare = isinstance(base, (Var, Const)) or (isinstance(base, Call) and base.op in
                                             ("abs", "max", "min"))
    return f"{text}{mark}" if bare else f"({text}){mark}"


def _is_coefficient(node: Node) -> bool:
    return isinstance(node, Const) or node in _LEAVES


def _render(node: Node) -> str:
    if isinstance(node, Var):
        return _LEAVES.get(node, node.name)
    if isinstance(node, Const):
        return f"{node.value:.6g}"  # display only: the parseable text keeps every digit
    op, args = node.op, node.args
    if op in _POWERS:
        return _power(args[0], _POWERS[op])
    if op == "abs":
        return f"|{_render(args[0])}|"
    if op == "log_abs":  # log(|u| + ε), see GUARDS
        return f"log|{_render(args[0])}|"
    if op == "sqrt":
        (a,) = args
        return f"√{_render(a)}" if isinstance(a, (Var, Const)) else f"√({_render(a)})"
    if op == "neg":
        return f"−{_wrap(args[0], 3)}"
    if op in ("add", "sub"):
        left, right = args
        sign = "+" if op == "add" else "−"
        return f"{_render(left)} {sign} {_wrap(right, 2, sign=True)}"
    if op == "mul":
        left, right = args
        if _is_coefficient(left) and right == X:
            return f"{_render(left)}x"  # βx, 2x
        return f"{_wrap(left, 2)}·{_wrap(right, _ATOM)}"
    if op == "div":
        left, right = args
        return f"{_wrap(left, 2)}/{_wrap(right, _ATOM)}"
    if op == "exp" and args[0] == X:
        return "eˣ"
    name = _NAMED.get(op, op)
    return f"{name}({', '.join(_render(a) for a in args)})"
