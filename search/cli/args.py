"""What every command shares: exit codes, range-checked numbers and one-line argument
errors (``-o`` files: ``search.outputs``). It imports nothing of the search, so every
command module may use it."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import NoReturn

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


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the command line's one-line errors (exit 2), pointing at ``--help``;
    an argument that starts with one ``-`` but is none of the command's options (an
    expression: ``actsearch show RUN -x*sigmoid(x)``) is a value, not an unknown option,
    so it needs no ``--`` before it. A short option with its value attached (``-oact.py``)
    is still that option."""

    def _parse_optional(self, arg_string: str):  # argparse's hook: None means "a value"
        if arg_string.startswith("-") and not arg_string.startswith("--") \
                and arg_string not in self._option_string_actions:
            action = self._option_string_actions.get(arg_string[:2])
            if action is None or action.nargs == 0:
                return None
        return super()._parse_optional(arg_string)

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]  # "" for actsearch itself
        self.exit(EXIT_USER, f"actsearch: error: {command + ': ' if command else ''}"
                             f"{' '.join(message.split())} (see `{self.prog} --help`)\n")
