"""``actsearch rerank`` and ``compare``: stored, resumable studies and their tables."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from search.cli import main
from search.store import Store
from search.studies.compare import has_rerank, rerank_dir

SPACE = "space: {units: 1, unary: [identity, neg, sigmoid, tanh, sin], binary: [add, mul, max]}"


def _write(path: Path, task: str = "instant", extra: str = "") -> Path:
    path.write_text("\n".join([SPACE, f"evaluate: tests.fake_tasks:{task}",
                               "backend: {kind: inline}", "strategy: {name: exhaustive}",
                               "budget: {max_evaluations: 20}", extra]))
    return path


@pytest.fixture
def log(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "trained.log"
    monkeypatch.setenv("FAKE_TASK_STEPS_LOG", str(path))
    return path


def _trainings(log: Path) -> Counter:
    if not log.exists():
        return Counter()
    return Counter(tuple(line.split("\t")) for line in log.read_text().splitlines())


def test_rerank_trains_top_k_and_baselines_with_fresh_seeds(tmp_path, log, capsys):
    config = _write(tmp_path / "c.yaml")
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    log.unlink()
    capsys.readouterr()
    assert main(["rerank", str(tmp_path / "run"), "-k", "3", "--seeds", "2",
                 "--baselines", "relu,elu", "--steps", "11"]) == 0
    table = capsys.readouterr().out
    trained = _trainings(log)
    assert len(trained) == (3 + 2) * 2 and set(trained.values()) == {1}
    assert {seed for _, _, seed in trained} == {"1000", "1001"}  # not the search's seed 0
    assert {steps for steps, _, _ in trained} == {"11"}
    rows = [line for line in table.splitlines() if line.startswith("| ") and "rank" not in line]
    assert len(rows) == 5 and "ReLU (baseline)" in table and "ELU (baseline)" in table
    # the fake reward ignores the seed: identical values, zero-width intervals
    first = rows[0].split("|")
    assert first[4].strip() == first[6].strip("[] ").split(",")[0].strip()
    assert first[5].strip() == "0.00"
    assert has_rerank(tmp_path / "run")
    # again: everything is in the store, nothing is trained
    log.unlink()
    assert main(["rerank", str(tmp_path / "run"), "-k", "3", "--seeds", "2",
                 "--baselines", "relu,elu", "--steps", "11"]) == 0
    assert not log.exists()
    capsys.readouterr()
    assert main(["top", str(tmp_path / "run"), "-k", "3"]) == 0
    assert "re-ranked with 2 fresh seeds" in capsys.readouterr().out


def test_compare_tables_and_resume(tmp_path, log, capsys):
    config = _write(tmp_path / "c.yaml")
    out = tmp_path / "cmp"
    args = ["compare", "--functions", "x*sigmoid(x)", "tanh(x) + x", "--baselines",
            "relu,swish1,elu", "--models", "8,14", "--seeds", "2", "--config", str(config),
            "--out", str(out)]
    assert main(args) == 0
    report = capsys.readouterr().out
    trained = _trainings(log)
    # x*sigmoid(x) is Swish-1: trained once, under the baseline's name
    assert len(trained) == 4 * 2 and set(trained.values()) == {2}  # x 2 models
    assert "| function | ResNet-8 | ResNet-14 |" in report
    assert "Swish-1 (baseline)" in report and "`x*sigmoid(x)`" not in report
    challenger = next(line for line in report.splitlines()
                      if line.startswith("| `") and "/" in line)
    assert challenger.count("(p=") == 3  # one test per baseline
    with Store(out) as store:
        assert len(store.evaluations()) == 16
        assert {e.fidelity.split("-")[0] for e in store.evaluations()} == {"resnet8w16",
                                                                          "resnet14w16"}
    log.unlink()
    assert main(args) == 0  # resume: all in the store
    assert not log.exists()


def test_diverging_functions_are_reported_with_their_step(tmp_path, log, capsys):
    config = _write(tmp_path / "c.yaml", task="nan")
    assert main(["compare", "--functions", "exp(x)*x", "--baselines", "relu", "--seeds", "2",
                 "--config", str(config), "--out", str(tmp_path / "cmp")]) == 0
    assert "diverged 2x (step 3, 3)" in capsys.readouterr().out


def test_study_mistakes_are_one_line(tmp_path, capsys):
    config = _write(tmp_path / "c.yaml")
    assert main(["compare", "--functions", "x", "--config", str(config)]) == 2
    assert "--out DIR is needed" in capsys.readouterr().err
    assert main(["compare", "--functions", "relu(x)", "--baselines", "bogus",
                 "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    assert "--baselines" in capsys.readouterr().err
    assert main(["rerank", str(tmp_path / "nowhere")]) == 2
    assert not rerank_dir(tmp_path / "nowhere").exists()
