"""``make_strategy``: a StrategyConfig and a space in, a ready strategy out."""

from __future__ import annotations

from controller.base import Strategy
from controller.config import StrategyConfig
from controller.evolution import RegularizedEvolution
from controller.exhaustive import Exhaustive
from controller.random_search import RandomSearch
from controller.rl import RNNController
from space import SearchSpace

_BUILDERS = {
    "exhaustive": Exhaustive,
    "random": RandomSearch,
    "evolution": RegularizedEvolution,
    "reinforce": RNNController,
    "ppo": RNNController,
}


def make_strategy(config: StrategyConfig, space: SearchSpace) -> Strategy:
    """The strategy ``config.name`` names, seeded by ``config.seed``, over ``space``."""
    return _BUILDERS[config.name](config, space)
