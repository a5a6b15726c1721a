"""The run's exclusive lock (``search.lock``): one writer of a run directory at a time."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from search.store_files import LOCK_NAME, StoreError, kind_of_path


class RunLock:
    """The exclusive lock of a run directory (``search.lock``): one writer at a time.

    Taken before anything else starts (Ray, the store), so a second driver on
    the same run is refused at once. The lock file holds the holder's pid and is
    removed on ``release`` (while still held, so no one else holds a removed
    file). A directory this lock had to create is removed again on ``release``
    if nothing else was put in it (a run that could not start leaves no folder).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self._created = not self.run_dir.exists()
        self._file = None
        path = self.run_dir / LOCK_NAME
        if os.path.lexists(path) and not path.is_file():
            raise StoreError(f"{path}: is {kind_of_path(path)}, not a lock file; move it away (a "
                             "search writes its pid there)")
        while True:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                self._file = open(path, "a+")  # noqa: SIM115 (held open)
            except OSError as error:
                raise StoreError(f"{self.run_dir}: cannot write the run directory "
                                 f"({error.strerror or error}); choose another --out") from None
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._file.close()
                self._file = None
                raise StoreError(f"{self.run_dir}: another actsearch process is writing this "
                                 "run; wait for it to end or stop it first") from None
            if _same_file(self._file, path):
                break
            self._file.close()  # its last holder removed it while we opened it: again
        try:  # unbuffered, so a full disk fails here and not again when the file is closed
            os.ftruncate(self._file.fileno(), 0)
            os.write(self._file.fileno(), str(os.getpid()).encode())
        except OSError as error:  # a full disk: the lock is held, but cannot say by whom
            self.release()
            raise StoreError(f"{self.run_dir}: cannot write the run directory "
                             f"({error.strerror or error}); free disk space or choose "
                             "another --out") from None

    def release(self) -> None:
        if self._file is None:
            return
        (self.run_dir / LOCK_NAME).unlink(missing_ok=True)
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None
        if self._created and not any(self.run_dir.iterdir()):
            self.run_dir.rmdir()


def _same_file(handle: Any, path: Path) -> bool:
    """Whether the open ``handle`` is still the file at ``path`` (not unlinked meanwhile)."""
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
