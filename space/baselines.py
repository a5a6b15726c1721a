"""The named baseline activations, as expressions of our language.

Each baseline is a macro of ``space.operators`` (or a primitive or alias), so
``baseline("PReLU")`` is an ordinary ``Expression``: it prints, hashes, trains
and exports like any searched function. Display names follow the paper's
comparison tables (Ramachandran et al. 2017, Table 3).
"""

from __future__ import annotations

from space.expression import Expression
from space.parser import parse

# Display name -> expression text, in the paper's order.
BASELINES: dict[str, str] = {
    "ReLU": "relu(x)",  # max(x, 0)
    "LReLU": "lrelu(x)",  # negative slope 0.01
    "PReLU": "prelu(x)",  # trainable per-channel slope alpha, initially 0.25
    "Softplus": "softplus(x)",  # log(1 + e^x)
    "ELU": "elu(x)",  # alpha = 1
    "SELU": "selu(x)",  # torch's lambda and alpha
    "GELU": "gelu(x)",  # exact erf form
    "Swish-1": "swish1(x)",  # x * sigmoid(x)
    "Swish": "swish(x)",  # x * sigmoid(beta * x), trainable beta
}


def _function_name(text: str) -> str:
    return text.removesuffix("(x)")


_BY_KEY: dict[str, str] = {
    **{_function_name(text): text for text in BASELINES.values()},
    **{name.lower(): text for name, text in BASELINES.items()},
}


def baseline(name: str) -> Expression:
    """The baseline called ``name``: a display name or a function name, any case."""
    text = _BY_KEY.get(str(name).lower())
    if text is None:
        functions = ", ".join(_function_name(t) for t in BASELINES.values())
        raise ValueError(f"unknown baseline {name!r}; valid: {', '.join(BASELINES)} "
                         f"(or the function names {functions})")
    return parse(text)
