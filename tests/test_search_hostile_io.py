"""The I/O around the store, tried as a hostile or careless user would (issue 26).

``-o`` never replaces a store and never turns a device or FIFO into a regular
file; files that are FIFOs or devices are refused, never read (a FIFO would
block, ``/dev/zero`` never ends); a store on a read-only folder is read; a disk
that refuses a write stops the search with one line and keeps what was
committed. Every mistake ends in one line, exit 2. Commands run as ``main`` in
this process unless a hang, a resource limit or another user is the point.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from search.cli import main
from search.store import Store, StoreError

ROOT = Path(__file__).resolve().parent.parent
SPACE = ("space: {units: 1, unary: [identity, neg, abs, square, sigmoid, tanh, sin, exp], "
         "binary: [add, mul, max, sub]}")
# Runs actsearch under a limit on the size of any file it writes (RLIMIT_FSIZE): a disk
# that fills up. SIGXFSZ is ignored, so a write past the limit fails as on a full disk.
LIMITED = ("import resource, signal, sys\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
           "limit = int(sys.argv[1])\nresource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
           "from search.cli import main\nsys.exit(main(sys.argv[2:]))\n")


def _config(root: Path, evaluations: int) -> Path:
    config = root / "config.yaml"
    config.write_text("\n".join([SPACE, "evaluate: tests.fake_tasks:instant",
                                 "backend: {kind: inline}", "strategy: {name: exhaustive}",
                                 f"budget: {{max_evaluations: {evaluations}}}"]))
    return config


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    assert main(["run", str(_config(root, 30)), "--out", str(root / "run")]) == 0
    return root / "run"


@pytest.fixture()
def run_dir(finished, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def _one_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("actsearch: error: "), err
    for needle in needles:
        assert needle in err, err
    return err


def _actsearch(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search.cli", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout, **kw)


def _one_error_line(done: subprocess.CompletedProcess, *needles: str) -> str:
    errors = [line for line in done.stderr.replace("\r", "\n").splitlines()
              if line.startswith("actsearch: error: ")]
    assert done.returncode == 2 and len(errors) == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# -- -o: never a store, never a device turned into a file ------------------------------

OUTPUTS = [("report", "-o"), ("export", "--rank", "1", "-o"), ("export-table", "-o"),
           ("plot", "-o")]


@pytest.mark.parametrize("name", ["search.db", "search.db-wal", "search.db-shm", "search.lock"])
@pytest.mark.parametrize("command", OUTPUTS, ids=lambda c: c[0])
def test_o_never_writes_a_store_or_its_files(command, name, run_dir, capsys):
    before = (run_dir / "search.db").read_bytes()
    assert main([command[0], str(run_dir), *command[1:], str(run_dir / name)]) == 2
    refused = ("matplotlib cannot write",) if command[0] == "plot" else ("store",
                                                                          "another file name")
    _one_line(capsys, f"-o {run_dir / name}", *refused)
    assert (run_dir / "search.db").read_bytes() == before
    assert main(["top", str(run_dir)]) == 0


def test_o_refuses_a_link_to_a_store_and_a_copy_of_one(run_dir, tmp_path, capsys):
    (tmp_path / "page.html").symlink_to(run_dir / "search.db")
    shutil.copy(run_dir / "search.db", tmp_path / "backup.bin")
    for target, needle in ((tmp_path / "page.html", "name of a run's store"),
                           (tmp_path / "backup.bin", "is an SQLite database")):
        before = Path(os.path.realpath(target)).read_bytes()
        assert main(["report", str(run_dir), "-o", str(target)]) == 2
        _one_line(capsys, needle)
        assert Path(os.path.realpath(target)).read_bytes() == before
    assert main(["top", str(run_dir)]) == 0


def _character_device(tmp_path: Path) -> Path:
    """A character device to write into: as root a null device made here (never the
    system's /dev/null), else /dev/null itself."""
    if os.geteuid() != 0:
        return Path("/dev/null")
    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return device


@pytest.mark.parametrize("command", OUTPUTS, ids=lambda c: c[0])
def test_o_streams_into_a_character_device_and_leaves_it_one(command, run_dir, tmp_path):
    device = _character_device(tmp_path)
    assert main([command[0], str(run_dir), *command[1:], str(device)]) == 0
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert not [p for p in device.parent.iterdir() if ".tmp" in p.name]


def test_o_streams_into_a_fifo_with_a_reader_and_refuses_one_without(run_dir, tmp_path,
                                                                      capsys):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, there before the writer
    try:
        done = _actsearch("export-table", str(run_dir), "-o", str(fifo), timeout=600)
        got = os.read(reader, 1 << 16).decode()  # a few rows: they fit the pipe's buffer
    finally:
        os.close(reader)
    assert done.returncode == 0, done.stderr
    assert got.startswith("expression,reward,") and stat.S_ISFIFO(os.stat(fifo).st_mode)
    done = _actsearch("export-table", str(run_dir), "-o", str(fifo), timeout=600)
    _one_error_line(done, "a FIFO that no process reads")


def test_o_replaces_a_file_in_one_move_through_its_link_keeping_its_mode(run_dir, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("old")
    page.chmod(0o600)
    (tmp_path / "link.html").symlink_to(page)
    assert main(["report", str(run_dir), "-o", str(tmp_path / "link.html")]) == 0
    assert (tmp_path / "link.html").is_symlink() and page.read_text().startswith("<!DOCTYPE")
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.html", "page.html", "run"]


def test_plot_writes_where_o_says_and_says_so(run_dir, tmp_path, capsys):
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "figure")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'figure'}"
    assert (tmp_path / "figure").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "figure.png").exists()


