"""benchmarks/paper_fidelity.py and benchmarks/compact_cifar.py on tiny synthetic CIFAR-10
in the real on-disk format: every function through the whole path (compact copy, decode,
children in processes, rows as they finish, resume, table), the failure paths, and the
compact copy's round trip through ``evaluator.load_dataset``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import compact_cifar
from benchmarks.fidelity_rows import (
    CANDIDATES,
    PAPER_TOP,
    SAME_AS_BASELINE,
    children_per_hour,
    read_results,
    select,
    table,
)
from evaluator import STATUSES, load_dataset
from space import BASELINES, parse
from tests.evaluator_fixtures import write_cifar10

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--tiny", "--validation", "20"]


def harness(*args: str, env: dict | None = None, timeout: float = 600):
    return subprocess.run([sys.executable, "benchmarks/paper_fidelity.py", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def compact(tmp_path_factory):
    """A compact copy of tiny synthetic CIFAR-10, and the original's root."""
    root = tmp_path_factory.mktemp("data")
    write_cifar10(root, train_per_class=8, test_per_class=2)
    compact_cifar.make(root, root / "compact")
    return root / "compact", root


def test_candidates_are_the_paper_functions_and_the_baselines_each_once():
    prints = [parse(c.expr).fingerprint for c in CANDIDATES]
    assert len(set(prints)) == len(prints) == 16
    wanted = [text for _, text, _ in PAPER_TOP] + list(BASELINES.values())
    assert len(wanted) == 17
    assert {parse(text).fingerprint for text in wanted} == set(prints)
    by_name = {c.name: c for c in CANDIDATES}
    for top, base in SAME_AS_BASELINE.items():
        assert by_name[base].also == top
        assert parse(by_name[base].expr).fingerprint == parse(dict(
            (n, t) for n, t, _ in PAPER_TOP)[top]).fingerprint
    assert [c.name for c in CANDIDATES[:3]] == ["ReLU", "Swish", "Swish-1"]


def test_only_picks_by_name_baseline_function_or_paper_rank():
    assert [c.name for c in select("RELU,paper2,swish1,x·σ(βx),paper1")] == \
        ["ReLU", "max(x, σ(x))", "Swish-1", "Swish"]
    with pytest.raises(ValueError, match=r"unknown function 'nope'.*relu, swish, swish-1, paper2"):
        select("nope")


