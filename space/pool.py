"""A search space made of given functions: "search among these".

``FunctionPool(texts)`` has the interface of ``SearchSpace`` with one slot
(role ``function``) whose vocabulary is the functions themselves: token ``i``
is the i-th function. Every strategy runs on it unchanged; ``exhaustive``
trains the pool in its order (or in predicted order), ``random`` draws from
it uniformly and ``surrogate`` ranks it by its features. The RNN controller
and evolution see the functions as unrelated choices (a bandit over them):
the pool has no token structure to learn from.

``read_pool(path)`` reads a file of expressions, one a line, with our parser
(nothing is evaluated); blank lines and ``#`` comments are skipped; a line
that does not parse is a ``SpaceError`` naming ``file:line``. The file is read by
``space.files.read_text``: a regular UTF-8 file of at most 20 MB (a FIFO or a
device is refused, never read).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from space.expression import Expression
from space.files import FileError, read_text
from space.grammar import Slot, SpaceError
from space.parser import ParseError, parse

MAX_FUNCTIONS = 100_000
MAX_BYTES = 20_000_000


class FunctionPool:
    """The space whose sequences are one token each: an index into ``functions``."""

    units = 1

    def __init__(self, functions: Sequence[str]) -> None:
        if not functions:
            raise SpaceError("the pool of functions is empty; list at least one expression")
        if len(functions) > MAX_FUNCTIONS:
            raise SpaceError(f"the pool lists {len(functions):,} functions; at most "
                             f"{MAX_FUNCTIONS:,} are searched")
        self.expressions = tuple(_parse(text, f"pool function {i + 1}")
                                 for i, text in enumerate(functions))
        self.functions = tuple(e.text for e in self.expressions)
        self.slots = (Slot(0, "function", self.functions, (True,) * len(self.functions)),)

    def __repr__(self) -> str:
        return f"FunctionPool({len(self.functions)} functions)"

    @property
    def size(self) -> int:
        return len(self.functions)

    def is_valid(self, tokens: Sequence[int]) -> bool:
        return len(tokens) == 1 and isinstance(tokens[0], int) and 0 <= tokens[0] < self.size

    def check(self, tokens: Sequence[int]) -> tuple[int, ...]:
        tokens = tuple(int(t) for t in tokens)
        if len(tokens) != 1 or not 0 <= tokens[0] < self.size:
            raise SpaceError(f"a pool proposal is one token in [0, {self.size}), got {tokens}")
        return tokens

    def decode(self, tokens: Sequence[int]) -> Expression:
        return self.expressions[self.check(tokens)[0]]

    def describe(self, tokens: Sequence[int]) -> str:
        return f"[pool #{self.check(tokens)[0]}: {self.decode(tokens).text}]"

    def tokens_at(self, position: int) -> tuple[int, ...]:
        if not 0 <= position < self.size:
            raise SpaceError(f"position {position} outside [0, {self.size})")
        return (position,)

    def position_of(self, tokens: Sequence[int]) -> int:
        return self.check(tokens)[0]

    def enumerate(self, start: int = 0) -> Iterator[tuple[int, tuple[int, ...]]]:
        for position in range(max(0, start), self.size):
            yield position, (position,)


def _parse(text: str, where: str) -> Expression:
    try:
        return parse(text)
    except ParseError as error:
        raise SpaceError(f"{where}: {text[:60]!r} does not parse ({error})") from None


def read_pool(path: str | Path) -> list[str]:
    """The expressions of a pool file, one a line (checked: each must parse)."""
    try:  # a regular file of at most MAX_BYTES, UTF-8 (space.files): never a FIFO or device
        lines = read_text(path, MAX_BYTES, "the pool of functions").splitlines()
    except FileError as error:
        raise SpaceError(str(error)) from None
    functions = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            functions.append(_parse(text, f"{path}:{number}").text)
    if not functions:
        raise SpaceError(f"{path}: the pool file lists no expression (one a line)")
    return functions
