"""The command line: reports on a finished run, and user mistakes as one line with exit 2.

The mistakes run ``actsearch`` in a subprocess, as a user would; everything
else calls ``search.cli.main`` in this process (faster, same code).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evaluator import Result
from search.cli import main
from search.store import Store
from space import parse

ROOT = Path(__file__).resolve().parent.parent
SPACE = "space: {units: 1, unary: [identity, neg, sigmoid, tanh, sin], binary: [add, mul, max]}"


def actsearch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search.cli", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=600, env={**os.environ, **(env or {})})


def _one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("actsearch: error: ")
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A small finished search (inline backend, instant fake children)."""
    root = tmp_path_factory.mktemp("cli")
    config = root / "config.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:instant",
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}",
                                 "budget: {max_evaluations: 30}"]))
    assert main(["run", str(config), "--out", str(root / "run")]) == 0
    return root / "run"


def test_malformed_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("strategy:\n  name: reinforce\n  lr: fast\n")
    _one_line_error(actsearch("run", str(bad)), "bad.yaml: strategy.lr: expected a number")
    assert not (ROOT / "runs").exists() or not any(
        "bad" in p.name for p in (ROOT / "runs").iterdir())


def test_unknown_operator_is_one_line(tmp_path):
    bad = tmp_path / "ops.yaml"
    bad.write_text("space:\n  unary: [sin, sigmoidd]\n")
    _one_line_error(actsearch("run", str(bad)),
                    "space.unary: unknown unary operator 'sigmoidd'; did you mean 'sigmoid'?")


def test_missing_data_set_is_one_line(tmp_path):
    config = tmp_path / "nodata.yaml"
    config.write_text(f"task:\n  data_dir: {tmp_path / 'empty'}\nbudget: {{max_evaluations: 5}}\n")
    _one_line_error(actsearch("run", str(config), "--out", str(tmp_path / "run"),
                              env={"ACTSEARCH_DATA": str(tmp_path)}),
                    "cifar10 not found", "actsearch data cifar10")
    assert not (tmp_path / "run").exists()  # nothing half-made


def test_bad_expression_is_one_line():
    _one_line_error(actsearch("eval", "x * sigmoid(beta * x"), "at column")


