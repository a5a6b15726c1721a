"""The symbolic search space: operators, expressions, grammar, parsing, torch modules, baselines.

Parsing, printing and the grammar import neither torch nor sympy; ``to_module``,
``export_source`` and ``Activation`` (``space.torch_module``) are imported on
first use, and expressions import torch and sympy when they evaluate or render
with them (``space.lazy``).
"""

from typing import Any

from space.baselines import BASELINES, baseline
from space.enumerate import EnumerationStats, unique_functions
from space.expression import Expression
from space.grammar import SearchSpace, Slot, SpaceError
from space.operators import BINARY, EPS, PRIMITIVES, UNARY
from space.parser import ParseError, parse
from space.pool import FunctionPool, read_pool

_TORCH_MODULE = ("Activation", "export_source", "to_module")  # space.torch_module: torch

__all__ = [
    "BASELINES",
    "BINARY",
    "EPS",
    "PRIMITIVES",
    "UNARY",
    "Activation",
    "EnumerationStats",
    "Expression",
    "FunctionPool",
    "ParseError",
    "SearchSpace",
    "Slot",
    "SpaceError",
    "baseline",
    "export_source",
    "parse",
    "read_pool",
    "to_module",
    "unique_functions",
]


def __getattr__(name: str) -> Any:
    """The torch-backed names, imported when first used (PEP 562)."""
    if name in _TORCH_MODULE:
        from space import torch_module

        return getattr(torch_module, name)
    raise AttributeError(f"module 'space' has no attribute {name!r}")
