"""The report's figures: matplotlib (Agg) drawn into inline SVG, nothing fetched.

Each function returns one ``<svg>`` element as text, ready to sit inside an
HTML page: the XML prolog, the DOCTYPE and the RDF metadata are dropped, and
every id (and every reference to one) is prefixed with the figure's own name,
so many figures can share one page. The hash salt is fixed, so a figure is the
same SVG each time it is drawn from the same data. A figure keeps its natural
size (width and height in pt); the page's CSS shrinks it to a narrower window.
Text stays text (``svg.fonttype: none``), drawn in the reader's own sans-serif
font. matplotlib and torch are imported when a figure is drawn, never at import
time.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Any

from search.inspect.formats import beta_fmt, reward_scale, scaled_label
from search.inspect.run_summary import Progress, RandomBaseline, TopRow
from search.rows import Evaluation

RUN_COLOR, RANDOM_COLOR, FUNCTION_COLOR, LOSS_COLOR = "#1f5fa8", "#8a8a8a", "#c0392b", "#6c3483"
REFERENCE_STYLE = {"ReLU": ("k", "--"), "Swish (β = 1)": ("k", ":")}  # keys: plot.REFERENCES
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
         "axes.spines.right": False, "svg.fonttype": "none",
         "font.family": ["sans-serif"], "axes.grid": True, "grid.color": "#e6e6e6",
         "grid.linewidth": 0.6}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_svg(fig: Any, figure_id: str, label: str) -> str:
    """The figure as one inline ``<svg>`` element (closes the figure)."""
    plt = _pyplot()
    buffer = io.StringIO()
    with plt.rc_context({"svg.hashsalt": figure_id}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # drop <?xml ...?> and the DOCTYPE (a DTD address)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.S)
    # matplotlib numbers its groups per figure (figure_1, axes_1, ...): prefix every id
    # and every reference to one, so many figures can share a page
    text = re.sub(r'\bid="([^"]+)"', rf'id="{figure_id}-\1"', text)
    text = re.sub(r'(href="#|url\(#)([^")]+)', rf"\1{figure_id}-\2", text)
    aria = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return text.replace("<svg ", f'<svg class="figure" role="img" aria-label="{aria}" ', 1)


def _figure(width: float, height: float, columns: int = 1):
    fig, axes = _pyplot().subplots(1, columns, figsize=(width, height), squeeze=False)
    return fig, list(axes[0])


def _styled(draw):
    """Run a drawing function under the report's rc settings."""
    def wrapper(*args, **kwargs):
        with _pyplot().rc_context(STYLE):
            return draw(*args, **kwargs)
    wrapper.__doc__, wrapper.__name__ = draw.__doc__, draw.__name__
    return wrapper


# -- progress ---------------------------------------------------------------------------


@_styled
def progress_figure(progress: Progress, baseline: RandomBaseline, reward_label: str) -> str:
    """Best reward so far against functions scored and against wall time."""
    fig, (by_count, by_time) = _figure(10.5, 3.6, 2)
    scale = reward_scale([*progress.rewards, *baseline.curve])
    best = [b / scale for b in progress.best_so_far]
    curve = [c / scale for c in baseline.curve]
    reward_label = scaled_label(reward_label, scale)
    n = range(1, len(best) + 1)
    by_count.step(n, best, where="post", color=RUN_COLOR, lw=1.8, label="this run")
    if curve:
        by_count.plot(range(1, len(curve) + 1), curve, color=RANDOM_COLOR,
                      ls="--", lw=1.4, label="random search (expected)")
    points = [(i, r / scale) for i, r in enumerate(progress.rewards, start=1)
              if math.isfinite(r)]
    if points:
        by_count.scatter(*zip(*points, strict=True), s=6, color=RUN_COLOR, alpha=0.25,
                         lw=0, label="each function")
    by_count.set_xlabel("functions scored")
    by_count.set_ylabel(reward_label)
    by_count.set_title("best reward so far")
    by_count.legend(loc="best", frameon=True, facecolor="white", edgecolor="none",
                    framealpha=0.9)
    span = max(progress.seconds, default=0.0)
    scale, unit = (3600, "hours") if span >= 3 * 3600 else (60, "minutes") if span >= 180 \
        else (1, "seconds")
    times = [s / scale for s in progress.seconds]
    by_time.step(times, best, where="post", color=RUN_COLOR, lw=1.8)
    by_time.set_xlabel(f"wall time since the run started ({unit})")
    by_time.set_title("best reward so far, against time")
    for ax in (by_count, by_time):
        ax.set_xlim(left=0)
        _reward_limits(ax, [*best, *curve])
    fig.tight_layout()
    return to_svg(fig, "progress", "best reward so far against functions scored and time")


