"""Regularized evolution (Real et al. 2019, "aging evolution"), asynchronous.

* Until ``population_size`` proposals have been made, proposals are uniform
  random sequences (the initial population).
* After that, each proposal is a child: draw ``sample_size`` members of the
  living population uniformly without replacement, take the one with the
  highest reward, and change exactly one of its tokens: a slot is drawn
  uniformly among those with more than one allowed choice, and its new token
  uniformly among the other allowed choices, so every child is valid.
* Every told result joins the population in the order told; when the
  population is larger than ``population_size``, its oldest member dies
  (aging, not the worst: that is what "regularized" means).

If children are asked for before any result has come back, they are random
sequences too. Deterministic given the seed and the order of asks and tells.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from controller.base import (
    Ledger,
    Results,
    Tokens,
    check_kind,
    check_n,
    random_tokens,
    rng_state,
    set_rng_state,
)
from controller.config import StrategyConfig
from space import SearchSpace


def mutate(space: SearchSpace, tokens: Tokens, rng: np.random.Generator) -> Tokens:
    """``tokens`` with one token changed to another choice its slot allows."""
    free = [i for i, slot in enumerate(space.slots) if len(slot.allowed) > 1]
    if not free:  # a space of one sequence: nothing to change
        return tokens
    i = free[rng.integers(len(free))]
    others = [t for t in space.slots[i].allowed if t != tokens[i]]
    child = list(tokens)
    child[i] = int(others[rng.integers(len(others))])
    return tuple(child)


class RegularizedEvolution:
    """Aging tournament selection with one-token mutation."""

    kind = "evolution"

    def __init__(self, config: StrategyConfig, space: SearchSpace) -> None:
        self.space = space
        self.population_size = config.population_size
        self.sample_size = config.sample_size
        self.rng = np.random.default_rng(config.seed)
        self.population: deque[tuple[Tokens, float]] = deque()
        self.proposed = 0
        self.ledger = Ledger()

    def _propose(self) -> Tokens:
        if self.proposed < self.population_size or not self.population:
            return random_tokens(self.space, self.rng)
        k = min(self.sample_size, len(self.population))
        picks = self.rng.choice(len(self.population), size=k, replace=False)
        parent = max((self.population[int(i)] for i in picks), key=lambda member: member[1])
        return mutate(self.space, parent[0], self.rng)

    def ask(self, n: int) -> list[Tokens]:
        proposals = []
        for _ in range(check_n(n)):
            tokens = self._propose()
            self.proposed += 1
            self.ledger.add(tokens)
            proposals.append(tokens)
        return proposals

    def tell(self, results: Results) -> None:
        for key, reward, _ in self.ledger.settle(results):
            self.population.append((key, reward))
            if len(self.population) > self.population_size:
                self.population.popleft()

    @property
    def exhausted(self) -> bool:
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rng": rng_state(self.rng),
                "population": list(self.population), "proposed": self.proposed,
                "ledger": self.ledger.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_kind(state, self.kind)
        set_rng_state(self.rng, state["rng"])
        self.population = deque((tuple(t), float(r)) for t, r in state["population"])
        self.proposed = state["proposed"]
        self.ledger.load_state_dict(state["ledger"])