# -- files that are not files: never opened, never read whole ----------------------------


@pytest.mark.parametrize("command", [("top",), ("show", "1"), ("report",),
                                     ("run", "--resume")], ids=" ".join)
def test_a_search_db_that_is_a_fifo_is_one_line_not_a_hang(command, tmp_path):
    (tmp_path / "run").mkdir()
    os.mkfifo(tmp_path / "run" / "search.db")
    args = [command[0], *command[1:], str(tmp_path / "run")] if command[0] == "run" else \
        [command[0], str(tmp_path / "run"), *command[1:]]
    done = _actsearch(*args, timeout=600)
    _one_error_line(done, "search.db is a FIFO (named pipe), not a store")


def test_a_dangling_search_db_link_is_named(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "search.db").symlink_to(tmp_path / "gone.db")
    for command in (["top", str(tmp_path / "run")], ["run", "--resume", str(tmp_path / "run")]):
        assert main(command) == 2
        _one_line(capsys, "search.db: is a symbolic link to", "gone.db, which does not exist")


def test_a_config_pool_or_table_that_is_a_fifo_is_one_line_not_a_hang(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _one_error_line(_actsearch("run", str(fifo), timeout=600), "is a FIFO (named pipe)")
    for space in (f"space: {{pool: {fifo}}}", "space: {functions: [relu(x)]}"):
        task = f"task: {{name: table, path: {fifo}}}" if "functions" in space else ""
        config = tmp_path / "config.yaml"
        config.write_text(f"{space}\n{task}\nbackend: {{kind: inline}}\n"
                          "strategy: {name: exhaustive}\n")
        _one_error_line(_actsearch("run", str(config), "--out", str(tmp_path / "out"),
                                   timeout=600), f"{fifo}: is a FIFO (named pipe)")
        assert not (tmp_path / "out").exists()


def test_a_config_that_never_ends_is_refused_unread(tmp_path):
    """/dev/zero: read whole, it fills the memory; under a 3 GB address-space limit that is
    a MemoryError within seconds, refused unread it is one line."""
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
    done = subprocess.run([sys.executable, "-c", limit + "import sys\nfrom search.cli import "
                           "main\nsys.exit(main(sys.argv[1:]))", "run", "/dev/zero"],
                          cwd=ROOT, text=True, capture_output=True, timeout=600)
    _one_error_line(done, "/dev/zero: is a character device, not a regular file")


# -- a store on a folder the reader cannot write -------------------------------------------


def _read_only_copy(run_dir: Path, *side_files: tuple[str, bytes]) -> Path:
    """The store alone (no -wal, no -shm; or the side files given) in a folder without
    write permission (which root ignores: see ``_as_reader``)."""
    folder = Path(tempfile.mkdtemp(prefix="actsearch-ro-"))
    shutil.copy(run_dir / "search.db", folder / "search.db")
    for name, data in side_files:
        (folder / name).write_bytes(data)
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)
    return folder


