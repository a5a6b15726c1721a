"""Reading the text files users give (configs, pools, reward tables): one careful reader.

``read_text(path, limit, what)`` returns the text of a regular file, or raises
``FileError`` with one line naming the file, what is wrong and how to fix it:

* the kind of file is checked before it is opened (``os.stat``): a folder, a
  FIFO, a socket or a device (``/dev/zero``) is refused, never read (a FIFO
  would block, a device never ends). The file is opened with ``O_NONBLOCK``
  and checked again, so one swapped in meanwhile cannot block either;
* at most ``limit + 1`` bytes are read: a larger file is refused without being
  read whole;
* the bytes must be UTF-8; a leading UTF-8 byte-order mark (what some editors
  on Windows write) is dropped. Bytes that are not UTF-8 are reported with
  their offset and line.

It lives in ``space``, the lowest package, so that ``space`` (pools),
``evaluator`` (reward tables) and ``search`` (configs, the lock file) share it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

BOM = b"\xef\xbb\xbf"
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


class FileError(ValueError):
    """A file that cannot be read as text; the message is one line naming the file."""


def kind_of(mode: int) -> str:
    """``a FIFO (named pipe)``, ``a folder``, ...: what a file that is not regular is."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def regular_or_missing(path: str | Path, what: str) -> bool:
    """Whether ``path`` is a regular file (False: nothing there); any other kind of file,
    or a symbolic link to nothing, is a ``FileError``. Never opens the file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise FileError(f"{path}: is a symbolic link to {os.readlink(path)}, which does "
                            f"not exist; point it at {what} or remove it") from None
        return False
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise FileError(f"{os.fspath(path)!r}: cannot read {what} "
                        f"({getattr(error, 'strerror', None) or error})") from None
    if not stat.S_ISREG(mode):
        raise FileError(f"{path}: is {kind_of(mode)}, not a regular file; {what} is read "
                        "from a file (save it to one first)")
    return True


def read_bytes(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see the module docstring)."""
    if not regular_or_missing(path, what):
        raise FileError(f"{path}: cannot read {what} (No such file or directory)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        raise FileError(f"{path}: cannot read {what} ({error.strerror or error})") from None
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if not stat.S_ISREG(mode):  # swapped for another kind since the check above
            raise FileError(f"{path}: is {kind_of(mode)}, not a regular file; {what} is "
                            "read from a file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise FileError(f"{path}: cannot read {what} ({error.strerror or error})") from None
    finally:
        os.close(fd)
    if size > limit:  # its size as the file system tells it (it was not read whole)
        raise FileError(f"{path}: {what} is {max(size, info.st_size):,} bytes, more than the "
                        f"{limit:,} it may have")
    return b"".join(chunks)


def decode(data: bytes, path: str | Path) -> str:
    """UTF-8 text (a leading byte-order mark dropped), or one line naming the bad byte."""
    skip = len(BOM) if data.startswith(BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as error:
        at = skip + error.start  # the offset in the file
        line = data.count(b"\n", 0, at) + 1
        raise FileError(f"{path}: not UTF-8 text (byte 0x{data[at]:02x} at offset {at}, "
                        f"line {line}); save the file as UTF-8") from None


def read_text(path: str | Path, limit: int, what: str) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes, BOM dropped."""
    return decode(read_bytes(path, limit, what), path)
