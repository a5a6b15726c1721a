"""Strategy checkpoints cannot run code (issue 25), and still resume every strategy exactly.

A store's checkpoint row is data (``search.checkpoint``): tagged JSON, tensors as
bytes. A row holding a pickle (a crafted one, or the older format) is never
unpickled: an older checkpoint is read by PyTorch's restricted reader, and one it
refuses is ignored in one line while the search resumes from its recorded results.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import random
import sqlite3
import subprocess
import sys
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from controller import NAMES, StrategyConfig, SurrogateConfig, make_strategy
from search import checkpoint
from search.config import config_from_text
from search.launch import run_search
from search.store import Store, StoreError
from space import SearchSpace
from tests.test_controller_resume import SPACE, drive

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
# The surrogate's pool is every function of a space this small (144 sequences), built in
# a moment; the others search the two-unit space, where the RNN seldom repeats itself.
SMALL = SearchSpace(1, unary=["identity", "neg", "sin", "tanh", "sigmoid", "max0"],
                    binary=["add", "mul", "max", "sigmoid_mul"])


def _config(name: str, **options) -> StrategyConfig:
    return StrategyConfig(name=name, seed=7, batch_size=4, population_size=8, sample_size=3,
                          hidden_size=8, **options)


CASES = {name: (_config(name), None, SPACE) for name in NAMES if name != "surrogate"} | {
    "surrogate": (_config("surrogate"), SurrogateConfig(initial=4), SMALL),
    "exhaustive order predicted": (_config("exhaustive", order="predicted"),
                                   SurrogateConfig(initial=4), SMALL),
    "exhaustive skip_duplicates": (_config("exhaustive", skip_duplicates=True), None, SPACE),
    **{f"{name}+filter": (_config(name), SurrogateConfig(filter=3, initial=4), SPACE)
       for name in ("random", "evolution", "reinforce")}}  # ppo's state is reinforce's


# -- every strategy, through the store ---------------------------------------------------


def _through_store(tmp_path: Path, state: dict) -> dict:
    with Store(tmp_path, writer=True) as store:
        store.save_checkpoint(state, told=1, outstanding=[((1, 2), 3)], counters={"p": 1})
        raw = store.db.execute("SELECT state FROM checkpoints").fetchone()[0]
        assert isinstance(raw, str) and raw.startswith('{"format":"actsearch-state"')
        loaded, outstanding, counters = store.latest_checkpoint()
    assert outstanding == [((1, 2), 3)] and counters == {"p": 1}
    return loaded


def _legacy_row(tmp_path: Path, blob: bytes) -> None:
    """A store whose newest checkpoint row holds ``blob`` (as an older actsearch wrote it:
    ``torch.save`` bytes), written behind the store's back."""
    with Store(tmp_path, writer=True) as store:
        store.save_checkpoint({"kind": "x"}, told=0, outstanding=[], counters={})
    with sqlite3.connect(tmp_path / "search.db") as db:
        db.execute("UPDATE checkpoints SET state=?", (blob,))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("legacy", [False, True], ids=["safe format", "older format"])
def test_every_strategy_resumes_exactly_from_a_stored_checkpoint(tmp_path, case, legacy):
    """Save mid-search through the store (this format, or an older ``torch.save`` row that
    is converted), restore into a fresh strategy: it proposes what the uninterrupted one
    would have, with results told out of order and proposals still out."""
    config, surrogate, space = CASES[case]
    rng = np.random.default_rng(0)
    original, pending = make_strategy(config, space, surrogate), []
    drive(original, 8, rng, pending)
    if legacy:
        buffer = io.BytesIO()
        torch.save(original.state_dict(), buffer)
        _legacy_row(tmp_path, buffer.getvalue())
        with Store(tmp_path, writer=True) as store:
            saved = store.latest_checkpoint()[0]
    else:
        saved = _through_store(tmp_path, original.state_dict())
    rng_state, pending_copy = rng.bit_generator.state, list(pending)
    uninterrupted = drive(original, 10, rng, pending)

    restored = make_strategy(config, space, surrogate)
    restored.load_state_dict(saved)
    rng.bit_generator.state = rng_state
    assert drive(restored, 10, rng, pending_copy) == uninterrupted
    assert uninterrupted  # something was proposed after the checkpoint