MOUNT_RO = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


def _as_reader(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """actsearch reading ``folder`` as a reader that cannot write it. Root may write any
    folder, so as root the folder is a read-only mount (a bind mount in a user namespace of
    its own, as `unshare -rm` makes one); where the system refuses such namespaces, the
    reader is told it cannot write the folder (``os.access``), which is all the store
    asks before it opens a store for reading."""
    command = [sys.executable, "-m", "search.cli", args[0], str(folder), *args[1:]]
    if os.geteuid() == 0:
        if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0:
            command = ["unshare", "-rm", "sh", "-c", MOUNT_RO, str(folder), *command]
        else:
            command[1:3] = ["-c", "import os, sys\nos.access = lambda *a, **k: False\n"
                            "from search.cli import main\nsys.exit(main(sys.argv[1:]))"]
    return subprocess.run(command, cwd=ROOT, text=True, capture_output=True, timeout=600)


def test_a_store_on_a_read_only_folder_is_read(finished):
    folder = _read_only_copy(finished)
    try:
        for command, shown in ((("top",), "child trainings: 30 finished"),
                               (("show", "1"), "id:          1"),
                               (("top", "--json"), '"finished": 30')):
            done = _as_reader(folder, *command)
            assert done.returncode == 0 and shown in done.stdout, done.stderr
        assert sorted(p.name for p in folder.iterdir()) == ["search.db"]  # nothing created
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_results_only_in_a_wal_file_on_a_read_only_folder_are_one_line(finished):
    folder = _read_only_copy(finished, ("search.db-wal", b"\0" * 4096))
    try:
        done = _as_reader(folder, "top")
        _one_error_line(done, "search.db-wal", "cannot be written", f"cp -r {folder}")
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


# -- a disk that refuses a write -------------------------------------------------------------


class _FullAtCommit:
    """A connection whose disk is full from now on: COMMIT fails as SQLite says it then."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, *args):
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._db, name)


def test_a_commit_the_disk_refuses_is_one_line_and_stops_every_later_write(tmp_path):
    store = Store(tmp_path / "run", writer=True)
    kept, _ = store.add_candidate("x", "x", [0], "f0", "steps=1", 1, [0])
    store.db = _FullAtCommit(store.db)
    with pytest.raises(StoreError) as first:
        store.add_candidate("tanh(x)", "tanh(x)", [1], "f1", "steps=1", 1, [0])
    message = str(first.value)
    assert "\n" not in message and "cannot write the store (database or disk is full)" in \
        message and "free disk space" in message and "actsearch run --resume" in message
    with pytest.raises(StoreError) as later:  # the search winding down: the same line
        store.abandon_running()
    assert later.value is first.value
    store.db = store.db._db
    store.close()
    with Store(tmp_path / "run") as reader:
        assert [c.id for c in reader.candidates()] == [kept]


def test_a_disk_that_fills_during_a_search_stops_it_with_one_line_and_keeps_results(
        tmp_path):
    config = _config(tmp_path, 300)
    done = subprocess.run([sys.executable, "-c", LIMITED, "400000", "run", str(config),
                           "--out", str(tmp_path / "run")], cwd=ROOT, text=True,
                          capture_output=True, timeout=300)
    _one_error_line(done, "cannot write the store", "the search stopped",
                    f"actsearch run --resume {tmp_path / 'run'}")
    with Store(tmp_path / "run") as store:
        kept = store.count_finished()
    assert kept > 0
    assert main(["run", "--resume", str(tmp_path / "run")]) == 0  # with room again
    with Store(tmp_path / "run") as store:
        assert store.count_finished() > kept


@pytest.mark.parametrize("limit", [0, 3, 20000])
def test_a_new_run_on_a_full_disk_leaves_no_store_and_says_not_damaged(limit, tmp_path):
    done = subprocess.run([sys.executable, "-c", LIMITED, str(limit), "run",
                           str(_config(tmp_path, 10)), "--out", str(tmp_path / "run")],
                          cwd=ROOT, text=True, capture_output=True, timeout=300)
    line = _one_error_line(done, "cannot")
    assert "damaged" not in line and ".recover" not in line
    assert not (tmp_path / "run").exists()
