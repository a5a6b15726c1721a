"""docs/inspecting.md lists every key of `actsearch top --json` (issue 22, item 6: it
lacked summary.predicted_not_trained)."""

from __future__ import annotations

import json
from pathlib import Path

from search.config import config_from_text
from search.inspect.top import top_json
from search.launch import run_search
from search.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_every_top_json_key_is_documented(tmp_path):
    config = config_from_text("\n".join([
        "space: {units: 1, unary: [identity, sigmoid], binary: [mul, add]}",
        "evaluate: tests.fake_tasks:instant", "backend: {kind: inline}",
        "strategy: {name: exhaustive}"]))
    run_dir, _ = run_search(config, out=tmp_path / "run")
    with Store(run_dir) as store:
        shown = json.loads(top_json(store, 3))
    docs = (ROOT / "docs" / "inspecting.md").read_text()
    keys = {*shown, *shown["summary"], *shown["summary"]["functions"],
            *shown["summary"]["trainings"], *shown["rows"][0]}
    missing = sorted(key for key in keys if f'"{key}"' not in docs)
    assert not missing, f"docs/inspecting.md lacks {missing}"
