"""The quickstart's stated figures are what the code computes (issue 22, item 5): its
config said the space needs 82 trainings after the pre-screen had changed it to 83."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evaluator import prescreen
from search.config import load_config
from space import SearchSpace
from space.enumerate import unique_functions

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["quickstart.yaml", "quickstart_halving.yaml"])
def test_the_trainings_the_config_says_the_space_needs(name: str):
    path = ROOT / "configs" / name
    config = load_config(path)
    space = SearchSpace(config.space.units, config.space.unary, config.space.binary)
    functions = [space.decode(tokens) for _, tokens, _ in unique_functions(space)]
    beta = float(getattr(config.task, "beta_init", 1.0))
    trained = sum(prescreen(expr, beta) is None for expr in functions)
    stated = re.search(r"the space needs (\d+)\)", path.read_text())
    assert stated and int(stated.group(1)) == trained, (stated, trained)
    assert len(functions) == 92  # what the README and the progress bar say


def test_the_readme_states_the_same_count():
    readme = (ROOT / "README.md").read_text()
    config = (ROOT / "configs" / "quickstart.yaml").read_text()
    needed = re.search(r"the space needs (\d+)\)", config).group(1)
    assert f"({needed} trainings;" in readme
