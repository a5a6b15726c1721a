"""The Strategy protocol and the pieces every strategy shares.

A strategy proposes token sequences (``ask``) and hears their rewards
(``tell``), in whatever order and batch sizes the workers finish. It sees only
the space's grammar: slots, vocabularies, masks. It never imports Ray, the
evaluator or the search runner.

``Ledger`` keeps the proposals that are out (asked, not yet told) as a
multiset, so a strategy can refuse rewards for tokens it never asked for and
can attach what it knew at ask time (PPO's old log-probability) to each
proposal. The same token sequence may be out several times at once; its copies
are answered first in, first out.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from space import SearchSpace

Tokens = tuple[int, ...]
Results = Sequence[tuple[Sequence[int], float]]


@runtime_checkable
class Strategy(Protocol):
    """What the search runner drives: ask, tell, save, restore."""

    def ask(self, n: int) -> list[Tokens]:
        """Up to ``n`` proposals; fewer only when the strategy is exhausted."""
        ...

    def tell(self, results: Results) -> None:
        """(tokens, reward) pairs for asked tokens, in any order and batch size."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly as this strategy would, as data: plain
        Python (tuples and non-string keys too), numpy arrays, torch tensors, nothing else
        (the search stores it as JSON, never as a pickle)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state_dict()``'s output."""
        ...

    @property
    def exhausted(self) -> bool:
        """True when nothing is left to propose."""
        ...


class Ledger:
    """Proposals that are out, each with a payload recorded when it was asked."""

    def __init__(self) -> None:
        self._out: dict[Tokens, deque[Any]] = {}

    def __len__(self) -> int:
        return sum(len(copies) for copies in self._out.values())

    def add(self, tokens: Tokens, payload: Any = None) -> None:
        self._out.setdefault(tokens, deque()).append(payload)

    def take(self, tokens: Sequence[int]) -> tuple[Tokens, Any]:
        """Remove one outstanding copy of ``tokens``; ValueError if none is out."""
        key = tuple(int(t) for t in tokens)
        copies = self._out.get(key)
        if not copies:
            raise ValueError(f"tell() got tokens {key} that were not asked for "
                             f"(or were already told); {len(self)} proposals are out")
        payload = copies.popleft()
        if not copies:
            del self._out[key]
        return key, payload

    def settle(self, results: Results) -> list[tuple[Tokens, float, Any]]:
        """Take every told proposal: (tokens, checked reward, payload from ask time)."""
        settled = []
        for tokens, reward in results:
            key, payload = self.take(tokens)
            settled.append((key, check_reward(key, reward), payload))
        return settled

    def state_dict(self) -> list[tuple[Tokens, list[Any]]]:
        return [(tokens, list(copies)) for tokens, copies in self._out.items()]

    def load_state_dict(self, state: list[tuple[Tokens, list[Any]]]) -> None:
        self._out = {tuple(tokens): deque(copies) for tokens, copies in state}


def check_reward(tokens: Tokens, reward: float) -> float:
    """The reward as a float; ValueError if it is not a finite number."""
    value = float(reward)
    if not math.isfinite(value):
        raise ValueError(f"reward for {tokens} is {reward!r}; the runner must map failed "
                         "candidates to a finite configured reward")
    return value


def check_n(n: int) -> int:
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"ask(n) needs an integer n >= 0, got {n!r}")
    return n


def random_tokens(space: SearchSpace, rng: np.random.Generator) -> Tokens:
    """One sequence drawn uniformly from the valid ones.

    Masks are static per slot, so the valid sequences are the product of each
    slot's allowed set, and drawing every slot uniformly is uniform over them.
    """
    return tuple(int(slot.allowed[rng.integers(len(slot.allowed))]) for slot in space.slots)


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return copy.deepcopy(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = copy.deepcopy(state)


def check_kind(state: dict[str, Any], kind: str) -> None:
    if state.get("kind") != kind:
        raise ValueError(f"state was saved by strategy {state.get('kind')!r}, "
                         f"cannot load it into {kind!r}")
