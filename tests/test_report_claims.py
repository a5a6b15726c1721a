"""What the HTML report says about a run agrees with the run (issue 22, items 2, 3, 7, 11):
random search's baseline counts functions and names the order used, ties and the seed
noise caveat are those `top` prints, the task line counts child trainings, and the
resolved config lists only the sections the strategy used."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil

import pytest

from search.config import config_from_text
from search.inspect.run_progress import random_baseline
from search.inspect.run_summary import summarize_run
from search.launch import run_search
from search.store import Store

SPACE = "space: {units: 1, unary: [identity, neg, sigmoid, tanh], binary: [add, mul, max]}"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """An exhaustive search of every function once (one spelling each)."""
    root = tmp_path_factory.mktemp("claims")
    config = config_from_text("\n".join([
        SPACE, "evaluate: tests.fake_tasks:instant", "backend: {kind: inline}",
        "strategy: {name: exhaustive, skip_duplicates: true}"]))
    run_dir, progress = run_search(config, out=root / "run")
    assert progress.stopped_by == "exhausted"
    with Store(run_dir) as store:
        summary = summarize_run(store, 5)
    return run_dir, summary


def test_a_run_that_scored_every_function_says_so_whatever_its_order(finished_run):
    _, summary = finished_run
    view = summary.overview
    assert view.space_functions == view.finished < view.space_size  # functions, not sequences
    config = {**view.config, "strategy": {**view.config["strategy"], "order": "predicted"}}
    for seen in (view, dataclasses.replace(view, config=config)):
        note = random_baseline(seen, summary.progress.rewards).note
        assert "scored every function of the space" in note and "indicative" not in note


def test_a_partial_run_counts_functions_and_names_its_order(finished_run):
    _, summary = finished_run
    view = summary.overview
    config = {**view.config, "strategy": {**view.config["strategy"], "order": "predicted"}}
    partial = dataclasses.replace(view, finished=5, config=config)
    note = random_baseline(partial, summary.progress.rewards[:5]).note
    assert f"5 of the space's {view.space_functions} distinct functions" in note
    assert "best predicted first" in note and "token sequences" not in note
    enumerated = dataclasses.replace(partial, config=view.config)
    assert "the space's enumeration order" in random_baseline(enumerated, [0.5]).note


def _tie_the_top_two(run_dir) -> list[int]:
    with Store(run_dir, writer=True) as writer:
        first, second = writer.top(2)
        with writer.transaction("tie") as db:
            db.execute("UPDATE candidates SET reward=?, reward_text=? WHERE id=?",
                       (first.reward, repr(first.reward), second.id))
        return [first.id, second.id]


def test_the_report_marks_ties_and_the_noise_caveat_as_top_does(finished_run, tmp_path):
    from search.cli import main
    from search.inspect.formats import TIE_NOTE
    from search.inspect.top import noise_line, top_table

    run_dir = tmp_path / "run"
    shutil.copytree(finished_run[0], run_dir)
    _tie_the_top_two(run_dir)
    assert main(["report", str(run_dir), "-o", str(tmp_path / "r.html"), "-k", "5"]) == 0
    page = html.unescape((tmp_path / "r.html").read_text())
    with Store(run_dir) as store:
        table, noise = top_table(store, 5), noise_line(store, 1)
    assert "| 1= |" in table and "| 2= |" in table and TIE_NOTE in table  # what top says
    assert re.search(r"<td[^>]*>1=</td>", page) and re.search(r"<td[^>]*>2=</td>", page)
    assert not re.search(r"<td[^>]*>3=</td>", page)
    assert TIE_NOTE in page
    assert "One seed per function" in noise and _words(noise) in _words(page)


def _words(text: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", text).replace("`", "").split())


def test_the_task_line_counts_child_trainings_not_prescreened_functions(finished_run):
    _, summary = finished_run
    view = summary.overview
    prescreened = view.finished - view.trained
    assert prescreened > 0  # the space has invalid functions: the check can fail
    assert [count for _, count in view.fidelities] == [view.trained]
    from search.inspect.html_report import overview_section

    text = _words(html.unescape(str(overview_section(view))))
    assert f"({view.trained} child trainings)" in text
    assert f"({view.finished} evaluations)" not in text
    assert f"{view.space_size} token sequences, {view.space_functions} distinct functions" in text


def test_the_resolved_config_lists_only_what_the_strategy_used(finished_run, tmp_path):
    from search.cli import main

    run_dir, _ = finished_run
    assert main(["report", str(run_dir), "-o", str(tmp_path / "r.html")]) == 0
    page = html.unescape((tmp_path / "r.html").read_text())
    (shown,) = re.findall(r"<pre>(.*?)</pre>", page, flags=re.S)
    assert "skip_duplicates: true" in shown and "order: enumeration" in shown
    for unused in ("hidden_size", "population_size", "ppo_clip", "elite_size", "\nsurrogate:"):
        assert unused not in shown, unused
    assert "config.yaml in the run directory has every key" in shown
    assert "hidden_size" in (run_dir / "config.yaml").read_text()  # the file keeps them all


def test_each_strategy_keeps_its_own_settings():
    from search.config import RunConfig, to_dict
    from search.inspect.config_view import used_config

    full = to_dict(RunConfig())
    for name, kept, gone in (("reinforce", "elite_weight", "population_size"),
                             ("evolution", "sample_size", "lr"), ("ppo", "ppo_epochs", "order")):
        used = used_config({**full, "strategy": {**full["strategy"], "name": name}})
        assert kept in used["strategy"] and gone not in used["strategy"], name
        assert "surrogate" not in used
    predicted = {**full, "strategy": {**full["strategy"], "name": "exhaustive",
                                      "order": "predicted"}}
    assert used_config(predicted)["surrogate"]["acquisition"] == "mean"  # what it used
    assert used_config(predicted)["surrogate"]["initial"] == 4
    filtered = {**full, "surrogate": {**full["surrogate"], "filter": 4}}
    assert used_config(filtered)["surrogate"]["acquisition"] == "ei"
    mine = {**filtered, "surrogate": {**filtered["surrogate"], "initial": 12}}
    assert used_config(mine)["surrogate"]["initial"] == 12


def test_every_strategy_setting_is_read_by_some_strategy():
    """A field added to StrategyConfig without saying who reads it would vanish from
    every report's config."""
    from dataclasses import fields

    from controller.config import FIELDS_READ, NAMES, StrategyConfig

    assert set(FIELDS_READ) == set(NAMES)
    read = {name for names in FIELDS_READ.values() for name in names}
    assert {f.name for f in fields(StrategyConfig)} - {"name", "seed"} == read