def test_top_table_and_json(run_dir, capsys):
    assert main(["top", str(run_dir), "-k", "3"]) == 0
    table = capsys.readouterr().out
    assert "| 1 |" in table and "`x * sigmoid(x)`" in table and "| 4 |" not in table
    assert main(["top", str(run_dir), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 1 and shown["run_dir"] == str(run_dir)
    rows = shown["rows"]
    assert rows[0]["function"] == "x * sigmoid(x)" and rows[0]["rank"] == 1
    assert [r["reward"] for r in rows] == sorted((r["reward"] for r in rows), reverse=True)
    functions, trainings = shown["summary"]["functions"], shown["summary"]["trainings"]
    assert functions["finished"] == sum(functions["by_status"].values()) == 35
    assert functions["by_status"] == {"ok": 30, "invalid": 5} and functions["pending"] == 0
    assert trainings["finished"] == 30 and trainings["running"] == trainings["abandoned"] == 0
    assert shown["summary"]["seeds"] == 1 and shown["summary"]["search_running"] is False


def test_show_by_id_and_by_any_spelling(run_dir, capsys):
    assert main(["show", str(run_dir), "sigmoid(x) * identity(x)"]) == 0
    by_expr = capsys.readouterr().out
    assert "status:      ok" in by_expr and "canonical:   x * sigmoid(x)" in by_expr
    candidate_id = by_expr.split("\n")[0].split()[-1]
    assert main(["show", str(run_dir), candidate_id]) == 0
    assert capsys.readouterr().out == by_expr
    assert main(["show", str(run_dir), "9999"]) == 2
    assert "no candidate with id 9999" in capsys.readouterr().err


def test_show_prints_the_prescreen_reason(run_dir, capsys):
    assert main(["show", str(run_dir), "x - x"]) == 0
    out = capsys.readouterr().out
    assert "status:      invalid" in out and "error: " in out


def test_export_writes_a_module_that_matches(run_dir, tmp_path, capsys):
    import importlib.util

    import torch

    from space import parse, to_module

    target = tmp_path / "act.py"
    assert main(["export", str(run_dir), "--rank", "1", "-o", str(target)]) == 0
    assert "the function has no beta" in capsys.readouterr().out
    spec = importlib.util.spec_from_file_location("act", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = torch.randn(4, 3, 5)
    expected = to_module(parse("x * sigmoid(x)"))(x)
    assert torch.allclose(module.Activation()(x), expected)
    assert main(["export", str(run_dir), "--rank", "999", "-o", str(target)]) == 2


def test_export_appends_the_learned_beta_the_child_reported(tmp_path, capsys):
    config = tmp_path / "beta.yaml"
    config.write_text("\n".join([
        "space: {units: 1, unary: [identity, beta_mul, sigmoid], binary: [mul]}",
        "evaluate: tests.fake_tasks:instant", "backend: {kind: inline}",
        "strategy: {name: exhaustive}"]))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    target = tmp_path / "act.py"
    capsys.readouterr()
    assert main(["export", str(tmp_path / "run"), "beta * x * sigmoid(x)", "-o",
                 str(target)]) == 0
    assert "learned beta values appended as LEARNED_BETA" in capsys.readouterr().out
    assert "LEARNED_BETA = [[0.5, 1.5], [2.0, 2.5]]" in target.read_text()


def test_an_exported_module_loads_its_learned_beta_itself(tmp_path, capsys):
    """Issue 22: LEARNED_BETA had to be copied into beta by hand; load_learned(site) does it."""
    import importlib.util

    import torch

    from space import parse, to_module

    test_export_appends_the_learned_beta_the_child_reported(tmp_path, capsys)
    spec = importlib.util.spec_from_file_location("learned_act", tmp_path / "act.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = torch.randn(3, 2, 4, 4)
    for site, values in enumerate([[0.5, 1.5], [2.0, 2.5]]):
        act = module.load_learned(site)
        assert act.beta.tolist() == values
        expected = to_module(parse("beta * x * sigmoid(x)"), num_parameters=2)
        with torch.no_grad():
            expected.beta.copy_(torch.tensor(values))
        assert torch.allclose(act(x), expected(x))
    assert not torch.allclose(module.load_learned(1)(x), module.Activation()(x))


def test_plot_writes_a_png(run_dir, tmp_path, capsys):
    target = tmp_path / "top.png"
    assert main(["plot", str(run_dir), "-k", "4", "-o", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_with_a_fake_task(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("evaluate: tests.fake_tasks:instant\n")
    assert main(["eval", "x * sigmoid(x)", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "status:    ok" in out and "reward:    1.0000" in out


def test_resume_of_a_missing_run_and_wrong_arguments(tmp_path, capsys):
    assert main(["run", "--resume", str(tmp_path / "nope")]) == 2
    assert "no search there" in capsys.readouterr().err
    assert main(["run"]) == 2
    assert "either a CONFIG file or --resume" in capsys.readouterr().err


def test_demo_runs_quickly(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "6250 token sequences" in out and "class Swish(nn.Module)" in out


def test_gpu_request_on_a_cpu_machine_is_one_line(tmp_path):
    config = tmp_path / "gpu.yaml"
    config.write_text("evaluate: tests.fake_tasks:instant\nbudget: {max_evaluations: 5}\n"
                      "backend: {kind: ray, workers: 1, num_cpus: 1, num_gpus: 0.25}\n")
    _one_line_error(actsearch("run", str(config), "--out", str(tmp_path / "run")),
                    "no Ray node can run a child needing 1 CPU and 0.25 GPU")
    assert not (tmp_path / "run").exists()


def test_data_is_not_fetched_again_when_present(tmp_path, capsys):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"")
    assert main(["data", "cifar10", "--dest", str(tmp_path)]) == 0
    assert f"already in {folder}" in capsys.readouterr().out


def test_top_reports_diverged_functions_with_their_step(tmp_path, capsys):
    config = tmp_path / "nan.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:nan",
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}",
                                 "budget: {max_evaluations: 3}"]))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert main(["top", str(tmp_path / "run")]) == 0
    assert "| diverged (step 3) |" in capsys.readouterr().out


def test_version_names_the_package_and_the_code():
    done = actsearch("--version")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"actsearch \S+ \((git:\S+|actsearch \S+)\)\n", done.stdout), done.stdout


def test_every_positional_argument_has_help():
    from search.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [f"{name} {action.metavar or action.dest}"
               for name, command in sub.choices.items() for action in command._actions
               if not action.option_strings and not action.help]
    assert missing == []
    assert "as `actsearch run` printed it" in sub.choices["top"].format_help()


@pytest.fixture(scope="module")
def beta_run(tmp_path_factory) -> Path:
    """A finished search over a space with beta; the fake child reports learned betas."""
    root = tmp_path_factory.mktemp("beta")
    config = root / "beta.yaml"
    config.write_text("\n".join([
        "space: {units: 1, unary: [identity, beta_mul, sigmoid, sin], binary: [mul, max]}",
        "evaluate: tests.fake_tasks:instant", "backend: {kind: inline}",
        "strategy: {name: exhaustive}"]))
    assert main(["run", str(config), "--out", str(root / "run")]) == 0
    return root / "run"


def test_show_prints_rank_tokens_by_slot_curves_and_learned_beta(beta_run, capsys):
    capsys.readouterr()
    assert main(["show", str(beta_run), "beta * x * sigmoid(x)"]) == 0
    out = capsys.readouterr().out
    with Store(beta_run) as store:
        ranked = [c.canonical for c in store.top(100)]
        candidate = store.find(parse("beta * x * sigmoid(x)").canonical)
    assert f"rank:        {ranked.index(candidate.canonical) + 1} of {len(ranked)}" in out
    slots = "unit 0: input1=x input2=x unary1=beta_mul unary2=sigmoid binary=mul"
    assert f"tokens:      {slots}   {list(candidate.tokens)}" in out
    # one validation point: its value, no arrow and no one-block "curve" (issue 22)
    assert re.search(r"\n  val_accuracy: +\d\.\d{4}  \(step 10000, 1 point\)\n", out), out
    assert "  beta site 1: mean 1.00, min 0.500, max 1.50 (2 channels)" in out
    assert "  beta site 2: mean 2.25, min 2.00, max 2.50 (2 channels)" in out


def test_sparkline_follows_the_curve():
    from search.inspect.show import sparkline

    assert sparkline([3.0, 2.0, 1.0, 0.0]) == "█▆▃▁"
    assert sparkline([1.0, math.nan, 1.0]) == "▁×▁"
    assert len(sparkline([float(i) for i in range(100)], width=10)) == 10


def test_an_unevaluated_function_suggests_eval_with_the_runs_config(beta_run, capsys):
    capsys.readouterr()
    assert main(["show", str(beta_run), "relu(x)"]) == 2
    err = capsys.readouterr().err
    saved = beta_run / "config.yaml"
    assert f"`actsearch eval 'relu(x)' --config {saved}`" in err
    assert main(["eval", "x * sigmoid(x)", "--config", str(saved)]) == 0  # the run's fake task
    assert "reward:    1.0000" in capsys.readouterr().out


def _seeded_store(run_dir: Path, rewards: dict[str, list[float]]) -> None:
    """A store written by hand: each function with one ok training per reward."""
    seeds = list(range(max(len(r) for r in rewards.values())))
    with Store(run_dir, writer=True) as store:
        store.add_run("", json.dumps({"seeds": seeds}), "test", ["test"])
        for text, values in rewards.items():
            expr = parse(text)
            _, jobs = store.add_candidate(expr.canonical, expr.text, [], expr.fingerprint,
                                          "fid", 10, seeds[:len(values)])
            for (eid, _), reward in zip(jobs, values):
                store.record_result(eid, Result(status="ok", reward=reward).to_dict(), "w")


def test_ties_are_marked_and_one_seed_is_said_not_to_rank(tmp_path, capsys):
    _seeded_store(tmp_path, {"sin(x)": [0.9815], "tanh(x)": [0.9815], "x * x": [0.97],
                             "relu(x)": [0.9815]})
    assert main(["top", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    ranks = [line.split("|")[1].strip() for line in table.splitlines()
             if line.startswith("| ") and "`" in line]
    assert ranks == ["1=", "2=", "3=", "4"]
    assert "a tie" in table and "One seed per function" in table
    assert f"actsearch rerank {tmp_path} --seeds 3" in table
    assert main(["top", str(tmp_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [len(r["tied_with"]) for r in rows] == [2, 2, 2, 0]
    assert main(["show", str(tmp_path), "tanh(x)"]) == 0
    assert "(tied with id" in capsys.readouterr().out


def test_several_seeds_give_the_runs_own_noise(tmp_path, capsys):
    _seeded_store(tmp_path, {"sin(x)": [0.4, 0.6], "tanh(x)": [0.5, 0.5]})
    assert main(["top", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    sigma = math.sqrt((0.02 + 0.0) / 2)  # pooled variance of (0.4, 0.6) and (0.5, 0.5)
    assert f"σ = {sigma:.4f} per training (pooled over 2 functions)" in table
    assert f"2·σ·√(2/2) = {2 * sigma:.4f}" in table
    assert main(["top", str(tmp_path), "--json"]) == 0
    noise = json.loads(capsys.readouterr().out)["summary"]["seed_noise"]
    assert noise["functions"] == 2 and noise["std"] == pytest.approx(sigma)


def test_top_counts_functions_and_trainings_apart(tmp_path, capsys):
    """Three seeds: the summary's function counts are functions, its training counts are
    trainings, each line says which (they used to be mixed in one sentence)."""
    config = tmp_path / "seeds.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:instant",
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}",
                                 "seeds: [0, 1, 2]", "budget: {max_evaluations: 12}"]))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert main(["top", str(tmp_path / "run")]) == 0
    lines = capsys.readouterr().out.splitlines()
    with Store(tmp_path / "run") as store:
        functions = store.function_counts()
        invalid = functions.get("invalid", 0)
    assert functions.get("ok") == 4
    assert lines[0] == (f"functions:       {4 + invalid} finished (4 ok, {invalid} invalid)"
                        if invalid else "functions:       4 finished (4 ok)")
    assert lines[1] == "child trainings: 12 finished"


def test_sigterm_seen_through_ray_is_still_a_termination(tmp_path, capsys, monkeypatch):
    """Ray re-raises whatever the SIGTERM handler raised as a plain KeyboardInterrupt; the
    search still ends as terminated (exit 143), its child abandoned, the handler restored."""
    import signal

    monkeypatch.setenv("FAKE_TASK_SIGTERM_AT", "x * sigmoid(x)")
    config = tmp_path / "term.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:sigterm_ray_style",
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}"]))
    before = signal.getsignal(signal.SIGTERM)
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 143
    captured = capsys.readouterr()
    assert "stopped (terminated by SIGTERM)" in captured.err
    assert f"continue with: actsearch run --resume {tmp_path / 'run'}" in captured.out
    assert signal.getsignal(signal.SIGTERM) is before
    with Store(tmp_path / "run") as store:
        abandoned = [store.candidate(e.candidate_id).text
                     for e in store.evaluations(status="abandoned")]
    assert "x * sigmoid(x)" in abandoned  # the child the signal cut short (and the queued)


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n"])
def test_an_empty_config_is_one_line_and_starts_nothing(tmp_path, text):
    empty = tmp_path / "empty.yaml"
    empty.write_text(text)
    _one_line_error(actsearch("run", str(empty), "--out", str(tmp_path / "run")),
                    "empty.yaml: the config has no settings")
    assert not (tmp_path / "run").exists()


def test_a_config_without_a_stop_rule_is_one_line_and_starts_nothing(tmp_path, capsys):
    config = tmp_path / "forever.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:instant",
                                 "backend: {kind: inline}", "strategy: {name: random}"]))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing stops this search" in err
    assert "budget.unlimited: true" in err and not (tmp_path / "run").exists()


def test_a_yaml_alias_bomb_is_one_line_and_leaves_no_run_dir(tmp_path):
    from tests.test_search_config import _alias_bomb

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_alias_bomb())
    _one_line_error(actsearch("run", str(bomb), "--out", str(tmp_path / "run")),
                    "bomb.yaml: the config expands to more than 110,000 values")
    assert not (tmp_path / "run").exists()


def test_a_seed_that_does_not_fit_is_one_line_in_config_and_on_the_command_line(tmp_path):
    config = tmp_path / "seeds.yaml"
    config.write_text("evaluate: tests.fake_tasks:instant\nseeds: [99999999999999999999]\n")
    _one_line_error(actsearch("run", str(config), "--out", str(tmp_path / "run")),
                    "seeds.yaml: seeds[0]: must be in [0, 4294967295]")
    assert not (tmp_path / "run").exists()
    _one_line_error(actsearch("eval", "x", "--seed", "99999999999999999999"),
                    "eval: argument --seed: must be from 0 to 4,294,967,295")


@pytest.mark.parametrize("args", [
    ("show", "{run}", "²"), ("show", "{run}", "٣"), ("show", "{run}", "99999999999999999999"),
    ("show", "{run}", "9" * 5000), ("show", "{run}", "٣*x"), ("show", "{run}", "𝟙*x"),
    ("export", "{run}", "--rank", "99999999999999999999", "-o", "x.py"),
    ("export", "{run}", "--rank", "0", "-o", "x.py"),
    ("top", "{run}", "-k", "99999999999999999999"), ("top", "{run}", "-k", "٣"),
    ("top", "{run}", "-k", "9" * 5000), ("plot", "{run}", "-k", "-1", "-o", "p.png"),
    ("run", "--resume", "{run}", "--workers", "100000"), ("rerank", "{run}", "--seeds", "0"),
    ("compare", "--functions", "x", "--models", "٢٠", "--out", "{run}/cmp"), ("top",),
], ids=lambda a: " ".join(x[:12] for x in a))
def test_ids_and_numbers_that_do_not_fit_are_one_line(run_dir, args):
    done = actsearch(*[a.format(run=run_dir) for a in args])
    _one_line_error(done)
    assert len(done.stderr) < 400  # a 5,000-digit id is not printed back whole


def test_unicode_digits_are_not_numbers_for_the_parser():
    from space import ParseError, parse

    for text in ("٣*x", "𝟙*x", "x + ²"):
        with pytest.raises(ParseError, match="numbers take the ASCII digits 0-9"):
            parse(text)
    assert parse("3*x").text == "3 * x"


def test_output_into_a_missing_folder_creates_it(run_dir, tmp_path, capsys):
    target = tmp_path / "no" / "such" / "dir"
    assert main(["export", str(run_dir), "--rank", "1", "-o", str(target / "x.py")]) == 0
    assert "class" in (target / "x.py").read_text()
    assert main(["plot", str(run_dir), "-k", "2", "-o", str(target / "p.png")]) == 0
    assert (target / "p.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()


def test_output_that_cannot_be_written_is_one_line(run_dir, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for args in (["export", str(run_dir), "--rank", "1", "-o", str(blocker / "x.py")],
                 ["export", str(run_dir), "--rank", "1", "-o", str(tmp_path)],
                 ["plot", str(run_dir), "-o", str(tmp_path / "p.unknownformat")]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("actsearch: error: -o "), err


def test_a_run_directory_that_cannot_be_made_is_one_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:instant",
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}"]))
    (tmp_path / "a-file").write_text("")
    assert main(["run", str(config), "--out", str(tmp_path / "a-file" / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot write the run directory" in err
