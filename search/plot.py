"""``actsearch plot``: the top functions, their derivatives, and the search's progress.

Three panels (matplotlib, Agg backend, no display needed): the ``k`` best
functions on [-6, 6] with ReLU and Swish (beta = 1) for reference, their
first derivatives (torch autograd, so what is drawn is what trains), and the
best reward so far over the finished candidates in the order they finished.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from search.store import Store
from space import parse

RANGE = 6.0
REFERENCES = {"ReLU": "max0(x)", "Swish (β=1)": "x * sigmoid(x)"}


def curve(text: str, beta: float = 1.0) -> tuple[list[float], list[float], list[float]]:
    """(x, f(x), f'(x)) on [-6, 6] for an expression's text."""
    x = torch.linspace(-RANGE, RANGE, 601, dtype=torch.float64, requires_grad=True)
    y = parse(text)(x, beta)
    (dy,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    if dy is None:
        dy = torch.zeros_like(x)
    return x.detach().tolist(), y.detach().tolist(), dy.tolist()


def plot_run(store: Store, k: int, path: str | Path) -> Path:
    """Draw the figure into ``path`` (format from its suffix)."""
    top = store.top(k)
    fig, (ax_f, ax_d, ax_r) = plt.subplots(1, 3, figsize=(16, 5))
    for name, text in REFERENCES.items():
        x, y, dy = curve(text)
        ax_f.plot(x, y, "k--" if name == "ReLU" else "k:", lw=1.5, label=name)
        ax_d.plot(x, dy, "k--" if name == "ReLU" else "k:", lw=1.5, label=name)
    for rank, candidate in enumerate(top, start=1):
        x, y, dy = curve(candidate.text)
        label = f"{rank}. {candidate.text} ({candidate.reward:.3f})"
        ax_f.plot(x, y, lw=1.2, label=label)
        ax_d.plot(x, dy, lw=1.2, label=label)
    for ax, title in ((ax_f, "f(x)"), (ax_d, "f'(x)")):
        ax.set_title(f"top {len(top)} functions: {title} (β = 1)")
        ax.set_xlabel("x")
        ax.set_ylim(-4, 6) if ax is ax_f else ax.set_ylim(-1.5, 2.5)
        ax.axhline(0, color="0.8", lw=0.5)
        ax.axvline(0, color="0.8", lw=0.5)
    ax_f.legend(fontsize=7, loc="upper left")
    best, history = -math.inf, []
    for candidate in store.finished_in_order():
        reward = candidate.reward
        if reward is not None and math.isfinite(reward):
            best = max(best, reward)
        history.append(best if math.isfinite(best) else math.nan)
    ax_r.plot(range(1, len(history) + 1), history, color="C0")
    ax_r.set_title("best reward so far")
    ax_r.set_xlabel("finished candidates")
    ax_r.set_ylabel("reward (validation accuracy)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