def test_the_encoding_keeps_every_type_a_state_holds(tmp_path):
    legacy_rng = np.random.RandomState(3)
    mt = np.random.Generator(np.random.MT19937(4))
    inner = OrderedDict(w=torch.randn(3, 2), step=torch.tensor(7.0))
    state = {
        "ints": [0, -1, 2**130], "floats": [0.1, float("inf"), float("-inf")],
        "tuple": (1, (2, 3), []), "by_int": {0: {"exp_avg": torch.zeros(2)}, 1: "b"},
        "by_tuple": {(1, 2): 0.5}, "none": None, "flags": [True, False], "text": "é\n",
        "pcg64": np.random.default_rng(5).bit_generator.state, "mt19937": mt.bit_generator.state,
        "random_state": legacy_rng.get_state(), "python_random": random.Random(6).getstate(),
        "arrays": [np.arange(6, dtype=np.int32).reshape(2, 3), np.zeros((0, 4)),
                   np.array([True, False]), np.float16([1.5])[0], np.int64(9)],
        "tensors": [torch.arange(12).reshape(3, 4).t(), torch.tensor(True),
                    torch.empty(0, 3), torch.Generator().manual_seed(1).get_state()],
        "module": inner,
    }
    back = _through_store(tmp_path, state)
    assert back.keys() == state.keys()
    assert back["ints"] == state["ints"] and back["floats"] == state["floats"]
    assert back["tuple"] == (1, (2, 3), []) and isinstance(back["tuple"][1], tuple)
    assert list(back["by_int"]) == [0, 1] and torch.equal(back["by_int"][0]["exp_avg"],
                                                          torch.zeros(2))
    assert back["by_tuple"] == {(1, 2): 0.5}
    for key in ("none", "flags", "text", "pcg64", "python_random"):
        assert back[key] == state[key], key
    assert back["mt19937"]["state"]["key"].dtype == np.uint32
    np.testing.assert_array_equal(back["mt19937"]["state"]["key"],
                                  state["mt19937"]["state"]["key"])
    restored = np.random.RandomState()
    restored.set_state(back["random_state"])
    assert restored.random() == legacy_rng.random()
    python_random = random.Random()
    python_random.setstate(back["python_random"])
    assert python_random.random() == random.Random(6).random()
    for got, want in zip(back["arrays"], state["arrays"]):
        assert type(got) is type(want) and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    for got, want in zip(back["tensors"], state["tensors"]):
        assert got.dtype == want.dtype and torch.equal(got, want)
    assert list(back["module"]) == ["w", "step"] and torch.equal(back["module"]["w"], inner["w"])


def test_a_state_holding_an_object_is_refused_when_saved_and_nothing_is_written(tmp_path):
    with Store(tmp_path, writer=True) as store:
        for bad, where in [({"x": [1, object()]}, r"state\['x'\]\[1\]"),
                           ({"f": lambda: 0}, "function"), ({"s": {1, 2}}, "set"),
                           ({"a": np.array([object()])}, "dtype object")]:
            with pytest.raises(TypeError, match=where):
                store.save_checkpoint(bad, told=0, outstanding=[], counters={})
        assert store.latest_checkpoint() is None


# -- a crafted pickle in the checkpoint row ------------------------------------------------


class _OpenMarker:
    """Unpickled, this creates the file ``path`` (``open(path, "w")``)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class _ShellMarker:
    """Unpickled, this runs ``touch path`` in a shell (``os.system``)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch '{self.path}'",))


def _crafted(kind: str, marker: Path) -> bytes:
    """A checkpoint blob that writes ``marker`` when it is unpickled."""
    if kind == "torch.save":  # what an older actsearch's checkpoint looks like
        buffer = io.BytesIO()
        torch.save({"kind": "random", "rng": _OpenMarker(marker)}, buffer)
        return buffer.getvalue()
    return pickle.dumps({"kind": "random", "rng": _ShellMarker(marker)}, protocol=2)


