"""Training-free features of a candidate: the shape of its function.

A surrogate predicts a function's trained reward from what the function
looks like (AQuaSurF, Bingham & Miikkulainen 2023, used the outputs on N(0, 1)
samples). ``shape_features(expr)`` returns one fixed-length vector:

* f(x) and f'(x) (torch autograd, so what is measured is what trains) at
  ``TYPICAL`` quantiles of N(0, 1) (the distribution a batch-normalised
  pre-activation has) and at a grid on [-6, 6] (the tails, where growth and
  saturation show);
* each squashed with asinh, which is linear near 0 and logarithmic beyond, so
  an exp(x) that reaches 10^4 counts as ~10, not as a distance that drowns
  every other difference; non-finite values become ±``CAP`` (NaN: 0), with a
  last feature saying how many there were.

At the initial beta (1); beta moves during training, but the surrogate learns
how a function *starting* in a shape tends to end, which is what it is asked.
Features are plain numpy float64, cached per fingerprint by callers.
"""

from __future__ import annotations

import numpy as np
import torch

from space import Expression

TYPICAL = 48  # N(0, 1) quantiles
GRID = torch.linspace(-6.0, 6.0, 25, dtype=torch.float64)
CAP = 20.0  # squashed bound for +-inf and overflow (asinh(1e8) ~ 19.1)


def _points() -> torch.Tensor:
    levels = (torch.arange(TYPICAL, dtype=torch.float64) + 0.5) / TYPICAL
    return torch.cat([torch.special.ndtri(levels), GRID])


POINTS = _points()
SIZE = 2 * len(POINTS) + 1


def shape_features(expr: Expression, beta: float = 1.0) -> np.ndarray:
    """The feature vector of ``expr`` (length ``SIZE``)."""
    x = POINTS.clone().requires_grad_(True)
    try:
        y = expr(x, beta=beta)
        (dy,) = torch.autograd.grad(y.sum(), x, allow_unused=True) if y.requires_grad \
            else (None,)
    except (RuntimeError, ValueError, ArithmeticError):
        return np.concatenate([np.zeros(SIZE - 1), [1.0]])
    values = y.detach()
    slopes = torch.zeros_like(values) if dy is None else dy.detach()
    raw = torch.cat([values, slopes])
    bad = (~torch.isfinite(raw)).double().mean()
    squashed = torch.asinh(torch.nan_to_num(raw, nan=0.0, posinf=1e300, neginf=-1e300))
    squashed = squashed.clamp(-CAP, CAP)
    return np.concatenate([squashed.numpy(), [float(bad)]])


def feature_matrix(expressions: list[Expression], beta: float = 1.0) -> np.ndarray:
    """Features of several expressions, one row each."""
    if not expressions:
        return np.zeros((0, SIZE))
    return np.stack([shape_features(e, beta) for e in expressions])
