"""``actsearch plot``: the top functions, their derivatives, and every reward of the search.

One figure (matplotlib, Agg backend, no display needed):

* small multiples, one panel per top function, so no curve hides another: f(x)
  solid and f'(x) dashed (torch autograd, so what is drawn is what trains) on
  [-6, 6], ReLU and Swish (beta = 1) in grey behind them. A function with beta is
  drawn at its **learned** beta: the mean over channels and activation sites of
  the best evaluation's trained values (``info["beta"]``); the panel's title says
  which beta it shows, and says so when two panels show the same curve. Each
  panel has its own y range, every value of its f and f' (at least [-1, 1]), so
  no curve is clipped and one steep function does not flatten the rest; only
  beyond ±12 (exp, cosh) is a range cut, as the report's panels are, and the
  title says so;
* the reward of every child training as a dot, in the order they finished,
  with the best reward so far as a line over them; the y axis spans the ok
  rewards (its bottom cut at three interquartile ranges below the lower
  quartile; ok rewards under it are triangles on the edge), failed trainings
  are crosses on the bottom edge;
* one legend, outside the panels.
"""

from __future__ import annotations

import math
import statistics
import textwrap
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from search.inspect.formats import beta_fmt, fmt, reward_scale, scaled_label
from search.rows import Candidate, Evaluation
from search.store import Store
from space import parse

RANGE = 6.0
COLUMNS = 4
Y_LIMIT = 12.0  # a panel's y range stops here (exponentials); the report's panels do too
REFERENCES = {"ReLU": ("max0(x)", ":"), "Swish (β = 1)": ("x * sigmoid(x)", "-.")}
GREY = "0.6"


