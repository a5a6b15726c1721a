"""The symbolic search space: operators, expressions, grammar, parsing, torch modules, baselines."""

from space.baselines import BASELINES, baseline
from space.enumerate import EnumerationStats, unique_functions
from space.expression import Expression
from space.grammar import SearchSpace, Slot, SpaceError
from space.operators import BINARY, EPS, PRIMITIVES, UNARY
from space.parser import ParseError, parse
from space.pool import FunctionPool, read_pool
from space.torch_module import Activation, export_source, to_module

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