PAYLOADS = ["torch.save", "pickle"]


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_crafted_pickle_is_not_run_and_is_ignored_in_one_line(tmp_path, kind, caplog):
    marker = tmp_path / "marker"
    _legacy_row(tmp_path / "run", _crafted(kind, marker))
    with caplog.at_level(logging.WARNING), Store(tmp_path / "run", writer=True) as store:
        assert store.latest_checkpoint() is None
    assert not marker.exists(), "the checkpoint's pickle ran"
    [record] = caplog.records
    line = record.getMessage()
    assert "\n" not in line and "checkpoint 1 ignored" in line
    assert "resumes from its recorded results" in line and "weights_only" not in line


RUN_CONFIG = "\n".join([
    "space: {units: 1, unary: [identity, neg, sigmoid, tanh, sin, exp], binary: [add, mul, "
    "max, sub]}", "evaluate: tests.fake_tasks:instant", "backend: {kind: inline, workers: 2}",
    "strategy: {name: random, seed: 3}", "budget: {max_evaluations: 12, checkpoint_every: 4}"])


@pytest.mark.parametrize("kind", PAYLOADS)
def test_resuming_a_store_with_a_crafted_checkpoint_runs_no_code(tmp_path, kind, monkeypatch):
    """``actsearch run --resume`` of a shared run directory whose newest checkpoint was
    replaced by a pickle that would write a file: the file is not written, stderr says
    so in one line, and the search resumes from its results without training any again."""
    log, marker = tmp_path / "trained.log", tmp_path / "marker"
    monkeypatch.setenv("FAKE_TASK_LOG", str(log))
    run_dir = tmp_path / "run"
    run_search(config_from_text(RUN_CONFIG), out=str(run_dir))
    with sqlite3.connect(run_dir / "search.db") as db:
        newest = db.execute("SELECT MAX(id) FROM checkpoints").fetchone()[0]
        db.execute("UPDATE checkpoints SET state=? WHERE id=?", (_crafted(kind, marker), newest))
        db.execute("UPDATE runs SET config_json=json_set(config_json, "
                   "'$.budget.max_evaluations', 20)")
    first = Counter(log.read_text().splitlines())

    done = subprocess.run([sys.executable, "-m", "search.cli", "run", "--resume", str(run_dir)],
                          cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                          timeout=300)
    assert not marker.exists(), "the checkpoint's pickle ran"
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    ignored = [line for line in done.stderr.splitlines() if "ignored" in line]
    assert len(ignored) == 1 and f"checkpoint {newest} ignored" in ignored[0], done.stderr
    assert "resumes from its recorded results" in ignored[0]
    trained = Counter(line.split(" ", 1)[1] for line in log.read_text().splitlines())
    assert set(trained.values()) == {1}, "a finished candidate was trained again"
    assert sum(trained.values()) == 20 > sum(first.values())
    with Store(run_dir) as store:
        assert store.count_trained() == 20
        raw = store.db.execute("SELECT state FROM checkpoints ORDER BY id DESC").fetchone()[0]
        assert checkpoint.decode(raw)["kind"] == "random"  # the resume saved a safe one


# -- a damaged checkpoint in this format ---------------------------------------------------


@pytest.mark.parametrize("text", [
    '{"format":"actsearch-state","version":1,"state":{"dict":{"w":{"tensor":'
    '{"dtype":"object","shape":[1],"data":"AA=="}}}}}',
    '{"format":"actsearch-state","version":1,"state":{"dict":{"w":{"call":"os.system"}}}}',
    '{"format":"actsearch-state","version":1,"state":{"array":{"dtype":"int64",'
    '"shape":[2],"data":"AA=="}}}',
    '{"format":"actsearch-state","version":9,"state":{"dict":{}}}',
    '{"format":"actsearch-state","version":1,"state":[1]}',
    '{"format":"actsearch-state", "vers',
], ids=["object dtype", "unknown tag", "short data", "version 9", "not a dict", "cut off"])
def test_a_damaged_checkpoint_is_one_line_with_the_way_out(tmp_path, text):
    _legacy_row(tmp_path, text.encode())
    with Store(tmp_path, writer=True) as store, pytest.raises(StoreError) as error:
        store.latest_checkpoint()
    message = str(error.value)
    assert "\n" not in message and "checkpoints row 1" in message
    assert "DELETE FROM checkpoints" in message
