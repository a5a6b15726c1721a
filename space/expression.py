"""Immutable expression trees and their renderings.

A tree is made of four node types: the input ``X``, a trainable leaf (``BETA``,
or ``ALPHA`` in the PReLU baseline), a non-negative numeric ``Const`` and a
``Call`` of a primitive from
``space.operators.PRIMITIVES``. ``Expression`` wraps a root node and offers the
renderings: ``str()`` (parseable text, round-trips through ``parse``),
``canonical`` (the store's key), ``latex()``, ``sympy()``, ``derivative()``
and ``fingerprint`` (a hash of rounded outputs that marks spellings of one
function).
"""

from __future__ import annotations

import hashlib
import math
from functools import cache, cached_property
from typing import Any

from space.lazy import LazyModule
from space.nodes import ALPHA, BETA, LEAVES, Call, Const, Node, Var, X
from space.operators import PRIMITIVES

# Imported on first use (space.lazy): text, canonical forms and LaTeX need neither.
sp = LazyModule("sympy", globals(), "sp")
torch = LazyModule("torch", globals(), "torch")

# Fingerprint sample: 64 points on [-6, 6], none at 0 or at an integer, beta and alpha
# fixed at values that no constant of a formula is likely to equal. Beta is trainable and
# moves, so functions are compared at three values of it: below 1, above 1 and negative.
# One value is not enough: max(abs(x), beta * x) equals abs(x) for every beta <= 1 and
# max(cosh(x), beta) equals cosh(x) there, but both differ once beta passes 1.
FINGERPRINT_BETAS = (0.7531, 1.3717, -0.4139)
FINGERPRINT_ALPHA = 0.2513
FINGERPRINT_DIGITS = 6
ALPHA_INIT = 0.25  # PReLU's initial slope, as nn.PReLU's (He et al. 2015)


@cache
def fingerprint_points() -> torch.Tensor:
    """The 64 float64 points of the fingerprint (made once, on first use)."""
    return torch.linspace(-6.0, 6.0, 64, dtype=torch.float64) + 0.0123


def format_number(value: float) -> str:
    """Shortest text that parses back to ``value``."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


# -- text -------------------------------------------------------------------------

def _precedence(node: Node) -> int:
    return PRIMITIVES[node.op].precedence if isinstance(node, Call) else 4


def to_text(node: Node) -> str:
    """Parseable text; parentheses exactly where the tree needs them."""
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Const):
        return format_number(node.value)
    primitive = PRIMITIVES[node.op]
    if primitive.precedence == 3:  # prefix minus binds tighter than * and /
        (a,) = node.args
        inner = to_text(a)
        return f"-({inner})" if _precedence(a) < 3 else f"-{inner}"
    if primitive.infix is not None:
        left, right = node.args
        lt, rt = to_text(left), to_text(right)
        if _precedence(left) < primitive.precedence:
            lt = f"({lt})"
        if _precedence(right) <= primitive.precedence:  # left-associative
            rt = f"({rt})"
        return f"{lt} {primitive.infix} {rt}"
    return f"{node.op}({', '.join(to_text(a) for a in node.args)})"


# -- canonical form ---------------------------------------------------------------

def size(node: Node) -> int:
    """Number of nodes in the tree."""
    return 1 + sum(size(a) for a in node.args) if isinstance(node, Call) else 1


def depth(node: Node) -> int:
    """Length of the longest root-to-leaf path."""
    return 1 + max(depth(a) for a in node.args) if isinstance(node, Call) else 1


def _order_key(node: Node) -> tuple[int, int, str]:
    rank = {BETA: 0, ALPHA: 0, X: 2}.get(node, 1) if not isinstance(node, Call) else 3
    return (size(node), rank, to_text(node))


def normalize(node: Node) -> Node:
    """Exact rewrites only: sort the arguments of commutative primitives, drop --a."""
    if not isinstance(node, Call):
        return node
    args = tuple(normalize(a) for a in node.args)
    if node.op == "neg" and isinstance(args[0], Call) and args[0].op == "neg":
        return args[0].args[0]
    if PRIMITIVES[node.op].commutative:
        args = tuple(sorted(args, key=_order_key))
    return Call(node.op, args)


# -- LaTeX, sympy, torch ----------------------------------------------------------

def to_latex(node: Node) -> str:
    """LaTeX with the paper's notation (sigma, epsilon, inverse hyperbolics)."""
    if isinstance(node, Var):
        return {BETA: r"\beta", ALPHA: r"\alpha"}.get(node, "x")
    if isinstance(node, Const):
        return format_number(node.value)
    primitive = PRIMITIVES[node.op]
    parts = []
    for i, arg in enumerate(node.args):
        text = to_latex(arg)
        needs_parens = primitive.infix is not None and (
            _precedence(arg) < primitive.precedence
            or (i == 1 and _precedence(arg) == primitive.precedence)
        ) and node.op != "div"
        parts.append(rf"\left({text}\right)" if needs_parens else text)
    return primitive.latex.format(*parts, a=parts[0], b=parts[-1])


@cache
def leaf_symbols() -> dict[Var, sp.Symbol]:
    """The real sympy symbols of the leaves ``x``, ``beta`` and ``alpha``."""
    return {leaf: sp.Symbol(leaf.name, real=True) for leaf in (X, BETA, ALPHA)}


_SYMBOL_NAMES = {"X_SYMBOL": X, "BETA_SYMBOL": BETA, "ALPHA_SYMBOL": ALPHA}


