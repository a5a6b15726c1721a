"""``surrogate: {prior: PATH}``: read the functions an earlier search or a table measured.

PATH is a run directory (its store: the functions trained to ``ok`` or
``diverged`` at the lowest rung, as ``actsearch export-table`` writes them) or
a reward table CSV (``expression,reward``, the ``table`` task's format, e.g.
``benchmarks/landscapes/cifar10_resnet8.csv``). Expressions are read with our
parser, never evaluated. The controller turns them into ranks
(``controller.prior``). The file is read when a search starts and again when
it resumes; a prior that cannot be read is one line.
"""

from __future__ import annotations

import math
from pathlib import Path

from search.errors import UserError
from space import Expression, parse


class PriorError(UserError, ValueError):
    """A prior that cannot be used; one line naming the path."""


def read_prior(path: str | Path) -> list[tuple[Expression, float]]:
    """(expression, reward) of every function the prior measured; NaN: diverged."""
    path = Path(path).expanduser()
    if not path.exists():
        raise PriorError(f"surrogate.prior: {path} does not exist; give an earlier run's "
                         "directory or a reward table CSV (expression,reward)")
    if path.is_dir():
        from search.inspect.table_export import table_rows
        from search.store import Store
        from search.store_files import StoreError

        try:
            with Store(path) as store:
                rows, _ = table_rows(store)
        except StoreError as error:
            raise PriorError(f"surrogate.prior: {error}") from None
        measured = [(parse(row["expression"]), float(row["reward"])) for row in rows]
    else:
        from evaluator.table import RewardTable, TableError

        try:
            table = RewardTable.load(path)
        except TableError as error:
            raise PriorError(f"surrogate.prior: {error}") from None
        measured = [(parse(entry.text), entry.reward) for entry in table.entries.values()]
    if not any(math.isfinite(reward) for _, reward in measured):
        raise PriorError(f"surrogate.prior: {path} has no function with a finite reward; "
                         "give a run directory or a table of trained functions")
    return measured
