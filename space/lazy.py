"""Modules imported on first use, so that reading results does not pay for training's.

torch and sympy take seconds to import, and ``actsearch --help``, ``top`` and
``show`` parse expressions and read the store without evaluating anything. A
module that evaluates or renders with them binds a stand-in instead of the module::

    torch = LazyModule("torch", globals(), "torch")   # instead of `import torch`

The first attribute lookup (``torch.sin``) imports the module and rebinds the
owner's global to the real module, so every later lookup (including the code
``torch.compile`` traces) sees the module itself and costs nothing extra. The
pattern is TensorFlow's ``LazyLoader``. Only attribute use is deferred: a table
that stores ``torch.sin`` at import time must wrap it (``lambda a: torch.sin(a)``).
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class LazyModule(types.ModuleType):
    """Stands for module ``name`` in ``namespace[alias]`` until an attribute is used."""

    def __init__(self, name: str, namespace: dict[str, Any], alias: str) -> None:
        super().__init__(name)
        self._namespace = namespace
        self._alias = alias

    def load(self) -> types.ModuleType:
        """Import the module now and put it where this stand-in was."""
        module = importlib.import_module(self.__name__)
        self._namespace[self._alias] = module
        return module

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.load(), attribute)

    def __dir__(self) -> list[str]:
        return dir(self.load())