def __getattr__(name: str) -> Any:
    """``X_SYMBOL``, ``BETA_SYMBOL``, ``ALPHA_SYMBOL``: made when first asked for (sympy)."""
    if name in _SYMBOL_NAMES:
        return leaf_symbols()[_SYMBOL_NAMES[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_sympy(node: Node) -> sp.Expr:
    """The sympy form, built from the table (never from text)."""
    if isinstance(node, Var):
        return leaf_symbols()[node]
    if isinstance(node, Const):
        value = node.value
        return sp.Integer(int(value)) if value.is_integer() else sp.Float(value)
    return PRIMITIVES[node.op].sympy(*(to_sympy(a) for a in node.args))


def evaluate(node: Node, x: torch.Tensor, beta: torch.Tensor | float,
             alpha: torch.Tensor | float = ALPHA_INIT) -> torch.Tensor:
    """Evaluate elementwise with torch (differentiable, compile-friendly)."""
    if isinstance(node, Var):
        return beta if node == BETA else alpha if node == ALPHA else x
    if isinstance(node, Const):
        return node.value
    args = [evaluate(a, x, beta, alpha) for a in node.args]
    if not any(isinstance(a, torch.Tensor) for a in args):
        args[0] = torch.as_tensor(args[0], dtype=x.dtype, device=x.device)
    if node.op in ("max", "min") and not all(isinstance(a, torch.Tensor) for a in args):
        tensor, scalar = (args[0], args[1]) if isinstance(args[0], torch.Tensor) else args[::-1]
        bound = {"min": scalar} if node.op == "max" else {"max": scalar}
        return torch.clamp(tensor, **bound)
    return PRIMITIVES[node.op].torch(*args)


def uses(node: Node, leaf: Var) -> bool:
    """Whether ``leaf`` (X, BETA or ALPHA) occurs in the tree."""
    if isinstance(node, Call):
        return any(uses(a, leaf) for a in node.args)
    return node == leaf


def _validate(node: Node) -> None:
    if isinstance(node, Call):
        primitive = PRIMITIVES.get(node.op)
        if primitive is None:
            raise ValueError(f"unknown primitive {node.op!r}")
        if len(node.args) != primitive.arity:
            raise ValueError(f"{node.op} takes {primitive.arity} arguments, got {len(node.args)}")
        for arg in node.args:
            _validate(arg)
    elif isinstance(node, Var):
        if node not in LEAVES:
            raise ValueError(f"unknown leaf {node.name!r}; valid: {[v.name for v in LEAVES]}")
    elif not isinstance(node, Const):
        raise TypeError(f"not an expression node: {node!r}")


# -- the public wrapper -----------------------------------------------------------

class Expression:
    """An immutable activation function f(x; beta, alpha)."""

    __slots__ = ("__dict__", "root")

    def __init__(self, root: Node) -> None:
        _validate(root)
        object.__setattr__(self, "root", root)

    def __setattr__(self, name: str, value: object) -> None:
        if name in type(self).__dict__ and isinstance(type(self).__dict__[name], cached_property):
            object.__setattr__(self, name, value)  # cached_property storing its value
            return
        raise AttributeError("Expression is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and self.root == other.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    @cached_property
    def text(self) -> str:
        """Parseable text of the tree as built."""
        return to_text(self.root)

    @cached_property
    def canonical(self) -> str:
        """Normalised text: the key under which results are stored."""
        return to_text(normalize(self.root))

    @property
    def uses_beta(self) -> bool:
        return uses(self.root, BETA)

    @property
    def uses_alpha(self) -> bool:
        """Whether PReLU's slope ``alpha`` occurs (only the named baselines use it)."""
        return uses(self.root, ALPHA)

    @property
    def size(self) -> int:
        return size(self.root)

    def latex(self) -> str:
        return to_latex(self.root)

    def sympy(self) -> sp.Expr:
        """f as a sympy expression in the real symbols ``x``, ``beta`` and ``alpha``."""
        return to_sympy(self.root)

    def derivative(self) -> sp.Expr:
        """df/dx as a sympy expression."""
        return sp.diff(self.sympy(), leaf_symbols()[X])

    def __call__(self, x: torch.Tensor, beta: torch.Tensor | float = 1.0,
                 alpha: torch.Tensor | float = ALPHA_INIT) -> torch.Tensor:
        out = evaluate(self.root, x, beta, alpha)
        out = torch.as_tensor(out, dtype=x.dtype, device=x.device)
        return out if out.shape == x.shape else torch.broadcast_to(out, x.shape)

    @cached_property
    def fingerprint(self) -> str:
        """Hash of outputs at fixed points for each of ``FINGERPRINT_BETAS`` (alpha fixed),
        rounded to 6 significant digits.

        Two spellings of one function share it; sharing it is strong evidence,
        not proof, of equality. Functions that agree at one beta but not at
        another have different fingerprints.
        """
        points = fingerprint_points()
        with torch.no_grad():
            if self.uses_beta:
                values = [v for beta in FINGERPRINT_BETAS for v in
                          self(points, beta, FINGERPRINT_ALPHA).tolist()]
            else:  # the same values at every beta: computed once
                values = self(points, 0.0, FINGERPRINT_ALPHA).tolist() \
                    * len(FINGERPRINT_BETAS)
        words = []
        for v in values:
            if math.isfinite(v):
                v = 0.0 if abs(v) < 1e-9 else v
                words.append(f"{v:.{FINGERPRINT_DIGITS}g}")
            else:
                words.append(str(v))
        return hashlib.sha1(" ".join(words).encode()).hexdigest()[:16]