def test_tiny_trains_every_function_then_a_resume_trains_only_what_is_missing(compact, tmp_path):
    results = tmp_path / "rows.jsonl"
    done = harness(*TINY, "--compact", str(compact[0]), "--results", str(results))
    assert done.returncode == 0, done.stderr
    rows = read_results(results)
    assert sorted(r["function"] for r in rows) == sorted(c.name for c in CANDIDATES)
    assert all(r["status"] in STATUSES and r["seed"] == 0 for r in rows)
    assert all(r["task"]["data_dir"].endswith("compact.decoded") for r in rows)
    assert any(r["status"] == "ok" and 0 <= r["val_accuracy"] <= 1 for r in rows)
    text = (tmp_path / "rows.md").read_text()
    assert "Swish = x·σ(βx)" in text and "children per hour" in text
    assert sum(line.startswith("| ") for line in text.splitlines()) == 1 + 16  # head, rows

    lines = results.read_text().splitlines()
    kept, dropped = lines[:-2], lines[-2:]
    torn = dropped[0][: len(dropped[0]) // 2]  # a row cut off by a kill
    results.write_text("\n".join(kept) + "\n" + torn)
    again = harness(*TINY, "--compact", str(compact[0]), "--results", str(results))
    assert again.returncode == 0, again.stderr
    assert "2 children to train, 14 already in" in again.stdout
    after = results.read_text().splitlines()
    assert after[:14] == kept  # the rows there were not touched
    assert {json.loads(x)["function"] for x in after[-2:]} == \
        {json.loads(x)["function"] for x in dropped}
    assert "0 children to train" in harness(*TINY, "--compact", str(compact[0]), "--results",
                                            str(results)).stdout


def test_a_child_whose_process_dies_is_retried_and_recorded_once(tmp_path):
    marker = tmp_path / "crashed"
    done = harness(*TINY, "--data-dir", str(tmp_path), "--only", "relu,swish", "--seeds", "0,1",
                   "--target", "tests.fake_tasks:crash_once", "--results",
                   str(tmp_path / "rows.jsonl"), env={"FAKE_TASK_CRASH_ONCE": str(marker)})
    assert done.returncode == 0, done.stderr
    rows = read_results(tmp_path / "rows.jsonl")
    assert marker.exists() and len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    retried = [r for r in rows if r["retries"]]
    assert len(retried) == 1 and "the child process died" in retried[0]["retries"][0]


def test_the_deadline_kills_running_children_and_records_none_of_them(tmp_path):
    results = tmp_path / "rows.jsonl"
    done = harness(*TINY, "--data-dir", str(tmp_path), "--only", "relu,swish",
                   "--target", "tests.fake_tasks:sleepy", "--deadline-s", "20",
                   "--results", str(results), timeout=600)
    assert done.returncode == 0, done.stderr
    assert "deadline: stopping" in done.stdout and "2 children not run" in done.stdout
    assert read_results(results) == []
    assert "| – | ReLU | `relu(x)` | baseline, 93.8 | not run |" in done.stdout


def test_diverged_is_a_status_and_the_rank_is_by_the_mean_of_ok_seeds():
    def row(function, seed, status, acc=None, started=0.0, finished=10.0):
        return {"function": function, "seed": seed, "status": status, "val_accuracy": acc,
                "step": 7 if status == "diverged" else None, "wall_s": finished - started,
                "started": started, "finished": finished, "run": 1, "children": 2, "task": {}}

    rows = [row("ReLU", 0, "ok", 0.90), row("ReLU", 1, "ok", 0.80),
            row("Swish", 0, "ok", 0.88), row("Swish", 1, "diverged"),
            row("GELU", 0, "diverged", started=5.0, finished=20.0)]
    text = table(rows, [c for c in CANDIDATES if c.name in ("ReLU", "Swish", "GELU")],
                 [0, 1], "header")
    lines = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| ")}
    assert lines["Swish = x·σ(βx)"].startswith("| 1 |")  # 88.00 beats ReLU's mean 85.00
    assert "| 88.00 | diverged | 88.00 | ok, diverged (step 7) |" in lines["Swish = x·σ(βx)"]
    assert "| 90.00 | 80.00 | 85.00 | ok |" in lines["ReLU"] and lines["ReLU"].startswith("| 2 |")
    assert "| baseline | diverged | not run | – | diverged (step 7), not run |" in lines["GELU"]
    assert children_per_hour(rows) == (3600 * 5 / 20.0, 5, 20.0)


def test_results_of_another_task_or_a_damaged_line_stop_in_one_line(compact, tmp_path):
    results = tmp_path / "rows.jsonl"
    first = harness(*TINY, "--data-dir", str(compact[1]), "--only", "relu", "--results",
                    str(results))
    assert first.returncode == 0, first.stderr
    other = harness(*TINY, "--steps", "5", "--data-dir", str(compact[1]), "--only", "relu",
                    "--results", str(results))
    assert other.returncode == 2 and len(other.stderr.strip().splitlines()) == 1
    assert "holds results of another task" in other.stderr and "steps 4 -> 5" in other.stderr
    results.write_text("garbage\n" + results.read_text())
    damaged = harness(*TINY, "--data-dir", str(compact[1]), "--results", str(results))
    assert damaged.returncode == 2 and f"{results}:1: not a JSON row" in damaged.stderr


def test_the_ray_backend_trains_the_same_children(compact, tmp_path):
    done = harness(*TINY, "--ray", "--data-dir", str(compact[1]), "--only", "relu",
                   "--seeds", "0,1", "--results", str(tmp_path / "rows.jsonl"))
    assert done.returncode == 0, done.stderr
    rows = read_results(tmp_path / "rows.jsonl")
    assert sorted(r["seed"] for r in rows) == [0, 1] and {r["status"] for r in rows} == {"ok"}
    assert "Ray (local)" in done.stdout


def test_the_compact_copy_decodes_into_the_real_format(compact, tmp_path):
    folder, root = compact
    manifest = json.loads((folder / "manifest.json").read_text())
    decoded = compact_cifar.decode(folder, tmp_path / "out")
    original, copy = (load_dataset("cifar10", r, validation_size=20)
                      for r in (root, decoded.parent))
    assert np.array_equal(original.train.labels, copy.train.labels)
    assert np.array_equal(original.val_index, copy.val_index) and len(copy.test) == 0
    error = np.abs(original.train.images.astype(int) - copy.train.images)
    assert 0 < error.max() <= manifest["error"]["max_abs"] and error.mean() < 3
    assert manifest["quality"] == 98 and manifest["subsampling"] == "4:4:4"


def test_tiles_do_not_bleed_into_each_other():
    """JPEG's 8x8 blocks lie inside the 32-pixel tiles: an image encodes the same whatever
    its neighbours are."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 3, 32, 32), dtype=np.uint8)
    together = compact_cifar.unmosaic(compact_cifar.decode_jpeg(compact_cifar.encode_jpeg(
        compact_cifar.mosaic(images, columns=3), 98)), 6, columns=3)
    alone = compact_cifar.unmosaic(compact_cifar.decode_jpeg(compact_cifar.encode_jpeg(
        compact_cifar.mosaic(images[4:5], columns=1), 98)), 1, columns=1)
    assert np.array_equal(together[4], alone[0])


def test_a_damaged_compact_copy_or_a_real_copy_in_the_way_is_refused(compact, tmp_path):
    folder, root = compact
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in folder.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    data = bytearray((broken / "data_batch_3.jpg").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (broken / "data_batch_3.jpg").write_bytes(bytes(data))
    cli = [sys.executable, "benchmarks/compact_cifar.py", "decode"]
    done = subprocess.run([*cli, str(broken), "--out", str(tmp_path / "x")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and "data_batch_3.jpg: checksum differs" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    over = subprocess.run([*cli, str(folder), "--out", str(root)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert over.returncode == 2 and "not decoded from a compact one" in over.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["batches"][0]["file"] = "../../elsewhere.jpg"
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(compact_cifar.CompactError, match="file names are malformed"):
        compact_cifar.decode(broken, tmp_path / "y")


def test_compare_pairs_the_same_seeds_of_the_two_copies(tmp_path):
    def write(path, accs):
        path.write_text("".join(json.dumps({"function": "ReLU", "seed": s, "status": "ok",
                                            "val_accuracy": a, "task": {}}) + "\n"
                                for s, a in enumerate(accs)))

    write(tmp_path / "full.jsonl", [0.50, 0.54])
    write(tmp_path / "compact.jsonl", [0.51, 0.53])
    text = compact_cifar.compare(tmp_path / "full.jsonl", tmp_path / "compact.jsonl")
    assert "| ReLU | 0 | 50.00 | 51.00 | +1.00 |" in text
    assert "mean |compact − full| 1.00 points over 2 pairs" in text
    assert "seed-to-seed std on the full copy 2.83 points" in text


def test_table_only_reads_without_torch_or_ray(tmp_path):
    (tmp_path / "rows.jsonl").write_text(json.dumps(
        {"function": "ReLU", "seed": 0, "status": "ok", "val_accuracy": 0.9, "wall_s": 3.0,
         "started": 0.0, "finished": 3.0, "run": 1, "children": 1, "task": {}}) + "\n")
    code = ("import runpy, sys; sys.argv = ['paper_fidelity.py', '--table-only', '--results', "
            f"{str(tmp_path / 'rows.jsonl')!r}]\n"
            "try:\n    runpy.run_path('benchmarks/paper_fidelity.py', run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print('heavy:', sorted({'torch', 'ray'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "| 1 | ReLU | `relu(x)` | baseline, 93.8 | 90.00 | 90.00 | ok |" in done.stdout
    assert "heavy: []" in done.stdout


def test_sigterm_stops_the_children_and_writes_the_table(tmp_path):
    results = tmp_path / "rows.jsonl"
    run = subprocess.Popen(
        [sys.executable, "benchmarks/paper_fidelity.py", *TINY, "--data-dir", str(tmp_path),
         "--only", "relu", "--target", "tests.fake_tasks:sleepy", "--results", str(results)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in run.stdout:
            if "children to train" in line:
                break
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=60)  # sleepy would take 60 s
    finally:
        run.kill()
    assert run.returncode == 143, err
    assert "stopped (SIGTERM)" in out and "1 children not run" in out
    assert read_results(results) == [] and "| ReLU |" in (tmp_path / "rows.md").read_text()
