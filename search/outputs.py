"""Where ``-o`` writes (``report``, ``export``, ``export-table``, ``plot``): safely, or one line.

``with output(path) as tmp:`` gives the file to write (any writer, by path);
when the block ends without error the result is put at ``path``. Decisions:

* **Never a store.** A file named ``search.db``, ``search.db-wal``,
  ``search.db-shm``, ``search.db-journal`` or ``search.lock`` (in any folder), or
  an existing file that is an SQLite database, is refused: ``-o RUN/search.db``
  would otherwise replace the search. Symbolic links are resolved first, so a
  link to a store is refused too; a hard link is safe (the target's name is
  replaced, never its content).
* **A regular file, or nothing there**: the output is written to a temporary
  file in the same folder and moved over the target with ``os.replace`` (a
  reader sees the old file or the new one, never half; a failed write leaves the
  old file as it was). The old file's permission bits are kept. Through a
  symbolic link, the file it points to is replaced, as a shell's ``>`` would.
* **A FIFO or a character device** (``/dev/stdout``, ``/dev/null``, a terminal,
  ``>(gzip > x.gz)``): written into as a stream, never replaced or created;
  a FIFO that no process reads is refused instead of waited on.
* **Anything else** (a folder, a block device, a socket) is refused.
* A missing folder is created (as ``mkdir -p`` would).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from search.errors import UsageError
from space.files import kind_of

STORE_NAMES = ("search.db", "search.db-wal", "search.db-shm", "search.db-journal",
               "search.lock")  # search.store's DB_NAME, its SQLite side files and LOCK_NAME
SQLITE_MAGIC = b"SQLite format 3\x00"


class OutputError(UsageError):
    """An ``-o`` file that cannot be written as asked (one line)."""


@contextlib.contextmanager
def output(path: str | Path) -> Iterator[Path]:
    """A temporary path to write into; on success its content is put at ``path`` (moved
    over a regular file or nothing, streamed into a FIFO or character device)."""
    given = Path(path).expanduser()
    mode = _mode(given)
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        with _streamed(path, given, mode) as tmp:
            yield tmp
        return
    if mode is not None and not stat.S_ISREG(mode):
        hint = "give a file name inside it" if stat.S_ISDIR(mode) else "give a file"
        raise OutputError(f"-o {path}: is {kind_of(mode)}; {hint}")
    target = Path(os.path.realpath(given))
    _refuse_stores(path, given, target, mode is not None)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"-o {path}: cannot create the folder {target.parent} "
                          f"({error.strerror or error})") from None
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}")
    try:
        yield tmp
        now = _mode(target, follow=False)
        if now is not None and not stat.S_ISREG(now):  # swapped for something else meanwhile
            raise OutputError(f"-o {path}: is now {kind_of(now)}; nothing was written")
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, target)
    except OSError as error:
        raise _not_written(path, error) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _mode(path: Path, follow: bool = True) -> int | None:
    """``st_mode`` of ``path`` (links followed), None when nothing is there."""
    try:
        return (os.stat if follow else os.lstat)(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        raise OutputError(f"-o {path}: cannot use it ({error.strerror or error})") from None


def _refuse_stores(path: str | Path, given: Path, target: Path, exists: bool) -> None:
    """A store's name, or an existing SQLite database, is never an output."""
    for name in (given.name, target.name):
        if name in STORE_NAMES:
            raise OutputError(f"-o {path}: {name} is the name of a run's store (or its lock or "
                              "journal); writing it would destroy the search there, so it is "
                              "refused: give another file name")
    if exists:
        try:
            with open(target, "rb") as f:
                head = f.read(len(SQLITE_MAGIC))
        except OSError:
            return  # unreadable: os.replace below says what is wrong
        if head == SQLITE_MAGIC:
            raise OutputError(f"-o {path}: is an SQLite database (a run's store?); it is not "
                              "replaced: give another file name")


@contextlib.contextmanager
def _streamed(path: str | Path, given: Path, mode: int) -> Iterator[Path]:
    """Write into a temporary file elsewhere, then copy it into the FIFO or device."""
    folder = Path(tempfile.mkdtemp(prefix="actsearch-"))
    tmp = folder / f"output{given.suffix}"
    try:
        yield tmp
        flags = os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC
        try:
            fd = os.open(given, flags | (os.O_NONBLOCK if stat.S_ISFIFO(mode) else 0))
        except OSError as error:
            if error.errno == errno.ENXIO:  # a FIFO with no reader
                raise OutputError(f"-o {path}: is a FIFO that no process reads; start its "
                                  "reader first") from None
            raise
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as stream, open(tmp, "rb") as source:
            shutil.copyfileobj(source, stream)
    except BrokenPipeError:
        raise  # the reader left (`-o /dev/stdout | head`): as for `top | head`, not an error
    except OSError as error:
        raise _not_written(path, error) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def announce(path: str | Path, line: str) -> None:
    """Print what was written on stdout, or on stderr when ``path`` is stdout itself
    (``-o /dev/stdout``), so the line does not end up inside the output."""
    try:
        same = os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        same = False
    print(line, file=sys.stderr if same else sys.stdout)


def _not_written(path: str | Path, error: OSError) -> OutputError:
    return OutputError(f"-o {path}: cannot write it ({error.strerror or error})")
