"""``actsearch plot``: what a person sees, checked on the matplotlib Figure itself.

Every top function gets its own panel (no curve hides another), drawn at its learned
beta; the legend sits outside every panel; the reward panel shows each training and
is scaled to the rewards.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluator import Result
from search.cli import main
from search.inspect.formats import beta_fmt
from search.inspect.plot import GREY, curve, figure
from search.store import Store
from space import parse

SPACE = "space: {units: 1, unary: [identity, beta_mul, sigmoid, sin, tanh], binary: [mul, max]}"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("plot")
    config = root / "c.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:instant",
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}"]))
    assert main(["run", str(config), "--out", str(root / "run")]) == 0
    return root / "run"


def _figure(run_dir, k: int):
    with Store(run_dir) as store:
        return figure(store, k)


def _axes(fig, prefix: str):
    return [ax for ax in fig.axes if ax.get_label().startswith(prefix)]


def test_one_panel_per_function_each_with_its_curve_and_derivative(run_dir):
    fig = _figure(run_dir, 6)
    with Store(run_dir) as store:
        top = store.top(6)
    panels = _axes(fig, "function")
    assert len(panels) == len(top) == 6
    for ax, candidate in zip(panels, top):
        gids = sorted(line.get_gid() for line in ax.get_lines() if line.get_gid())
        assert gids == [f"df {candidate.id}", f"f {candidate.id}"]
        assert len([ln for ln in ax.get_lines() if ln.get_color() == GREY]) == 2  # ReLU, Swish
    assert "top 6 functions" in fig._suptitle.get_text()


def test_the_legend_is_outside_every_panel(run_dir):
    fig = _figure(run_dir, 8)
    fig.canvas.draw()
    (legend,) = fig.legends
    box = legend.get_window_extent()
    assert {"f(x)", "f′(x)", "ReLU", "Swish (β = 1)", "best so far"} <= {
        t.get_text() for t in legend.get_texts()}
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent()), ax.get_label()


def test_functions_with_beta_are_drawn_at_their_learned_beta(run_dir):
    with Store(run_dir) as store:
        expr = parse("sigmoid(x) * (beta * x)")
        candidate = store.find(expr.canonical, expr.fingerprint)
        rank = [c.id for c in store.top(100)].index(candidate.id) + 1
    fig = _figure(run_dir, rank)
    ax = _axes(fig, "function")[rank - 1]
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == f"f {candidate.id}"]
    learned = np.mean([0.5, 1.5, 2.0, 2.5])  # what tests.fake_tasks reports for beta
    assert np.allclose(line.get_ydata(), curve(candidate.text, learned)[1])
    assert not np.allclose(line.get_ydata(), curve(candidate.text, 1.0)[1])
    assert f"β = {beta_fmt(learned)} (learned)" in ax.get_title(loc="left")


def test_curves_equal_at_the_drawn_beta_are_named(tmp_path):
    """No learned beta recorded: max(beta*x, sin x) is drawn at beta = 1, where it is
    max(x, sin x); both panels say so (the README's old picture hid one under the other)."""
    with Store(tmp_path, writer=True) as store:
        store.add_run("", json.dumps({"task": {"beta_init": 1.0}}), "test", ["test"])
        for text, reward in (("max(beta * x, sin(x))", 0.39), ("max(x, sin(x))", 0.38)):
            expr = parse(text)
            _, [(eid, _)] = store.add_candidate(expr.canonical, expr.text, [], expr.fingerprint,
                                                "fid", 10, [0])
            store.record_result(eid, Result(status="ok", reward=reward).to_dict(), "w")
    first, second = _axes(_figure(tmp_path, 2), "function")
    assert "β = 1.00 (initial)" in first.get_title(loc="left")
    assert "same curve as #2" in first.get_title(loc="left")
    assert "same curve as #1" in second.get_title(loc="left")


def test_the_reward_panel_shows_every_training_scaled_to_the_rewards(run_dir):
    fig = _figure(run_dir, 4)
    (ax,) = _axes(fig, "rewards")
    with Store(run_dir) as store:
        rewards = [e.reward for e in store.evaluations() if e.worker != "prescreen"]
    dots = sum(len(c.get_offsets()) for c in ax.collections)
    assert dots == len(rewards)
    low, high = ax.get_ylim()
    assert min(rewards) - 0.1 < low < min(rewards) and max(rewards) < high < max(rewards) + 0.1
    (best,) = [ln for ln in ax.get_lines() if ln.get_label() == "best so far"]
    assert best.get_ydata()[-1] == pytest.approx(max(rewards))


def test_failed_trainings_are_crosses_on_the_edge(tmp_path):
    config = tmp_path / "nan.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:nan",
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}",
                                 "budget: {max_evaluations: 3}"]))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    (ax,) = _axes(_figure(tmp_path / "run", 4), "rewards")
    (crosses,) = ax.collections
    assert len(crosses.get_offsets()) == 3 and "diverged or failed" in crosses.get_label()


def test_a_few_chance_level_rewards_do_not_squeeze_the_rest(tmp_path):
    """The digits search: most rewards near 0.96, two at chance (0.1). The axis spans the
    many; the two are triangles on its bottom edge."""
    rewards = [0.95 + 0.001 * i for i in range(20)] + [0.1, 0.12]
    with Store(tmp_path, writer=True) as store:
        for i, reward in enumerate(rewards):
            text = f"x + {i + 1} * sin(x)"
            expr = parse(text)
            _, [(eid, _)] = store.add_candidate(expr.canonical, expr.text, [], expr.fingerprint,
                                                "fid", 10, [0])
            store.record_result(eid, Result(status="ok", reward=reward).to_dict(), "w")
    (ax,) = _axes(_figure(tmp_path, 2), "rewards")
    low, high = ax.get_ylim()
    assert 0.9 < low < 0.95 and 0.969 < high < 0.99
    (edge,) = [c for c in ax.collections if "below the axis" in c.get_label()]
    assert len(edge.get_offsets()) == 2 and "lowest 0.1" in edge.get_label()


def test_no_panel_clips_its_curves(tmp_path):
    """Issue 22: one shared y range stopped at -1.5 while sin(x) + tanh(x) reaches -1.96.
    Each panel now spans its own f and f'; an exponential is cut at ±12, and says so."""
    with Store(tmp_path, writer=True) as store:
        store.add_run("", json.dumps({"task": {"beta_init": 1.0}}), "test", ["test"])
        texts = ("sin(x) + tanh(x)", "x * sigmoid(x)", "exp(x)", "sigmoid(x)")
        for reward, text in zip((0.5, 0.4, 0.3, 0.2), texts):
            expr = parse(text)
            _, [(eid, _)] = store.add_candidate(expr.canonical, expr.text, [], expr.fingerprint,
                                                "fid", 10, [0])
            store.record_result(eid, Result(status="ok", reward=reward).to_dict(), "w")
    panels = _axes(_figure(tmp_path, 4), "function")
    for ax, text in zip(panels, texts):
        _, y, dy = curve(text)
        low, high = ax.get_ylim()
        if text == "exp(x)":
            assert high < 14 and "cut at ±12" in ax.get_title(loc="left")
            continue
        assert low <= min(y.min(), dy.min()) and max(y.max(), dy.max()) <= high, text
        assert "cut at" not in ax.get_title(loc="left")
    assert panels[0].get_ylim()[0] < -1.96
