"""Random search: independent draws, uniform over the valid token sequences.

Draws are with replacement: in a large space repeats are rare, and the runner
answers a repeat from its store without training it again.
"""

from __future__ import annotations

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


class RandomSearch:
    """Uniform sampling; rewards are checked and otherwise ignored."""

    kind = "random"

    def __init__(self, config: StrategyConfig, space: SearchSpace) -> None:
        self.space = space
        self.rng = np.random.default_rng(config.seed)
        self.ledger = Ledger()
        self.told = 0

    def ask(self, n: int) -> list[Tokens]:
        proposals = [random_tokens(self.space, self.rng) for _ in range(check_n(n))]
        for tokens in proposals:
            self.ledger.add(tokens)
        return proposals

    def tell(self, results: Results) -> None:
        self.told += len(self.ledger.settle(results))

    @property
    def exhausted(self) -> bool:
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rng": rng_state(self.rng),
                "ledger": self.ledger.state_dict(), "told": self.told}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_kind(state, self.kind)
        set_rng_state(self.rng, state["rng"])
        self.ledger.load_state_dict(state["ledger"])
        self.told = state["told"]
