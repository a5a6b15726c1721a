"""What code this is: the package version and the source tree's ``git describe``.

Kept free of heavy imports so ``actsearch --version`` answers at once.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path


def package_version() -> str:
    """The installed ``actsearch`` distribution's version, or "unknown"."""
    try:
        return metadata.version("actsearch")
    except metadata.PackageNotFoundError:
        return "unknown"


def code_version() -> str:
    """``git describe`` of the source tree when it is a checkout, else the package version."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root,
                             capture_output=True, text=True, timeout=5, check=True)
        return f"git:{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        version = package_version()
        return "actsearch (unknown version)" if version == "unknown" else f"actsearch {version}"


def version_line() -> str:
    """``actsearch --version``: the package version, then the code version."""
    return f"actsearch {package_version()} ({code_version()})"
