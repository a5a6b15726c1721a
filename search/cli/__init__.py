"""The ``actsearch`` command line: ``search.cli:main`` is the console script's entry point."""

from search.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
