"""The node types of expression trees (plain immutable data)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Var:
    """A leaf: ``x`` (the pre-activation) or a trainable parameter.

    ``beta`` is the search space's parameter; ``alpha`` (PReLU's negative slope)
    appears only in the named baselines, never in searched functions.
    """

    name: str


@dataclass(frozen=True)
class Const:
    """A finite, non-negative literal (negatives are ``neg(Const)``)."""

    value: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"constant must be finite and >= 0, got {self.value!r}")
        object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True)
class Call:
    """A primitive applied to argument nodes."""

    op: str
    args: tuple[Node, ...]


Node = Var | Const | Call
X = Var("x")
BETA = Var("beta")
ALPHA = Var("alpha")
LEAVES = (X, BETA, ALPHA)
