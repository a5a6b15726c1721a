"""Expressions as ``nn.Module``s, and as standalone torch source files.

``to_module`` evaluates the tree with ``space.expression.evaluate`` (plain
torch ops, so autograd, ``torch.compile`` and ``torch.export`` see ordinary
code). ``export_source`` prints the same tree through the table's torch source
templates into a file that imports only torch and loads the module's
``state_dict``.
"""

from __future__ import annotations

import torch
from torch import nn

from space.expression import BETA, Const, Expression, Node, Var, format_number
from space.operators import EPS, PRIMITIVES

BETA_INIT = 1.0  # Swish's beta starts at 1 (Ramachandran et al.); a config may override


def _beta_for(beta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-channel beta broadcast over dim 1 like ``nn.PReLU``, in x's dtype."""
    beta = beta.to(x.dtype)
    if beta.numel() == 1 or x.dim() < 2:
        return beta.reshape(()) if beta.numel() == 1 else beta
    return beta.view([1, -1] + [1] * (x.dim() - 2))


class Activation(nn.Module):
    """f(x; beta) applied elementwise; ``beta`` is a parameter of shape (num_parameters,)."""

    def __init__(self, expression: Expression, num_parameters: int = 1,
                 init: float = BETA_INIT, inplace: bool = False) -> None:
        super().__init__()
        del inplace  # accepted for drop-in use (timm style); never in-place
        self.expression = expression
        self.num_parameters = num_parameters
        if expression.uses_beta:
            self.beta = nn.Parameter(torch.full((num_parameters,), float(init)))
        else:
            self.register_parameter("beta", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = _beta_for(self.beta, x) if self.beta is not None else 1.0
        return self.expression(x, beta)

    def extra_repr(self) -> str:
        return f"{self.expression.text}, num_parameters={self.num_parameters}"


def to_module(expression: Expression, num_parameters: int = 1, init: float = BETA_INIT,
              inplace: bool = False) -> Activation:
    """A fresh module computing ``expression``; call once per activation site."""
    return Activation(expression, num_parameters=num_parameters, init=init, inplace=inplace)


# -- standalone source ----------------------------------------------------------

def to_torch_source(node: Node) -> str:
    """A torch expression in the names ``x`` and ``beta``, mirroring ``evaluate``."""
    if isinstance(node, Var):
        return "beta" if node == BETA else "x"
    if isinstance(node, Const):
        return format_number(node.value) + ".0" * node.value.is_integer()
    sources = [to_torch_source(a) for a in node.args]
    is_tensor = [not isinstance(a, Const) for a in node.args]
    if not any(is_tensor):  # a constant subtree: evaluate() makes its first argument a tensor
        sources[0], is_tensor[0] = f"x.new_tensor({sources[0]})", True
    if node.op in ("max", "min") and not all(is_tensor):
        tensor, bound = (sources[0], sources[1]) if is_tensor[0] else (sources[1], sources[0])
        keyword = "min" if node.op == "max" else "max"
        return f"torch.clamp({tensor}, {keyword}={bound})"
    return PRIMITIVES[node.op].source.format(a=sources[0], b=sources[-1])


_TEMPLATE = '''"""{title}

Exported by actsearch. f(x) = {text}
Needs only torch. Load learned values with ``module.load_state_dict(...)``.
"""

import math  # noqa: F401  (used by some formulas)

import torch
from torch import nn

EPS = {eps!r}  # guard in log(|x| + eps), x1 / (x2 + eps), sqrt(max(x, 0) + eps)
FORMULA = {text!r}


class {name}(nn.Module):
    """f(x) = {text}, elementwise; beta is per channel (dim 1) like nn.PReLU."""

    def __init__(self, num_parameters: int = 1, init: float = {init!r}, inplace: bool = False):
        super().__init__()
        self.num_parameters = num_parameters
{beta_init}
    def forward(self, x: torch.Tensor) -> torch.Tensor:
{beta_forward}        out = {source}
        return torch.broadcast_to(torch.as_tensor(out, dtype=x.dtype, device=x.device), x.shape)

    def extra_repr(self) -> str:
        return FORMULA + f", num_parameters={{self.num_parameters}}"
'''

_BETA_INIT = "        self.beta = nn.Parameter(torch.full((num_parameters,), float(init)))\n"
_BETA_FORWARD = """        beta = self.beta.to(x.dtype)
        if beta.numel() == 1:
            beta = beta.reshape(())
        elif x.dim() >= 2:
            beta = beta.view([1, -1] + [1] * (x.dim() - 2))
"""


def export_source(expression: Expression, class_name: str = "Activation",
                  init: float = BETA_INIT) -> str:
    """Source of a standalone module file computing ``expression``."""
    if not class_name.isidentifier():
        raise ValueError(f"class name {class_name!r} is not a Python identifier")
    uses_beta = expression.uses_beta
    return _TEMPLATE.format(
        title=f"Activation function {expression.text}",
        text=expression.text,
        eps=EPS,
        name=class_name,
        init=float(init),
        beta_init=_BETA_INIT if uses_beta else "",
        beta_forward=_BETA_FORWARD if uses_beta else "",
        source=to_torch_source(expression.root),
    )


__all__ = ["Activation", "export_source", "to_module", "to_torch_source"]
