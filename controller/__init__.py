"""Search strategies: they propose token sequences of a space and learn from rewards.

``make_strategy(StrategyConfig(name=...), space)`` gives one of: exhaustive,
random, regularized evolution, or the RNN controller trained by REINFORCE (the
default) or PPO. All follow the ``Strategy`` protocol (ask, tell, state_dict,
load_state_dict, exhausted) and see only the space's grammar.
"""

from controller.base import Strategy
from controller.config import NAMES, StrategyConfig
from controller.evolution import RegularizedEvolution
from controller.exhaustive import Exhaustive
from controller.factory import make_strategy
from controller.policy import Policy, Rollout, sample, score
from controller.random_search import RandomSearch
from controller.rl import RNNController

__all__ = [
    "NAMES",
    "Exhaustive",
    "Policy",
    "RNNController",
    "RandomSearch",
    "RegularizedEvolution",
    "Rollout",
    "Strategy",
    "StrategyConfig",
    "make_strategy",
    "sample",
    "score",
]
