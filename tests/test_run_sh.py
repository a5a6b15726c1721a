"""``bash run.sh quickstart`` as a new user sees it, with a stand-in for the environment.

A fake venv (its ``python`` is this interpreter, its ``actsearch`` a script that records
its arguments; its ``run`` exits with ``FAKE_ACTSEARCH_EXIT``) makes ``run.sh`` skip
installing and lets the test read what it would run and what it prints: one line per
step, and at the end the exact commands to run next.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_venv(tmp_path) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".actsearch-installed").touch()  # newer than pyproject.toml: nothing to install
    stub = venv / "bin" / "actsearch"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "calls"}\n'
                    '[ "$1" = run ] && exit "${FAKE_ACTSEARCH_EXIT:-0}"\nexit 0\n')
    stub.chmod(0o755)
    return venv


def _quickstart(venv: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "run.sh", "quickstart", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=600,
                          env={**os.environ, "ACTSEARCH_VENV": str(venv),
                               "ACTSEARCH_DATA": str(venv.parent), **env})


def test_quickstart_names_its_run_directory_and_prints_the_next_commands(fake_venv):
    done = _quickstart(fake_venv)
    assert done.returncode == 0, done.stderr
    calls = (fake_venv.parent / "calls").read_text().splitlines()
    assert calls[0] == "data cifar10"
    match = re.fullmatch(r"run configs/quickstart.yaml --out (runs/quickstart-\d{8}-\d{6})",
                         calls[1])
    assert match, calls
    run = match.group(1)
    assert calls[2:] == [f"report {run}"]  # the page to share, written when the search ends
    lines = done.stdout.splitlines()
    assert f"run.sh: environment up to date: {fake_venv}" in lines
    assert any(line.startswith("run.sh: checking CIFAR-10") for line in lines)
    assert any(line.startswith(f"run.sh: searching configs/quickstart.yaml into {run}")
               for line in lines)
    assert f"source {fake_venv}/bin/activate" in done.stdout
    for command in (f"top {run}", f"show {run} 'max(x, sin(x))'", f"plot {run} -o top.png",
                    f"export {run} --rank 1 -o act.py"):
        assert any(line.strip().startswith(f"{fake_venv}/bin/actsearch {command}")
                   for line in lines), (command, done.stdout)


@pytest.mark.parametrize("out", [["--out", "elsewhere/q"], ["--out=elsewhere/q"]])
def test_quickstart_keeps_the_users_out(fake_venv, out):
    done = _quickstart(fake_venv, *out)
    assert done.returncode == 0, done.stderr
    calls = (fake_venv.parent / "calls").read_text().splitlines()
    assert calls[1] == f"run configs/quickstart.yaml {' '.join(out)}"
    assert f"{fake_venv}/bin/actsearch top elsewhere/q" in done.stdout


def test_a_stopped_quickstart_says_how_to_resume(fake_venv, tmp_path):
    run = tmp_path / "q"
    run.mkdir()
    (run / "search.db").write_bytes(b"")
    done = _quickstart(fake_venv, "--out", str(run), FAKE_ACTSEARCH_EXIT="130")
    assert done.returncode == 130
    assert f"continue it with: {fake_venv}/bin/actsearch run --resume {run}" in done.stdout
    assert not any(call.startswith("report") for call in
                   (tmp_path / "calls").read_text().splitlines())
    assert "next" not in done.stdout


def test_the_next_steps_are_two_aligned_columns(fake_venv):
    done = _quickstart(fake_venv)
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "the search is done" in line)
    block = lines[start + 1:]
    assert len(block) == 5 and all(line.startswith("  ") for line in block)
    assert len({line.index("  # ") for line in block}) == 1, "\n".join(block)


SETUPTOOLS_WARNING = """\
/usr/lib/python3/site-packages/setuptools/command/develop.py:41: EasyInstallDeprecationWarning:
!!

        ********************************************************************************
        Please avoid running ``setup.py`` and ``easy_install``.
        ********************************************************************************

!!
  easy_install.initialize_options(self)
"""


def _setup_with_pip(fake_venv: Path, exit_code: int) -> subprocess.CompletedProcess:
    (fake_venv / ".actsearch-installed").unlink()  # so setup installs
    pip = fake_venv / "bin" / "pip"
    pip.write_text(f"#!/bin/sh\necho 'Looking in indexes: somewhere'\ncat >&2 <<'END'\n"
                   f"{SETUPTOOLS_WARNING}END\nexit {exit_code}\n")
    pip.chmod(0o755)
    return subprocess.run(["bash", "run.sh", "setup"], cwd=ROOT, text=True,
                          capture_output=True, timeout=600,
                          env={**os.environ, "ACTSEARCH_VENV": str(fake_venv)})


def test_setup_prints_one_line_per_step_whatever_pip_prints(fake_venv):
    done = _setup_with_pip(fake_venv, 0)
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert lines and all(line.startswith("run.sh: ") for line in lines), lines
    assert len(lines) == 4  # pip, torch, actsearch, ready
    assert (fake_venv / ".actsearch-installed").exists()


def test_a_failing_install_shows_what_pip_said(fake_venv):
    done = _setup_with_pip(fake_venv, 3)
    assert done.returncode == 3
    assert "this step failed (exit 3)" in done.stderr
    assert "EasyInstallDeprecationWarning" in done.stderr
    assert not (fake_venv / ".actsearch-installed").exists()