def curve(text: str, beta: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, f(x), f'(x)) on [-6, 6] for an expression's text, at ``beta``."""
    x = torch.linspace(-RANGE, RANGE, 601, dtype=torch.float64, requires_grad=True)
    y = parse(text)(x, beta)
    dy = None  # a constant (a pool may list `1`) does not depend on x: f' = 0
    if y.requires_grad:
        (dy,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    if dy is None:
        dy = torch.zeros_like(x)
    y = y.expand_as(x)
    return x.detach().numpy(), y.detach().numpy(), dy.numpy()


def drawn_beta(store: Store, candidate: Candidate, beta_init: float) -> tuple[float, str]:
    """The beta to draw a function at and where it comes from: the mean learned beta of
    its best evaluation that reports one ("learned"), else the initial beta ("initial")."""
    reported = [e for e in store.evaluations(candidate.id) if isinstance(e.info.get("beta"), list)
                and e.reward is not None and math.isfinite(e.reward)]
    if not reported:
        return beta_init, "initial"
    best = max(reported, key=lambda e: (e.status == "ok", e.rung, e.reward))
    values = [float(v) for site in best.info["beta"]
              for v in (site if isinstance(site, list) else [site])]
    return (statistics.fmean(values), "learned") if values else (beta_init, "initial")


def _beta_init(store: Store) -> float:
    task = (store.config() or {}).get("task", {})  # shapes checked (search.rows)
    return float(task.get("beta_init", 1.0))


def figure(store: Store, k: int) -> Figure:
    """The figure for the run's ``k`` best functions (see the module docstring)."""
    top = store.top(k)
    rows = max(1, math.ceil(len(top) / COLUMNS))
    fig = plt.figure(figsize=(4.2 * COLUMNS + 2.4, 3.0 * rows + 3.6), layout="constrained")
    grid = fig.add_gridspec(rows + 1, COLUMNS, height_ratios=[3.0] * rows + [3.2])
    beta_init = _beta_init(store)
    drawn = []
    for candidate in top:
        expr = parse(candidate.text)
        beta, source = drawn_beta(store, candidate, beta_init) if expr.uses_beta else (None, "")
        drawn.append((candidate, beta, source, curve(candidate.text, beta or beta_init)))
    references = {name: curve(text) for name, (text, _) in REFERENCES.items()}
    first = None
    for i, (candidate, beta, source, (x, y, dy)) in enumerate(drawn):
        ax = fig.add_subplot(grid[i // COLUMNS, i % COLUMNS], sharex=first)
        first = first or ax
        ax.set_label(f"function {i + 1}")
        for name, (_, style) in REFERENCES.items():
            ax.plot(references[name][0], references[name][1], style, color=GREY, lw=1.0,
                    label=name if i == 0 else "_")
        color = f"C{i % 10}"
        ax.plot(x, y, "-", color=color, lw=2.0, label="f(x)" if i == 0 else "_",
                gid=f"f {candidate.id}")
        ax.plot(x, dy, "--", color=color, lw=1.3, label="f′(x)" if i == 0 else "_",
                gid=f"df {candidate.id}")
        ax.axhline(0, color="0.85", lw=0.6, zorder=0)
        ax.axvline(0, color="0.85", lw=0.6, zorder=0)
        ax.set_xlim(-RANGE, RANGE)
        low, high, cut = _y_range(y, dy)  # per panel: one function's range clips no other
        ax.set_ylim(low, high)
        same = [j + 1 for j, other in enumerate(drawn) if j != i
                and np.allclose(other[3][1], y, rtol=1e-6, atol=1e-9, equal_nan=True)]
        title = _title(i + 1, candidate, beta, source, same)
        ax.set_title(title + (f"\ncut at ±{Y_LIMIT:g}" if cut else ""), fontsize=8.5, loc="left")
    ax_r = fig.add_subplot(grid[rows, :])
    ax_r.set_label("rewards")
    _rewards(ax_r, store)
    what = ("f and f′ at the learned β where the function has one (mean over channels and "
            "sites of its best evaluation)")
    fig.suptitle(f"top {len(top)} functions of {store.run_dir.name}: {what}", fontsize=10)
    handles, labels = [], []
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
    return fig


def _title(rank: int, candidate: Candidate, beta: float | None, source: str,
           same: list[int]) -> str:
    name = textwrap.shorten(candidate.text, width=44, placeholder=" …")
    reward = fmt(candidate.reward)
    line = f"reward {reward} ({candidate.status})"
    if beta is not None:
        line += f", β = {beta_fmt(beta)} ({source})"
    if same:
        line += f"\nsame curve as {', '.join(f'#{j}' for j in same)} at the β drawn"
    return f"#{rank} {name}\n{line}"


def _y_range(y: np.ndarray, dy: np.ndarray) -> tuple[float, float, bool]:
    """(low, high, cut): every value of f and f' on the panel, at least [-1, 1], with a
    margin; cut at ``Y_LIMIT`` (exp, cosh), as the report's panels are, and then says so."""
    values = np.concatenate([y[np.isfinite(y)], dy[np.isfinite(dy)]])
    if values.size == 0:
        return -1.5, 1.5, False
    low, high = min(float(values.min()), -1.0), max(float(values.max()), 1.0)
    cut = low < -Y_LIMIT or high > Y_LIMIT
    low, high = max(low, -Y_LIMIT), min(high, Y_LIMIT)
    margin = 0.08 * (high - low)
    return low - margin, high + margin, cut


def _rewards(ax: plt.Axes, store: Store) -> None:
    """Every training's reward as a dot (crosses for failures), the best so far as a line."""
    trainings = sorted((e for e in store.evaluations()
                        if e.worker != "prescreen" and e.finished is not None),
                       key=lambda e: (e.finished, e.id))
    scale = reward_scale(e.reward for e in trainings)
    if scale != 1.0:  # rewards of 1e308 (a replay table's) are drawn as 1 (× 1e+308)
        trainings = [e if e.reward is None else replace(e, reward=e.reward / scale)
                     for e in trainings]
    order = range(1, len(trainings) + 1)
    ok = [(i, e) for i, e in zip(order, trainings) if e.status == "ok" and _finite(e.reward)]
    ok_at = {i for i, _ in ok}
    failed = [(i, e) for i, e in zip(order, trainings) if i not in ok_at]
    low, high = _reward_range([e.reward for _, e in ok]
                              or [e.reward for e in trainings if _finite(e.reward)])
    below = [(i, e) for i, e in ok if e.reward < low]
    ok = [(i, e) for i, e in ok if e.reward >= low]
    for rung in sorted({e.rung for _, e in ok}):
        points = [(i, e.reward) for i, e in ok if e.rung == rung]
        steps = next((e.steps for _, e in ok if e.rung == rung), None)
        label = "one child training" if rung == 0 and not any(e.rung for _, e in ok) else (
            f"training at rung {rung}" + (f" ({steps} steps)" if steps else ""))
        ax.scatter(*zip(*points), s=14, color=f"C{rung}", alpha=0.7, label=label, zorder=2)
    if below:
        lowest = min(e.reward for _, e in below)
        ax.scatter([i for i, _ in below], [low] * len(below), marker="v", s=22,
                   facecolors="none", edgecolors="C0", clip_on=False, zorder=3,
                   label=f"ok, below the axis (lowest {lowest:.4g}; on the edge)")
    if failed:
        values = sorted({_fmt(e.reward) for _, e in failed})
        ax.scatter([i for i, _ in failed], [low] * len(failed), marker="x", s=22, color="C3",
                   clip_on=False, zorder=3,
                   label=f"diverged or failed (reward {', '.join(values)}; on the edge)")
    best = _best_so_far(trainings, store)
    if any(math.isfinite(b) for b in best):
        ax.step(list(order), best, where="post", color="k", lw=1.5, label="best so far",
                zorder=4)
    ax.set_xlim(0, max(1, len(trainings)) + 1)
    ax.set_ylim(low, high)
    ax.set_xlabel("child trainings, in the order they finished")
    ax.set_ylabel(scaled_label("reward", scale))
    ax.set_title("the reward of every child training, and the best function so far",
                 fontsize=9, loc="left")


def _reward_range(rewards: list[float]) -> tuple[float, float]:
    """The rewards' range with a margin, its bottom cut at three interquartile ranges below
    the lower quartile: a few chance-level outliers must not squeeze the rest into a band."""
    if not rewards:
        return 0.0, 1.0
    q1, q3 = np.percentile(rewards, [25, 75])
    low, high = max(min(rewards), float(q1 - 3 * (q3 - q1))), max(rewards)
    margin = 0.08 * (high - low) or 0.01
    return low - margin, high + margin


def _best_so_far(trainings: list[Evaluation], store: Store) -> list[float]:
    """After each training, the best mean reward of a (function, rung) whose trainings all
    finished ok by then (a function's reward is the mean over its seeds)."""
    size: dict[tuple[int, int], int] = {}
    for e in store.evaluations():
        size[(e.candidate_id, e.rung)] = size.get((e.candidate_id, e.rung), 0) + 1
    seen: dict[tuple[int, int], list[Evaluation]] = {}
    best, out = -math.inf, []
    for e in trainings:
        group = seen.setdefault((e.candidate_id, e.rung), [])
        group.append(e)
        if len(group) == size[(e.candidate_id, e.rung)] and all(
                g.status == "ok" and _finite(g.reward) for g in group):
            best = max(best, statistics.fmean(g.reward for g in group))
        out.append(best if math.isfinite(best) else math.nan)
    return out


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def plot_run(store: Store, k: int, path: str | Path, kind: str | None = None) -> Path:
    """Draw the figure into ``path`` (``kind``: png, svg, pdf, ...; None: from its suffix)."""
    fig = figure(store, k)
    path = Path(path)
    fig.savefig(path, dpi=110, format=kind)
    plt.close(fig)
    return path
