"""Reward landscapes that need no training, for measuring search strategies.

A landscape maps a token sequence of a space to a reward in [0, 1] (like a
validation accuracy) and names the *function* a sequence spells, so that a
benchmark can treat repeats as the runner does: a function already evaluated
is answered with its recorded reward and costs nothing.

* ``ShapeLandscape`` (built from the functions themselves): a hidden target
  activation (default swish, x·σ(x)) is sampled on 101 points of [-6, 6]
  (float64, β = 1). A candidate's reward is ``1 / (1 + rmse)`` between its
  curve and the target's; a curve with a NaN or inf anywhere is invalid and
  gets 0. The function's key is its curve rounded to 6 decimals, so two
  spellings of one function are one evaluation.
* ``NKLandscape`` (synthetic, epistatic): each slot's token, paired with the
  next slot's token, looks up a value drawn once from U(0, 1); the reward is
  the mean over slots. One sequence is one function here.

Both add observation noise N(0, ``noise``) fixed per (function, run seed): a
function "trained" twice in a run would be answered from the store anyway.
The top 1% and all reported scores use the noise-free reward.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import torch

from space import SearchSpace, parse

Tokens = tuple[int, ...]
GRID = torch.linspace(-6.0, 6.0, 101, dtype=torch.float64)


def _noise(key: str, seed: int, scale: float) -> float:
    digest = hashlib.blake2b(f"{seed}|{key}".encode(), digest_size=8).digest()
    return float(np.random.default_rng(int.from_bytes(digest, "little")).normal(0.0, scale))


class Landscape:
    """Noise-free scores cached per sequence; ``reward`` adds the per-run noise."""

    name = "landscape"

    def __init__(self, space: SearchSpace, noise: float = 0.01) -> None:
        self.space = space
        self.noise = noise
        self._cache: dict[Tokens, tuple[str, float]] = {}

    def _evaluate(self, tokens: Tokens) -> tuple[str, float]:
        raise NotImplementedError

    def lookup(self, tokens: Tokens) -> tuple[str, float]:
        """(function key, noise-free score) of a sequence."""
        if tokens not in self._cache:
            self._cache[tokens] = self._evaluate(tokens)
        return self._cache[tokens]

    def score(self, tokens: Tokens) -> float:
        return self.lookup(tokens)[1]

    def free(self, key: str) -> bool:
        """Whether the runner would answer this function without a training."""
        return False

    def reward(self, tokens: Tokens, seed: int) -> float:
        key, value = self.lookup(tokens)
        return value + _noise(key, seed, self.noise) if self.noise else value


class ShapeLandscape(Landscape):
    """Closeness of a candidate's output curve on [-6, 6] to a hidden target's."""

    def __init__(self, space: SearchSpace, target: str = "x * sigmoid(x)",
                 noise: float = 0.01) -> None:
        super().__init__(space, noise)
        self.target_text = target
        self.name = f"shape({target})"
        self.target = self._curve(parse(target))

    @staticmethod
    def _curve(expr) -> torch.Tensor:
        with torch.no_grad():
            return torch.broadcast_to(torch.as_tensor(expr(GRID, beta=1.0)), GRID.shape)

    def _evaluate(self, tokens: Tokens) -> tuple[str, float]:
        curve = self._curve(self.space.decode(tokens))
        if not torch.isfinite(curve).all():
            return "invalid", 0.0
        key = hashlib.sha1(np.round(curve.numpy(), 6).tobytes()).hexdigest()
        rmse = float(torch.sqrt(torch.mean((curve - self.target) ** 2)))
        return key, (1.0 / (1.0 + rmse) if math.isfinite(rmse) else 0.0)


class NKLandscape(Landscape):
    """Mean over slots of a random value of (token, next slot's token)."""

    def __init__(self, space: SearchSpace, seed: int = 0, noise: float = 0.01) -> None:
        super().__init__(space, noise)
        self.name = "nk(k=1)"
        rng = np.random.default_rng(seed)
        slots = space.slots
        self.tables = [rng.random((len(slots[i].choices), len(slots[(i + 1) % len(slots)].choices)))
                       for i in range(len(slots))]

    def _evaluate(self, tokens: Tokens) -> tuple[str, float]:
        n = len(tokens)
        value = sum(self.tables[i][tokens[i], tokens[(i + 1) % n]] for i in range(n)) / n
        return ",".join(map(str, tokens)), float(value)


def top_threshold(landscape: Landscape, fraction: float = 0.01, sample: int = 20_000,
                  seed: int = 12345) -> tuple[float, str]:
    """Score a sequence needs to be in the landscape's top ``fraction`` of sequences.

    Exact (every sequence scored) when the space has at most ``sample``
    sequences; otherwise the quantile of ``sample`` uniform draws. Returns the
    threshold and how it was found.
    """
    space = landscape.space
    if space.size <= sample:
        scores = [landscape.score(tokens) for _, tokens in space.enumerate()]
        how = f"exact over {space.size:,}"
    else:
        rng = np.random.default_rng(seed)
        scores = []
        for _ in range(sample):
            tokens = tuple(int(s.allowed[rng.integers(len(s.allowed))]) for s in space.slots)
            scores.append(landscape.score(tokens))
        how = f"{sample:,} uniform draws of {space.size:,}"
    return float(np.quantile(scores, 1.0 - fraction, method="higher")), how


class TableLandscape(Landscape):
    """A recorded landscape: rewards replayed from a CSV through the ``table`` task
    (``evaluator.run_task``), so the benchmark scores exactly what a replayed search would.
    Functions missing from the table score the task's ``missing_reward`` (0) and cost no
    evaluation (``free``): in a recording they are the pre-screened ones."""

    name = "table"

    def __init__(self, space: SearchSpace, path: str, noise: float = 0.0) -> None:
        super().__init__(space, noise)
        self.task = {"name": "table", "path": path}
        self.name = f"table({path.rsplit('/', 1)[-1]})"
        self.missing: set[str] = set()

    def _evaluate(self, tokens: Tokens) -> tuple[str, float]:
        from evaluator import run_task

        expr = self.space.decode(tokens)
        result = run_task(expr.text, self.task)
        if result.status == "missing":
            self.missing.add(expr.fingerprint)
        return expr.fingerprint, float(result.reward)

    def free(self, key: str) -> bool:
        """A function the table lacks was rejected by the recording's pre-screen: the
        runner answers it without a training."""
        return key in self.missing
