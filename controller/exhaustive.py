"""Exhaustive search: every sequence of the space once, in its resumable order.

The order is ``SearchSpace.enumerate`` (mixed radix, last slot fastest), so the
whole state is one integer: the position to propose next. With
``skip_duplicates`` only the first spelling of each function (by the space's
numeric fingerprint, ``space.enumerate.unique_functions``) is proposed; the
next position is then found by looking ahead, and a restored strategy replays
the space up to its position to rebuild the set of functions already seen.
Rewards are checked and otherwise ignored: the store keeps the ranking.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from controller.base import Ledger, Results, Tokens, check_kind, check_n
from controller.config import StrategyConfig
from space import SearchSpace
from space.enumerate import unique_functions


class Exhaustive:
    """The space's enumeration, proposed in order until it runs out."""

    kind = "exhaustive"

    def __init__(self, config: StrategyConfig, space: SearchSpace) -> None:
        self.space = space
        self.skip_duplicates = config.skip_duplicates
        self.position = 0  # the next position that may be proposed
        self.ledger = Ledger()
        self.told = 0
        self._unique: Iterator[tuple[int, Tokens, Any]] | None = None
        self._peeked: tuple[int, Tokens] | None = None

    # -- the next proposal ---------------------------------------------------------

    def _next(self) -> tuple[int, Tokens] | None:
        """The next (position, tokens) to propose, without consuming it."""
        if not self.skip_duplicates:
            if self.position >= self.space.size:
                return None
            return self.position, self.space.tokens_at(self.position)
        if self._peeked is None or self._peeked[0] < self.position:
            if self._unique is None:
                self._unique = unique_functions(self.space, start=self.position)
            first = next(self._unique, None)
            self._peeked = None if first is None else (first[0], first[1])
        return self._peeked

    def ask(self, n: int) -> list[Tokens]:
        check_n(n)
        if not self.skip_duplicates:  # fast path: one walk of the enumerator
            end = min(self.position + n, self.space.size)
            walk = self.space.enumerate(self.position) if end > self.position else iter(())
            proposals = [tokens for _, tokens in itertools.islice(walk, end - self.position)]
            self.position = end
        else:
            proposals = []
            while len(proposals) < n and (item := self._next()) is not None:
                proposals.append(item[1])
                self.position = item[0] + 1
        for tokens in proposals:
            self.ledger.add(tokens)
        return proposals

    def tell(self, results: Results) -> None:
        self.told += len(self.ledger.settle(results))

    @property
    def exhausted(self) -> bool:
        return self._next() is None

    # -- save and restore ------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "position": self.position,
                "skip_duplicates": self.skip_duplicates,
                "ledger": self.ledger.state_dict(), "told": self.told}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_kind(state, self.kind)
        if state["skip_duplicates"] != self.skip_duplicates:
            raise ValueError("state was saved with skip_duplicates="
                             f"{state['skip_duplicates']}, this strategy has "
                             f"{self.skip_duplicates}")
        self.position = state["position"]
        self.ledger.load_state_dict(state["ledger"])
        self.told = state["told"]
        self._unique, self._peeked = None, None
