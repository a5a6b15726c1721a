"""Hostile values in what users give and in what the store holds (issue 26).

Texts that are not UTF-8, nest 100,000 brackets or hide a NUL; run names that
would put a run directory outside ``runs/``; reward-table cells Python's
``float`` reads but the grammar does not (``0_5``, Arabic or full-width digits);
rewards of 1e308; rows edited by hand with a value of the wrong type. Each is
one line naming what is wrong (exit 2) or, where the value is legitimate, works.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

import pytest

from evaluator import RewardTable
from evaluator.table import TableError
from search.cli import main
from search.config import ConfigError, config_from_text, load_config
from search.store import Store

POOL = ["-x * sigmoid(x)", "max(x, 0)", "tanh(x)", "sigmoid(x) * x", "x * tanh(x)"]


def _one_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("actsearch: error: "), err
    for needle in needles:
        assert needle in err, err
    return err


def _pool_config(root: Path, *lines: str, table: Path | None = None) -> Path:
    """The pool searched exhaustively by instant children, or replayed from ``table``."""
    config = root / "config.yaml"
    functions = ", ".join(f'"{f}"' for f in POOL)
    task = f"task: {{name: table, path: {table}}}" if table else \
        "evaluate: tests.fake_tasks:instant"
    config.write_text("\n".join([f"space: {{functions: [{functions}]}}", task,
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}",
                                 *lines]))
    return config


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("values")
    assert main(["run", str(_pool_config(root)), "--out", str(root / "run")]) == 0
    return root / "run"


@pytest.fixture()
def run_dir(finished, tmp_path) -> Path:
    shutil.copytree(finished, tmp_path / "run")
    return tmp_path / "run"


# -- config texts ------------------------------------------------------------------------


def test_a_config_that_is_not_utf8_names_the_byte_and_its_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode() + "# réglé\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}: not UTF-8 text (byte 0xe9 at offset 15, line 2); "
                               "save the file as UTF-8")


def test_a_config_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: bom\nstrategy: {name: exhaustive}\n")
    assert load_config(path).name == "bom"


@pytest.mark.parametrize("text", ["a: " + "[" * 100_000, "a: " + "{a: " * 100_000,
                                  "backend: {runtime_env: " + "{a: " * 60 + "1" + "}" * 61])
def test_brackets_nested_deep_are_one_line(text):
    with pytest.raises(ConfigError, match="nest") as info:
        config_from_text(text)
    assert "\n" not in str(info.value)


def test_an_escaped_nul_in_a_key_is_shown_escaped():
    with pytest.raises(ConfigError) as info:
        config_from_text('"a\\0b": 1\n"\\e[31mred": 2\n')
    assert "\x00" not in str(info.value) and "'a\\x00b': unknown key" in str(info.value)


def test_an_inline_pool_may_list_as_many_functions_as_a_pool_file():
    functions = ", ".join(f"x * {n}" for n in range(1, 12_001))
    config = config_from_text(f"space: {{functions: [{functions}]}}\n")
    assert len(config.space.functions) == 12_000


# -- the run directory's name ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["../escaped", "{root}/absolute", '"a\\0b"', "..", '".hidden"',
                                  '"a\\nb"'])
def test_a_name_that_would_leave_runs_is_refused(name, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    config = _pool_config(tmp_path, f"name: {name.format(root=tmp_path)}")
    assert main(["run", str(config)]) == 2
    _one_line(capsys, "name: ", "runs/<name>-<time>", "--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "work"]
    assert list(work.iterdir()) == []


def test_a_plain_name_makes_its_run_directory_inside_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(_pool_config(tmp_path, "name: plain-name_1"))]) == 0
    assert [p.name[:13] for p in (tmp_path / "runs").iterdir()] == ["plain-name_1-"]


# -- reward tables ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["0_5", "٠.٥", "０.９", "0x10", "1e5e5", "½", "nan!"])
def test_a_table_cell_is_read_with_the_grammars_ascii_number_rule(cell, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(f"expression,reward\nrelu(x),0.5\ntanh(x),{cell}\n", encoding="utf-8")
    with pytest.raises(TableError, match=f"{path}:3: reward column 'reward' holds"):
        RewardTable.load(path)


def test_numbers_python_writes_are_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("expression,reward\nrelu(x), -1.5e-3\ntanh(x),+.5\nsin(x),NaN\n"
                    "exp(x),-inf\nx * x,1E308\n")
    table = RewardTable.load(path)
    assert [e.reward for e in table.entries.values()][:2] == [-1.5e-3, 0.5]
    assert str([e.reward for e in table.entries.values()][2:]) == "[nan, -inf, 1e+308]"


def test_a_byte_order_mark_before_the_header_is_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfexpression,reward\nrelu(x),0.5\n")
    assert RewardTable.load(path).lookup("max(x, 0)") == (0.5, None)


def _table(root: Path, rewards: list[str]) -> Path:
    path = root / "t.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([("expression", "reward"), *zip(POOL, rewards)])
    return path


def test_rewards_of_1e308_are_reported_and_plotted(tmp_path):
    table = _table(tmp_path, ["1e308", "1e308", "-1e308", "0.5", "1e308"])
    config = _pool_config(tmp_path, table=table)
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html")]) == 0
    assert main(["plot", str(tmp_path / "run"), "-o", str(tmp_path / "p.png")]) == 0
    assert "(× 1e+308)" in (tmp_path / "r.html").read_text()


def test_a_constant_function_in_the_top_is_reported_and_plotted(tmp_path):
    """A pool may list `1`: the pre-screen rejects it, and it is ranked below the rest."""
    config = tmp_path / "config.yaml"
    config.write_text('space: {functions: ["1", "relu(x)"]}\nevaluate: tests.fake_tasks:instant'
                      "\nbackend: {kind: inline}\nstrategy: {name: exhaustive}\n")
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html")]) == 0
    assert main(["plot", str(tmp_path / "run"), "-o", str(tmp_path / "p.png")]) == 0


def test_all_rewards_1e308_are_reported(tmp_path):
    config = _pool_config(tmp_path, table=_table(tmp_path, ["1e308"] * len(POOL)))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html")]) == 0


# -- rows edited by hand -------------------------------------------------------------------------

EDITS = [
    ("candidates", "seconds", "'abc'", "top", "candidates row {id}: seconds holds 'abc'"),
    ("evaluations", "started", "9e999", "report", "evaluations row {eid}: started holds inf"),
    ("candidates", "reward_text", "NULL", "show", "candidates row {id}: reward_text holds NULL"),
    ("evaluations", "reward_text", "NULL", "export-table",
     "evaluations row {eid}: reward_text holds NULL"),
    ("runs", "config_json", """'{"strategy": 5}'""", "report",
     "runs row 1: config_json's strategy holds 5, not a mapping"),
    ("runs", "config_json", """'{"task": {"beta_init": "x"}}'""", "export",
     "config_json's task.beta_init holds \"x\""),
    ("candidates", "status", "'won'", "top", "candidates row {id}: status holds 'won'"),
    ("evaluations", "seed", "'zero'", "plot", "evaluations row {eid}: seed holds 'zero'"),
    ("runs", "started", "-1e300", "report", "runs row 1: started holds -1e+300"),
    ("candidates", "reward", "NULL", "show", "candidates row {id}: reward holds NULL, not 1.0"),
    ("evaluations", "status", "x'00ff'", "top",
     "evaluations row {eid}: status holds b'\\x00\\xff'"),
]


@pytest.mark.parametrize(("table", "column", "value", "command", "message"), EDITS,
                         ids=[f"{e[0]}.{e[1]}={e[2]}" for e in EDITS])
def test_a_hand_edited_value_of_the_wrong_type_is_one_line(table, column, value, command,
                                                           message, run_dir, capsys):
    with Store(run_dir) as store:
        best = store.top(1)[0]
        eid = store.evaluations(best.id)[0].id
    key = {"candidates": f"id = {best.id}", "evaluations": f"id = {eid}", "runs": "id = 1"}
    with sqlite3.connect(run_dir / "search.db") as db:
        db.execute(f"UPDATE {table} SET {column} = {value} WHERE {key[table]}")
    args = {"top": [], "report": ["-o", str(run_dir / "r.html")], "show": [str(best.id)],
            "export-table": ["-o", str(run_dir / "t.csv")],
            "export": ["--rank", "1", "-o", str(run_dir / "a.py")],
            "plot": ["-o", str(run_dir / "p.png")]}[command]
    assert main([command, str(run_dir), *args]) == 2
    _one_line(capsys, f"{run_dir / 'search.db'}: the store is damaged",
              message.format(id=best.id, eid=eid), f"sqlite3 {run_dir / 'search.db'}")


# -- the command line ------------------------------------------------------------------------------


def test_show_takes_an_expression_that_starts_with_a_minus(finished, capsys):
    assert main(["show", str(finished), "-x*sigmoid(x)"]) == 0
    assert "function:    -x * sigmoid(x)" in capsys.readouterr().out
    assert main(["export", str(finished), "-x*sigmoid(x)", f"-o{finished.parent / 'a.py'}"]) == 0


def test_show_says_abandoned_where_top_does(run_dir, capsys):
    """A search killed with SIGKILL leaves rows `running` with no one writing them."""
    with sqlite3.connect(run_dir / "search.db") as db:
        db.execute("UPDATE evaluations SET status = 'running', reward = NULL, "
                   "reward_text = NULL WHERE candidate_id = 3")
        db.execute("UPDATE candidates SET status = 'pending', reward = NULL, "
                   "reward_text = NULL WHERE id = 3")
    assert main(["top", str(run_dir)]) == 0
    assert "1 abandoned when the search stopped" in capsys.readouterr().out
    assert main(["show", str(run_dir), "3"]) == 0
    out = capsys.readouterr().out
    assert "status abandoned (its search stopped" in out and "status running" not in out
