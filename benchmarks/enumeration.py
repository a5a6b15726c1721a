"""Size and de-duplication of search spaces: raw count, canonical forms, fingerprints, time.

    python benchmarks/enumeration.py            # the full one-unit space and a two-unit space
    python benchmarks/enumeration.py --units 1  # only the one-unit space
"""

from __future__ import annotations

import argparse

import torch

from space import SearchSpace
from space.enumerate import count

TWO_UNIT = {
    "unary": ["identity", "neg", "abs", "square", "sin", "tanh", "max0", "sigmoid"],
    "binary": ["add", "sub", "mul", "max", "min"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, choices=[1, 2], nargs="*", default=[1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    spaces = []
    if 1 in args.units:
        spaces.append(("one unit, all 25 unary x 10 binary", SearchSpace(1)))
    if 2 in args.units:
        spaces.append(("two units, 8 unary x 5 binary (below)", SearchSpace(2, **TWO_UNIT)))
    print("| space | raw | unique canonical | unique fingerprints | seconds |")
    print("|---|---:|---:|---:|---:|")
    for name, space in spaces:
        stats = count(space)
        print(f"| {name} | {stats.raw:,} | {stats.canonical:,} | {stats.fingerprints:,} "
              f"| {stats.seconds:.1f} |", flush=True)
    print(f"\ntwo-unit operators: unary {TWO_UNIT['unary']}, binary {TWO_UNIT['binary']}")


if __name__ == "__main__":
    main()