def _reward_limits(ax: Any, values: Sequence[float]) -> None:
    finite = [v for v in values if math.isfinite(v)]
    if finite:
        low, high = min(finite), max(finite)
        pad = 0.05 * (high - low) or 0.01
        ax.set_ylim(low - pad, high + pad)


# -- one function ------------------------------------------------------------------------


@_styled
def function_figure(row: TopRow, reward_label: str) -> str:
    """f(x) and f'(x) on [-6, 6] beside ReLU and Swish, and the learning curves."""
    from search.inspect.plot import REFERENCES, curve
    from space import parse

    text = row.candidate.text
    fig, (ax_f, ax_d, ax_c) = _figure(10.5, 3.0, 3)
    values, slopes = [], []
    for name, (reference, _) in REFERENCES.items():  # (text, plot.py's style): ours below
        x, y, dy = curve(reference)
        color, ls = REFERENCE_STYLE[name]
        ax_f.plot(x, y, color=color, ls=ls, lw=1.0, label=name)
        ax_d.plot(x, dy, color=color, ls=ls, lw=1.0, label=name)
    x, y, dy = curve(text)
    uses_beta = parse(text).uses_beta
    ax_f.plot(x, y, color=FUNCTION_COLOR, lw=1.8,
              label=f"f, β = {beta_fmt(1.0)}" if uses_beta else "f")
    ax_d.plot(x, dy, color=FUNCTION_COLOR, lw=1.8)
    values.extend(y)
    slopes.extend(dy)
    if row.beta is not None and uses_beta and abs(row.beta.mean - 1.0) > 1e-3:
        x, y, dy = curve(text, beta=row.beta.mean)
        label = f"β = {beta_fmt(row.beta.mean)} (learned mean)"
        ax_f.plot(x, y, color=FUNCTION_COLOR, ls="--", lw=1.2, label=label)
        ax_d.plot(x, dy, color=FUNCTION_COLOR, ls="--", lw=1.2)
        values.extend(y)
        slopes.extend(dy)
    ax_f.set_title("f(x)")
    ax_d.set_title("f′(x)")
    _clip(ax_f, values, (-1.0, 6.0), 12.0)
    _clip(ax_d, slopes, (-0.2, 1.2), 5.0)
    for ax in (ax_f, ax_d):
        ax.set_xlabel("x")
        ax.set_xlim(-6, 6)
        ax.axhline(0, color="0.75", lw=0.6)
        ax.axvline(0, color="0.75", lw=0.6)
    ax_f.legend(loc="upper left", frameon=False)
    _learning_curves(ax_c, row.evaluations, reward_label)
    fig.tight_layout()
    return to_svg(fig, f"function-{row.candidate.id}",
                  f"{text}: its values and derivative beside ReLU and Swish, and its "
                  "learning curves")


def _clip(ax: Any, values: Sequence[float], keep: tuple[float, float], limit: float) -> None:
    """Y limits that show the references and the function, cut at +-limit (exp, cosh)."""
    finite = [v for v in values if math.isfinite(v)]
    low = max(min([*finite, keep[0]]), -limit)
    high = min(max([*finite, keep[1]]), limit)
    pad = 0.06 * (high - low)
    ax.set_ylim(low - pad, high + pad)


