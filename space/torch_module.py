"""Expressions as ``nn.Module``s, and as standalone torch source files.

``to_module`` evaluates the tree with ``space.expression.evaluate`` (plain
torch ops, so autograd, ``torch.compile`` and ``torch.export`` see ordinary
code). ``export_source`` prints the same tree through the table's torch source
templates into a file that imports only torch and loads the module's
``state_dict``.

Trainable leaves become per-channel parameters, registered only when the
expression uses them: ``beta`` (the search space's) and ``alpha`` (PReLU's
slope, used only by the ``prelu`` baseline).
"""

from __future__ import annotations

import torch
from torch import nn

from space.expression import ALPHA_INIT, Const, Expression, Node, Var, format_number
from space.operators import EPS, PRIMITIVES

BETA_INIT = 1.0  # Swish's beta starts at 1 (Ramachandran et al.); a config may override


def _per_channel(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-channel parameter broadcast over dim 1 like ``nn.PReLU``, in x's dtype."""
    weight = weight.to(x.dtype)
    if weight.numel() == 1 or x.dim() < 2:
        return weight.reshape(()) if weight.numel() == 1 else weight
    return weight.view([1, -1] + [1] * (x.dim() - 2))


class Activation(nn.Module):
    """f(x; beta, alpha) applied elementwise.

    ``beta`` and ``alpha`` are parameters of shape (num_parameters,), each present
    only when the expression uses it (``None`` otherwise).
    """

    def __init__(self, expression: Expression, num_parameters: int = 1,
                 init: float = BETA_INIT, inplace: bool = False,
                 alpha_init: float = ALPHA_INIT) -> None:
        super().__init__()
        del inplace  # accepted for drop-in use (timm style); never in-place
        self.expression = expression
        self.num_parameters = num_parameters
        for name, used, value in (("beta", expression.uses_beta, init),
                                  ("alpha", expression.uses_alpha, alpha_init)):
            parameter = nn.Parameter(torch.full((num_parameters,), float(value))) if used else None
            self.register_parameter(name, parameter)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = _per_channel(self.beta, x) if self.beta is not None else BETA_INIT
        alpha = _per_channel(self.alpha, x) if self.alpha is not None else ALPHA_INIT
        return self.expression(x, beta, alpha)

    def extra_repr(self) -> str:
        return f"{self.expression.text}, num_parameters={self.num_parameters}"


def to_module(expression: Expression, num_parameters: int = 1, init: float = BETA_INIT,
              inplace: bool = False, alpha_init: float = ALPHA_INIT) -> Activation:
    """A fresh module computing ``expression``; call once per activation site.

    ``init`` is beta's initial value, ``alpha_init`` alpha's (PReLU only).
    """
    return Activation(expression, num_parameters=num_parameters, init=init, inplace=inplace,
                      alpha_init=alpha_init)


# -- standalone source ----------------------------------------------------------

def to_torch_source(node: Node) -> str:
    """A torch expression in the names ``x``, ``beta`` and ``alpha``, mirroring ``evaluate``."""
    if isinstance(node, Var):
        return node.name
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
    """f(x) = {text}, elementwise.

    Its trainable parameters, if any, are per channel (dim 1) like nn.PReLU's.
    """

    def __init__(self, num_parameters: int = 1, init: float = {init!r},
                 inplace: bool = False{alpha_argument}):
        super().__init__()
        self.num_parameters = num_parameters
{parameters_init}
    def forward(self, x: torch.Tensor) -> torch.Tensor:
{parameters_forward}        out = {source}
        return torch.broadcast_to(torch.as_tensor(out, dtype=x.dtype, device=x.device), x.shape)

    def extra_repr(self) -> str:
        return FORMULA + f", num_parameters={{self.num_parameters}}"
'''

_PARAMETER_INIT = """\
        self.{name} = nn.Parameter(torch.full((num_parameters,), float({init})))
"""
_PARAMETER_FORWARD = """        {name} = self.{name}.to(x.dtype)
        if {name}.numel() == 1:
            {name} = {name}.reshape(())
        elif x.dim() >= 2:
            {name} = {name}.view([1, -1] + [1] * (x.dim() - 2))
"""


def export_source(expression: Expression, class_name: str = "Activation",
                  init: float = BETA_INIT, alpha_init: float = ALPHA_INIT) -> str:
    """Source of a standalone module file computing ``expression``.

    Its state_dict has the keys of ``to_module``'s, so learned values load as is.
    """
    if not class_name.isidentifier():
        raise ValueError(f"class name {class_name!r} is not a Python identifier")
    # (parameter, the __init__ argument holding its initial value), in to_module's order
    used = [(name, argument) for name, argument, uses in (
        ("beta", "init", expression.uses_beta),
        ("alpha", "alpha_init", expression.uses_alpha)) if uses]
    return _TEMPLATE.format(
        title=f"Activation function {expression.text}",
        text=expression.text,
        eps=EPS,
        name=class_name,
        init=float(init),
        alpha_argument=f", alpha_init: float = {float(alpha_init)!r}" * expression.uses_alpha,
        parameters_init="".join(_PARAMETER_INIT.format(name=n, init=a) for n, a in used),
        parameters_forward="".join(_PARAMETER_FORWARD.format(name=n) for n, _ in used),
        source=to_torch_source(expression.root),
    )


__all__ = ["Activation", "export_source", "to_module", "to_torch_source"]
