"""The configuration of every search strategy, and of the reward surrogate.

Every field has a default, and each default says why it is what it is. The
search's YAML loader builds it from the ``strategy:`` section; fields that a
strategy does not use are ignored by it. The RNN controller's defaults were
tuned on the no-training landscapes of ``benchmarks/strategy_efficiency.py``
(rewards in [0, 1], like validation accuracy); the paper states none of them.
``SurrogateConfig`` is the ``surrogate:`` section: the model, the acquisition,
and the filter any strategy can use (``controller.surrogate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

NAMES = ("exhaustive", "random", "reinforce", "ppo", "evolution", "surrogate")
ORDERS = ("enumeration", "predicted")
MODELS = ("gp", "forest", "knn")
ACQUISITIONS = ("ei", "ucb", "mean", "mix")

_RNN = ("hidden_size", "lr", "batch_size", "ema_decay", "entropy_weight", "temperature",
        "tanh_constant", "max_grad_norm", "elite_size", "elite_weight")
FIELDS_READ: dict[str, tuple[str, ...]] = {  # StrategyConfig fields each strategy reads,
    "exhaustive": ("order", "skip_duplicates"),  # beyond name and seed (the report shows
    "random": (),  # only these)
    "evolution": ("population_size", "sample_size"),
    "reinforce": _RNN,
    "ppo": (*_RNN, "ppo_clip", "ppo_epochs"),
    "surrogate": (),
}


@dataclass(frozen=True)
class StrategyConfig:
    """Which strategy searches, with what settings."""

    name: str = "reinforce"  # one of NAMES; REINFORCE is the product's default (paper used PPO)
    seed: int = 0  # every random choice of a strategy derives from it

    # -- exhaustive -------------------------------------------------------------------
    order: str = "enumeration"  # "predicted": every function once, the ones the surrogate
    # expects most from first (controller.model_based; the surrogate: block sets the model),
    # so a budget-limited exhaustive search reaches the best functions early
    skip_duplicates: bool = False  # propose only the first spelling of each function
    # (space.enumerate.unique_functions, by fingerprint). Off by default: the runner
    # already answers duplicates from the store without training them, and a resumed
    # de-duplicating pass must replay the whole space up to where it stopped.

    # -- regularized evolution (Real et al. 2019) -------------------------------------
    population_size: int = 20  # candidates alive; the oldest dies when a child is told
    sample_size: int = 5  # tournament size; the best of these is mutated

    # -- RNN controller (REINFORCE and PPO) --------------------------------------------
    hidden_size: int = 64  # LSTM cell and embedding width (NAS used 35..100)
    lr: float = 0.02  # Adam step size. High: a search sees tens of batches, not thousands.
    # Tuned for REINFORCE on the benchmark's two-unit landscapes. PPO takes ppo_epochs
    # steps per batch and did best there with lr=0.01, entropy_weight=0.001.
    batch_size: int = 4  # rewards per policy update; small = more updates per budget (4 beat 8)
    ema_decay: float = 0.9  # baseline = ema_decay * baseline + (1 - ema_decay) * batch mean
    entropy_weight: float = 0.01  # bonus on the summed per-step entropy; keeps exploring
    # (0.01 beat 0.001 for REINFORCE on held-out benchmark seeds: fewer collapsed runs)
    temperature: float = 0.5  # logits are divided by it before the tanh squash (0.5 beat 1.0)
    tanh_constant: float | None = 2.5  # logits = C * tanh(logits / T) (ENAS: 2.5); None: off.
    # C caps how sure one step can be: 2.5 allows at most p = 0.86 for one of 25 choices,
    # so the controller keeps proposing new functions instead of repeating one.
    max_grad_norm: float | None = 5.0  # gradient clipping of each update; None: off
    ppo_clip: float = 0.2  # PPO's epsilon: the ratio is clipped to [1 - eps, 1 + eps]
    ppo_epochs: int = 4  # optimisation passes over each batch (PPO only)
    elite_size: int = 1  # priority-queue training: the best sequences told so far whose
    # likelihood every update also maximises (controller/rl.py); 0: off. On benchmark seeds
    # 100-159, 1 or 4 (weight 0.3-1) needed ~10 % fewer evaluations than 0; within noise.
    elite_weight: float = 1.0  # weight of that term against the policy-gradient loss

    # The range of each number, read by the config loader (search.ranges: "[a, b)" notation).
    RANGES: ClassVar[dict[str, str]] = {
        "seed": "[0, 4294967295]", "population_size": "[1, 100000]",
        "sample_size": "[1, 100000]", "hidden_size": "[1, 4096]", "lr": "[0, 10]",
        "batch_size": "[1, 10000]", "ema_decay": "[0, 1)", "entropy_weight": "[0, 100]",
        "temperature": "(0, 100]", "tanh_constant": "(0, 100]",
        "max_grad_norm": "(0, 1000000]", "ppo_clip": "(0, 1)", "ppo_epochs": "[1, 1000]",
        "elite_size": "[0, 10000]", "elite_weight": "[0, 100]"}

    def __post_init__(self) -> None:
        if self.name not in NAMES:
            raise ValueError(f"strategy.name {self.name!r} is not one of {', '.join(NAMES)}")
        if self.order not in ORDERS:
            raise ValueError(f"strategy.order {self.order!r} is not one of {', '.join(ORDERS)}")
        positive = {"population_size": self.population_size, "sample_size": self.sample_size,
                    "hidden_size": self.hidden_size, "batch_size": self.batch_size,
                    "temperature": self.temperature, "ppo_epochs": self.ppo_epochs}
        for key, value in positive.items():
            if not value > 0:
                raise ValueError(f"strategy.{key} must be > 0, got {value!r}")
        if self.sample_size > self.population_size:
            raise ValueError(f"strategy.sample_size ({self.sample_size}) must not exceed "
                             f"strategy.population_size ({self.population_size})")
        if self.elite_size < 0 or self.elite_weight < 0:
            bad = "elite_size" if self.elite_size < 0 else "elite_weight"
            raise ValueError(f"strategy.{bad} must be >= 0, got {getattr(self, bad)!r}")
        if self.lr < 0:
            raise ValueError(f"strategy.lr must be >= 0, got {self.lr!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"strategy.ema_decay must be in [0, 1), got {self.ema_decay!r}")
        if self.entropy_weight < 0:
            raise ValueError(f"strategy.entropy_weight must be >= 0, got {self.entropy_weight!r}")
        if self.tanh_constant is not None and not self.tanh_constant > 0:
            raise ValueError(f"strategy.tanh_constant must be > 0 or null, "
                             f"got {self.tanh_constant!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"strategy.max_grad_norm must be > 0 or null, "
                             f"got {self.max_grad_norm!r}")
        if not 0.0 < self.ppo_clip < 1.0:
            raise ValueError(f"strategy.ppo_clip must be in (0, 1), got {self.ppo_clip!r}")


# The defaults of what `surrogate:` leaves open, per use (docs/surrogate.md has the tables).
# Model-based search (strategy surrogate, exhaustive's predicted order): greedy on the
# predicted mean after 4 uniform draws had the smallest worst ratio to random search over
# the three recorded landscapes (tuning seeds 200-219; 0.55x), where expected improvement
# after 8 (the old default) was 0.29x on one and 1.07x on another (issue 21).
SEARCH_DEFAULTS: dict[str, object] = {"acquisition": "mean", "initial": 4}
# The filter of other strategies: expected improvement after 8 rewards, as it was tuned
# (issue 12); not tuned again.
FILTER_DEFAULTS: dict[str, object] = {"acquisition": "ei", "initial": 8}


@dataclass(frozen=True)
class SurrogateConfig:
    """How the surrogate predicts and where it is used (the ``surrogate:`` config block)."""

    model: str = "knn"  # gp | forest | knn (controller.surrogate.RewardModel). knn: the
    #   smallest worst ratio over the three recorded landscapes (docs/surrogate.md, issue 21)
    #   and ~50x cheaper to fit than gp
    acquisition: str | None = None  # ei | ucb | mean | mix: what is maximised. None: each
    #   use's default (SEARCH_DEFAULTS, FILTER_DEFAULTS), each chosen for that use
    kappa: float = 2.0  # ucb's weight of the standard deviation
    filter: int = 1  # any other strategy proposes filter x n, the best n are trained (1: off)
    initial: int | None = None  # rewards needed before the surrogate is trusted (uniform
    #   draws before); None: each use's default
    pool_size: int = 20_000  # candidates drawn when a space is too large to enumerate
    refit_growth: float = 0.05  # refit once the rewards told grew by this share (at least 1)
    prior: str | None = None  # an earlier run's directory or a reward table CSV whose ranks
    #   the surrogate starts from (controller.prior); strategy surrogate and predicted order

    RANGES: ClassVar[dict[str, str]] = {
        "kappa": "[0, 100]", "filter": "[1, 100]", "initial": "[1, 100000]",
        "pool_size": "[1, 1000000]", "refit_growth": "[0, 1]"}

    def for_search(self) -> SurrogateConfig:
        """This block with the model-based search's defaults where it leaves them open."""
        return self._resolved(SEARCH_DEFAULTS)

    def for_filter(self) -> SurrogateConfig:
        """This block with the filter's defaults where it leaves them open."""
        return self._resolved(FILTER_DEFAULTS)

    def _resolved(self, defaults: dict[str, object]) -> SurrogateConfig:
        from dataclasses import replace

        return replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"surrogate.model {self.model!r} is not one of {', '.join(MODELS)}")
        if self.acquisition is not None and self.acquisition not in ACQUISITIONS:
            raise ValueError(f"surrogate.acquisition {self.acquisition!r} is not one of "
                             f"{', '.join(ACQUISITIONS)}")
        if not 0.0 <= self.kappa <= 100.0:
            raise ValueError(f"surrogate.kappa must be in [0, 100], got {self.kappa!r}")
        if not 1 <= self.filter <= 100:
            raise ValueError(f"surrogate.filter must be in [1, 100], got {self.filter!r}")
        if self.initial is not None and not 1 <= self.initial <= 100_000:
            raise ValueError(f"surrogate.initial must be in [1, 100000], got {self.initial!r}")
        if not 1 <= self.pool_size <= 1_000_000:
            raise ValueError(f"surrogate.pool_size must be in [1, 1000000], "
                             f"got {self.pool_size!r}")
        if not 0.0 <= self.refit_growth <= 1.0:
            raise ValueError(f"surrogate.refit_growth must be in [0, 1], "
                             f"got {self.refit_growth!r}")
