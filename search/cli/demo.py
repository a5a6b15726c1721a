"""``actsearch demo``: the search space at a glance, no training (a few seconds).

Enumerates the paper's one-unit space, counts its unique functions (exact
spellings and numerically equal ones), then parses Swish and prints its
standalone PyTorch module.
"""

from __future__ import annotations

from space import SearchSpace, export_source, parse
from space.enumerate import count

SWISH = "x * sigmoid(beta * x)"


def demo() -> str:
    """The demo's text."""
    space = SearchSpace(units=1)
    stats = count(space)
    swish = parse(SWISH)
    lines = [
        f"one-unit space: {len(space.unary)} unary x {len(space.binary)} binary operators",
        f"  {stats.raw} token sequences, {stats.canonical} distinct spellings, "
        f"{stats.fingerprints} distinct functions (same values on sample points) "
        f"[{stats.seconds:.1f} s]",
        f"two-unit space: {SearchSpace(units=2).size:,} token sequences",
        "",
        f"Swish parsed from {SWISH!r}:",
        f"  canonical {swish.canonical!r}, LaTeX {swish.latex()}",
        f"  derivative {swish.derivative()}",
        "",
        "its standalone module (actsearch export writes such a file):",
        "",
        export_source(swish, class_name="Swish"),
    ]
    return "\n".join(lines)
