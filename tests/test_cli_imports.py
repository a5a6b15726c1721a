"""Commands that only read answer at once: ``--help``, ``top``, ``show ID`` and a one-line
error import neither torch nor Ray (each costs seconds), checked in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from search.cli import main

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "ray")
PROBE = """
import sys
from search.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as stop:
    code = stop.code
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[1].split(",")))
print("LOADED:" + ",".join(loaded), file=sys.stderr)
sys.exit(code)
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("imports")
    config = root / "config.yaml"
    config.write_text("\n".join([
        "space: {units: 1, unary: [identity, neg, sigmoid, tanh], binary: [add, mul]}",
        "evaluate: tests.fake_tasks:instant", "backend: {kind: inline}",
        "strategy: {name: exhaustive}", "budget: {max_evaluations: 10}"]))
    assert main(["run", str(config), "--out", str(root / "run")]) == 0
    return root / "run"


def loaded_by(*args: str) -> tuple[int, list[str]]:
    """(exit code, heavy modules imported) of ``actsearch ARGS`` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE, ",".join(HEAVY), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    line = [x for x in done.stderr.splitlines() if x.startswith("LOADED:")]
    assert line, done.stderr
    return done.returncode, [m for m in line[-1].removeprefix("LOADED:").split(",") if m]


def test_help_imports_neither_torch_nor_ray():
    assert loaded_by("--help") == (0, [])


def test_top_and_show_by_id_import_neither_torch_nor_ray(run_dir):
    assert loaded_by("top", str(run_dir)) == (0, [])
    assert loaded_by("top", str(run_dir), "--json") == (0, [])
    assert loaded_by("show", str(run_dir), "1") == (0, [])


def test_a_one_line_error_imports_neither(tmp_path, run_dir):
    assert loaded_by("run", str(tmp_path / "missing.yaml")) == (2, [])
    assert loaded_by("show", str(run_dir), "9999") == (2, [])


def test_the_public_api_still_imports_by_name():
    from controller import StrategyConfig, make_strategy
    from evaluator import evaluate, prescreen, run_task
    from space import parse, to_module

    assert callable(evaluate) and callable(prescreen)  # functions, not their modules
    assert callable(make_strategy) and callable(run_task) and callable(to_module)
    assert StrategyConfig().name == "reinforce" and parse("x").text == "x"


def test_importing_a_module_does_not_hide_the_function_of_its_name():
    import importlib
    import types

    import evaluator

    importlib.import_module("evaluator.prescreen")
    importlib.import_module("evaluator.evaluate")
    assert not isinstance(evaluator.prescreen, types.ModuleType)
    assert not isinstance(evaluator.evaluate, types.ModuleType)
