"""benchmarks/gpu_sharing.py runs its children at once and reports every one of them;
here on the CPU with synthetic data (its figures mean something only on a GPU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.evaluator_fixtures import write_cifar10

ROOT = Path(__file__).resolve().parents[1]


def test_children_run_together_and_every_row_is_reported(tmp_path):
    write_cifar10(tmp_path, train_per_class=8, test_per_class=2)
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_sharing.py", "--data-dir", str(tmp_path),
         "--device", "cpu", "--steps", "3", "--batch", "8", "--depth", "8",
         "--validation", "10", "--children", "1,2", "--variants"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    variants = [r for r in rows if "ok |" in r and not r.startswith("| 1 |")
                and not r.startswith("| 2 |")]
    assert len(variants) == 4 and all("| 1/1 ok |" in r for r in variants)
    assert any(r.startswith("| 1 | 1/1 ok |") for r in rows)
    assert any(r.startswith("| 2 | 2/2 ok |") for r in rows)
