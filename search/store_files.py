"""The files of a run directory and their failures: the store's names, which files may be
opened (a FIFO, device or dangling link never is), how a reader opens the store, and the
one-line ``StoreError`` for a store that cannot be read or written."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from search.errors import UserError
from search.rows import DamagedRow
from space.files import kind_of

DB_NAME = "search.db"

LOCK_NAME = "search.lock"

CONFIG_NAME = "config.yaml"  # the resolved config, beside the store (search.launch writes it)

SIDE_FILES = ("-wal", "-shm", "-journal")  # what SQLite keeps beside search.db


class StoreError(UserError, RuntimeError):
    """A store that cannot be opened or a write that broke the store's contract."""

DAMAGED = "the store is damaged"


def damaged(path: Path, error: BaseException | str) -> StoreError:
    """One line for a store that cannot be read: what, where, and how to recover."""
    why = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, sqlite3.OperationalError) and any(
            word in why for word in ("unable to open", "locked", "readonly", "I/O error")):
        return StoreError(f"{path}: cannot read the store ({why}); check that it is a file "
                          "you may read, on a disk that works")
    if isinstance(error, DamagedRow):  # SQLite is fine; a value in a row is not ours
        return StoreError(f"{path}: {DAMAGED} ({why[:200]}); put that value right with "
                          f"`sqlite3 {path}` (it was edited or overwritten), or start a new run")
    return StoreError(f"{path}: {DAMAGED} ({why[:200]}); recover what is readable with "
                      f"`sqlite3 {path} \".recover\" | sqlite3 recovered.db` (a sqlite3 "
                      f"without .recover: \".dump\") and move recovered.db to {path}, or "
                      "start a new run")

_DISK_TROUBLE = ("full", "disk i/o", "readonly", "read-only", "unable to open")


def disk_trouble(error: BaseException) -> bool:
    """An SQLite error of the disk or the file system (full, read-only, failing), not of
    the store's content."""
    return isinstance(error, sqlite3.OperationalError) and any(
        word in str(error).lower() for word in _DISK_TROUBLE)


def remedy(error: BaseException, folder: Path) -> str:
    why = str(error).lower()
    if "full" in why:
        return f"free disk space on the disk of {folder}"
    if "readonly" in why or "read-only" in why:
        return f"make {folder} and its files writable"
    return f"check that {folder} is on a disk that works and that you may write it"


def kind_of_path(path: Path) -> str:
    """What ``path`` is, in words (a FIFO, a folder, ...), for a message."""
    try:
        return kind_of(os.stat(path).st_mode)
    except OSError:
        return "a symbolic link to nothing"


def check_files(path: Path) -> bool:
    """Whether the store ``path`` exists; it and the files SQLite keeps beside it must be
    regular files: a folder, a FIFO (opening one blocks), a device or a symbolic link to
    nothing is one line, and nothing is opened."""
    for name in (DB_NAME, *(DB_NAME + side for side in SIDE_FILES)):
        file = path.with_name(name)
        if not os.path.lexists(file) or file.is_file():
            continue
        if file.is_symlink() and not file.exists():
            raise StoreError(f"{file}: is a symbolic link to {os.readlink(file)}, which does "
                             "not exist; point it at the run's store (or remove it), or give "
                             "the run directory that holds the search")
        what, lost = ("a store", " (a search there is lost)") if name == DB_NAME else \
            ("a file of the store", "")
        raise StoreError(f"{file} is {kind_of_path(file)}, not {what}; move it away{lost} or give "
                         "another run directory")
    return path.exists()


def reader_uri(path: Path) -> str:
    """How a reader opens the store: ``mode=ro``; on a read-only folder (a read-only mount,
    another user's run) also ``immutable=1``, unless SQLite needs the WAL file's results
    (which it reads only with a ``-shm`` file beside it)."""
    uri = f"{path.absolute().as_uri()}?mode=ro"
    shm, wal = path.with_name(DB_NAME + "-shm"), path.with_name(DB_NAME + "-wal")
    if os.access(path.parent, os.W_OK) or shm.exists():
        return uri  # SQLite creates or reads the -shm file as it needs
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(f"{path}: its latest results are in {wal.name}, which SQLite reads "
                         f"only with a {shm.name} file beside it, and {path.parent} cannot be "
                         "written; copy the run directory to a folder you may write (cp -r "
                         f"{path.parent} /tmp/) and read the copy")
    return uri + "&immutable=1"  # nobody can be writing it: no -shm, no WAL results


def remove_new_store(path: Path) -> None:
    """Remove a store this process was creating when the disk refused it (and SQLite's
    files beside it), so no empty ``search.db`` is left to be taken for a damaged one."""
    for name in (DB_NAME, *(DB_NAME + side for side in SIDE_FILES)):
        with contextlib.suppress(OSError):
            path.with_name(name).unlink()
