"""Search spaces of K core units b(u1(a), u2(c)) and their token grammar.

A candidate is a sequence of 5·K integer tokens, five per unit in the paper's
order: input 1, input 2, unary 1, unary 2, binary. Each token indexes its
slot's vocabulary (``Slot.choices``); ``Slot.mask`` says which choices the
grammar allows there. Inputs of unit i are ``x`` or the output ``u0 .. u{i-1}``
of an earlier unit, so an input vocabulary is ``("x", "u0", ..., "u{K-2}")``
for every unit, masked to its first i + 1 entries. The last unit's output is
the activation. Masks depend only on the slot, never on earlier choices, so
every masked sequence is valid and the space is a mixed-radix number system:
``size`` is exact and ``tokens_at(position)`` enumerates it in a fixed order.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from space.expression import Expression, Node, X
from space.operators import BINARY, UNARY

ROLES = ("input1", "input2", "unary1", "unary2", "binary")
_KIND = {"input1": "input", "input2": "input", "unary1": "unary", "unary2": "unary",
         "binary": "binary", "function": "function"}  # "function": a FunctionPool's one slot


class SpaceError(ValueError):
    """A search space that cannot be built as asked (unknown operator, bad size)."""


@dataclass(frozen=True)
class Slot:
    """One decision: a token for ``role`` of core unit ``unit``."""

    unit: int
    role: str  # one of ROLES (or "function", the one slot of a space.pool.FunctionPool)
    choices: tuple[str, ...]  # the vocabulary of this slot's kind
    mask: tuple[bool, ...]  # which choices the grammar allows here

    @property
    def kind(self) -> str:
        """``input``, ``unary``, ``binary`` (or ``function``): slots of a kind share a
        vocabulary."""
        return _KIND[self.role]

    @property
    def allowed(self) -> tuple[int, ...]:
        return tuple(i for i, ok in enumerate(self.mask) if ok)


def _check_names(names: Sequence[str] | None, table: dict, what: str) -> tuple[str, ...]:
    if names is None:
        return tuple(table)
    names = tuple(names)
    if not names:
        raise SpaceError(f"the {what} operator list is empty; name at least one of {list(table)}")
    for name in names:
        if name not in table:
            close = difflib.get_close_matches(str(name), list(table), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(table)}"
            raise SpaceError(f"unknown {what} operator {name!r}{hint}")
    if len(set(names)) != len(names):
        raise SpaceError(f"the {what} operator list names an operator twice: {list(names)}")
    return names


class SearchSpace:
    """K core units over chosen unary and binary operators (default: all of the paper's)."""

    def __init__(self, units: int = 1, unary: Sequence[str] | None = None,
                 binary: Sequence[str] | None = None) -> None:
        if not isinstance(units, int) or units < 1:
            raise SpaceError(f"units must be an integer >= 1, got {units!r}")
        self.units = units
        self.unary = _check_names(unary, UNARY, "unary")
        self.binary = _check_names(binary, BINARY, "binary")
        self.inputs = ("x", *(f"u{i}" for i in range(units - 1)))
        vocab = {"input": self.inputs, "unary": self.unary, "binary": self.binary}
        slots = []
        for unit in range(units):
            for role in ROLES:
                choices = vocab[_KIND[role]]
                mask = tuple(_KIND[role] != "input" or i <= unit for i in range(len(choices)))
                slots.append(Slot(unit, role, choices, mask))
        self.slots: tuple[Slot, ...] = tuple(slots)
        self._radices = tuple(len(s.allowed) for s in self.slots)

    def __repr__(self) -> str:
        return (f"SearchSpace(units={self.units}, unary={len(self.unary)} ops, "
                f"binary={len(self.binary)} ops, size={self.size})")

    @property
    def size(self) -> int:
        """Number of token sequences: prod over units i of (i+1)^2 · U^2 · B."""
        u, b = len(self.unary), len(self.binary)
        return math.prod((i + 1) ** 2 * u * u * b for i in range(self.units))

    def is_valid(self, tokens: Sequence[int]) -> bool:
        if len(tokens) != len(self.slots):
            return False
        return all(
            isinstance(t, int) and 0 <= t < len(s.mask) and s.mask[t]
            for t, s in zip(tokens, self.slots)
        )

    def check(self, tokens: Sequence[int]) -> tuple[int, ...]:
        """``tokens`` as a tuple, or ``SpaceError`` naming the first bad slot."""
        tokens = tuple(int(t) for t in tokens)
        if len(tokens) != len(self.slots):
            raise SpaceError(f"expected {len(self.slots)} tokens, got {len(tokens)}")
        for i, (t, s) in enumerate(zip(tokens, self.slots)):
            if not (0 <= t < len(s.mask) and s.mask[t]):
                raise SpaceError(f"token {t} not allowed at slot {i} (unit {s.unit} {s.role}); "
                                 f"allowed: {list(s.allowed)}")
        return tokens

    def decode(self, tokens: Sequence[int]) -> Expression:
        """The activation function a token sequence describes."""
        tokens = self.check(tokens)
        outputs: list[Node] = []
        for unit in range(self.units):
            a, c, u1, u2, b = tokens[5 * unit: 5 * unit + 5]
            available = [X, *outputs]
            left = UNARY[self.unary[u1]].build(available[a])
            right = UNARY[self.unary[u2]].build(available[c])
            outputs.append(BINARY[self.binary[b]].build(left, right))
        return Expression(outputs[-1])

    def describe(self, tokens: Sequence[int]) -> str:
        """Tokens as names, unit by unit: ``[x x identity sigmoid mul]``."""
        tokens = self.check(tokens)
        words = [s.choices[t] for t, s in zip(tokens, self.slots)]
        return " ".join("[" + " ".join(words[i:i + 5]) + "]" for i in range(0, len(words), 5))

    # -- a fixed, resumable order ------------------------------------------------

    def tokens_at(self, position: int) -> tuple[int, ...]:
        """The sequence at ``position`` in [0, size); the last slot varies fastest."""
        if not 0 <= position < self.size:
            raise SpaceError(f"position {position} outside [0, {self.size})")
        digits = []
        for slot, radix in zip(reversed(self.slots), reversed(self._radices)):
            position, digit = divmod(position, radix)
            digits.append(slot.allowed[digit])
        return tuple(reversed(digits))

    def position_of(self, tokens: Sequence[int]) -> int:
        """Inverse of ``tokens_at``."""
        position = 0
        for t, slot, radix in zip(self.check(tokens), self.slots, self._radices):
            position = position * radix + slot.allowed.index(t)
        return position

    def enumerate(self, start: int = 0) -> Iterator[tuple[int, tuple[int, ...]]]:
        """Every (position, tokens) from ``start`` on, in order."""
        if start >= self.size:
            return
        tokens = list(self.tokens_at(start))
        index = [s.allowed.index(t) for t, s in zip(tokens, self.slots)]
        for position in range(start, self.size):
            yield position, tuple(tokens)
            for i in reversed(range(len(index))):  # increment the mixed-radix counter
                index[i] += 1
                if index[i] < self._radices[i]:
                    tokens[i] = self.slots[i].allowed[index[i]]
                    break
                index[i] = 0
                tokens[i] = self.slots[i].allowed[0]