def _learning_curves(ax: Any, evaluations: Sequence[Evaluation], reward_label: str) -> None:
    """Train loss (left axis) and validation accuracy (right axis), one line per training;
    a validation measured once (at the end) is written beside its line, not drawn on an
    axis of its own."""
    trained = [e for e in evaluations if e.curves and e.status != "running"]
    lines, finals = [], []
    for e in trained:
        steps = e.curves.get("step", [])
        loss = e.curves.get("train_loss", [])
        val = e.curves.get("val_accuracy", [])
        val_steps = e.curves.get("val_step") or (steps if len(steps) == len(val) else [])
        label = f"seed {e.seed}" + (f", rung {e.rung}" if e.rung else "")
        lines.append((label, (steps, loss) if loss and len(loss) == len(steps) else None,
                      (val_steps, val) if val and len(val_steps) == len(val) else None))
    several = any(v is not None and len(v[0]) > 1 for _, _, v in lines)
    accuracy = ax.twinx() if several else None
    for index, (label, loss, val) in enumerate(lines):
        alpha = 1.0 if index == len(lines) - 1 else 0.55
        if loss is not None:
            ax.plot(*loss, color=LOSS_COLOR, lw=1.2, alpha=alpha, marker=".", ms=3,
                    label=f"train loss, {label}" if len(lines) > 1 else "train loss")
        if val is not None and accuracy is not None:
            accuracy.plot(*val, color=RUN_COLOR, lw=1.2, alpha=alpha, marker="o", ms=3)
        elif val is not None:
            finals.append(f"{label}: {val[1][-1]:.4f} at step {val[0][-1]:g}")
    ax.set_title("learning curves")
    ax.set_xlabel("training step")
    if accuracy is not None:
        accuracy.grid(False)
        accuracy.spines["right"].set_visible(True)
        accuracy.set_ylabel("validation accuracy", color=RUN_COLOR)
    if any(loss is not None for _, loss, _ in lines):
        ax.set_ylabel("train loss", color=LOSS_COLOR)
        if finals:
            ax.text(0.97, 0.95, "validation accuracy\n" + "\n".join(finals[-4:]),
                    ha="right", va="top", transform=ax.transAxes, color=RUN_COLOR, fontsize=8)
    elif accuracy is None:
        message = ("validation accuracy\n" + "\n".join(finals[-4:])) if finals else \
            "no curves recorded\n(pre-screened, or the task reports none)"
        ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
                color="0.35")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)


# -- rewards, surrogate -------------------------------------------------------------------


@_styled
def histogram_figure(rewards: Sequence[float], reward_label: str) -> str:
    """The distribution of the ok functions' rewards."""
    fig, (ax,) = _figure(5.6, 3.0)
    bins = max(10, min(50, int(math.sqrt(len(rewards)) * 2)))
    scale = reward_scale(rewards)  # rewards of 1e308 (a table's) drawn as 1 (× 1e+308)
    ax.hist([r / scale for r in rewards], bins=bins, color=RUN_COLOR, alpha=0.85,
            edgecolor="white", lw=0.4)
    ax.set_xlabel(scaled_label(reward_label, scale))
    ax.set_ylabel("functions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"rewards of the {len(rewards)} functions trained without failure")
    fig.tight_layout()
    return to_svg(fig, "histogram", "histogram of the rewards")


@_styled
def surrogate_figure(pairs: Sequence[tuple[float, float]], reward_label: str) -> str:
    """Predicted against measured reward, with the diagonal."""
    fig, (ax,) = _figure(4.6, 4.0)
    predicted, measured = zip(*pairs, strict=True)
    ax.scatter(measured, predicted, s=12, color=RUN_COLOR, alpha=0.7, lw=0)
    low, high = min(*predicted, *measured), max(*predicted, *measured)
    ax.plot([low, high], [low, high], color=RANDOM_COLOR, ls="--", lw=1,
            label="predicted = measured")
    ax.set_xlabel(f"measured {reward_label}")
    ax.set_ylabel(f"predicted {reward_label}")
    ax.set_title("surrogate: predicted against measured")
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    return to_svg(fig, "surrogate", "surrogate predictions against measured rewards")
