"""``make_strategy``: a StrategyConfig (and the surrogate block) and a space in, a strategy out."""

from __future__ import annotations

from controller.base import Strategy
from controller.config import StrategyConfig, SurrogateConfig
from controller.evolution import RegularizedEvolution
from controller.exhaustive import Exhaustive
from controller.filtered import SurrogateFilter
from controller.model_based import SurrogateSearch
from controller.prior import Prior
from controller.random_search import RandomSearch
from controller.rl import RNNController

_BUILDERS = {
    "exhaustive": Exhaustive,
    "random": RandomSearch,
    "evolution": RegularizedEvolution,
    "reinforce": RNNController,
    "ppo": RNNController,
}
FILTERABLE = ("random", "evolution", "reinforce", "ppo")


def make_strategy(config: StrategyConfig, space, surrogate: SurrogateConfig | None = None,
                  prior: Prior | None = None) -> Strategy:
    """The strategy ``config.name`` names, seeded by ``config.seed``, over ``space``.

    ``surrogate`` (the run's ``surrogate:`` block) sets the model of the
    ``surrogate`` strategy and of ``exhaustive`` with ``order: predicted``; with
    ``filter`` > 1 it wraps a filterable strategy in ``SurrogateFilter``. ``prior``
    (read from ``surrogate.prior`` by the caller) starts the model-based ones' model.
    """
    surrogate = surrogate or SurrogateConfig()
    if surrogate.filter > 1 and config.name not in FILTERABLE:
        raise ValueError(f"surrogate.filter works with {', '.join(FILTERABLE)}, not "
                         f"{config.name!r} (exhaustive: use strategy.order: predicted)")
    if config.name == "surrogate":
        return SurrogateSearch(config, space, surrogate, prior=prior)
    if config.name == "exhaustive" and config.order == "predicted":
        return SurrogateSearch(config, space, surrogate, order="mean", prior=prior)
    strategy = _BUILDERS[config.name](config, space)
    if surrogate.filter > 1:
        return SurrogateFilter(strategy, space, surrogate, config.seed)
    return strategy
