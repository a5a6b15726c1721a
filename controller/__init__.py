"""Search strategies: they propose token sequences of a space and learn from rewards.

``make_strategy(StrategyConfig(name=...), space)`` gives one of: exhaustive,
random, regularized evolution, the RNN controller trained by REINFORCE (the
default) or PPO, or model-based search with a reward surrogate (``surrogate``);
``make_strategy(config, space, SurrogateConfig(filter=4))`` puts any of the
others behind the surrogate filter. All follow the ``Strategy`` protocol (ask, tell, state_dict,
load_state_dict, exhausted) and see only the space's grammar.

Every public name is imported from its module on first use (PEP 562), so the
config loader reads ``StrategyConfig`` without importing torch.
"""

import importlib
from typing import Any

_EXPORTS = {  # public name -> the module that defines it
    "Strategy": "controller.base",
    "NAMES": "controller.config",
    "StrategyConfig": "controller.config",
    "SurrogateConfig": "controller.config",
    "SurrogateFilter": "controller.filtered",
    "SurrogateSearch": "controller.model_based",
    "RewardModel": "controller.surrogate",
    "Prediction": "controller.model_based",
    "RegularizedEvolution": "controller.evolution",
    "Exhaustive": "controller.exhaustive",
    "make_strategy": "controller.factory",
    "Policy": "controller.policy",
    "Rollout": "controller.policy",
    "sample": "controller.policy",
    "score": "controller.policy",
    "RandomSearch": "controller.random_search",
    "RNNController": "controller.rl",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'controller' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
