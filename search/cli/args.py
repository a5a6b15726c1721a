"""What every command shares: exit codes, range-checked numbers, ``-o`` files and one-line
argument errors. It imports nothing of the search, so every command module may use it."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from search.errors import UsageError

EXIT_USER, EXIT_ABORTED, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 1, 130, 143
RUN_DIR_HELP = "a run directory, as `actsearch run` printed it (runs/<name>-<time>)"
COUNT_MAX = 1_000_000  # -k, --rank, --workers, --seeds, ...: sane upper bound of a count
SEED_MAX = 2**32 - 1  # what numpy's legacy seeding takes (the config's seed range too)


def one_line(error: BaseException) -> str:
    """An exception's message on one line (its type's name when it has none)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def integer(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number written in ASCII digits, from ``low`` to ``high``."""
    def parse(text: str) -> int:
        digits = text.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", digits):
            raise argparse.ArgumentTypeError(f"expected a whole number (digits 0-9), got "
                                             f"{shown(text)}")
        if len(digits.lstrip("+-").lstrip("0")) > len(str(high)) or not \
                low <= int(digits) <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high:,}, got "
                                             f"{shown(text)}")
        return int(digits)
    parse.__name__ = "integer"
    return parse


def shown(text: str, limit: int = 30) -> str:
    """``text`` quoted for a message, cut after ``limit`` characters."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def output_file(path: str) -> Path:
    """Where ``-o`` writes: the folder is created when missing; a folder or a folder that
    cannot be made is one line."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"-o {path}: is a folder; give a file name inside it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"-o {path}: cannot create the folder {target.parent} "
                         f"({error.strerror or error})") from None
    return target


def not_written(path: str, error: Exception) -> UsageError:
    """The one line for an ``-o`` file that could not be written."""
    why = getattr(error, "strerror", None) or " ".join(str(error).split())
    return UsageError(f"-o {path}: cannot write it ({why})")


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the command line's one-line errors (exit 2), pointing at ``--help``."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]  # "" for actsearch itself
        self.exit(EXIT_USER, f"actsearch: error: {command + ': ' if command else ''}"
                             f"{' '.join(message.split())} (see `{self.prog} --help`)\n")
