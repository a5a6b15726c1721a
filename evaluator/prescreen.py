"""A cheap check that rejects functions not worth a child's training.

``prescreen(expr)`` evaluates the function and its gradient (w.r.t. x and beta)
on fixed sample inputs, at beta = 1 (the initial value) and beta = 0.5, and
returns the reason it is invalid, or None:

* non-finite output or gradient on [-10, 10] (a batch-normalised
  pre-activation rarely leaves this range; e.g. exp(exp(x)) overflows there),
* constant (output spread below 1e-6 of its scale): the network would learn
  nothing through it,
* linear, a*x + b (relative least-squares residual below 1e-5): the network
  collapses to a linear model.

Sample points avoid x = 0 exactly and include it, so guarded divisions and
square roots are exercised where they are most fragile.
"""

from __future__ import annotations

import torch

from space import Expression, parse

SAMPLE_RANGE = 10.0
SAMPLE_BETAS = (1.0, 0.5)
CONSTANT_TOL = 1e-6
LINEAR_TOL = 1e-5  # float32 outputs of an exactly linear f leave ~1e-7


def sample_points() -> torch.Tensor:
    """2,001 evenly spaced points on [-10, 10] (0 included) plus small offsets of 0."""
    grid = torch.linspace(-SAMPLE_RANGE, SAMPLE_RANGE, 2001, dtype=torch.float64)
    near_zero = torch.tensor([-1e-4, -1e-7, 1e-7, 1e-4], dtype=torch.float64)
    return torch.cat([grid, near_zero])


def prescreen(expr: Expression) -> str | None:
    """Why ``expr`` is not worth training, or None if it passes."""
    x0 = sample_points()
    for beta_value in SAMPLE_BETAS:
        x = x0.float().clone().requires_grad_(True)
        beta = torch.tensor(beta_value, requires_grad=True)
        try:
            y = expr(x, beta=beta)
            y = torch.broadcast_to(torch.as_tensor(y, dtype=x.dtype), x.shape)
            if y.requires_grad:
                y.sum().backward()
        except (RuntimeError, ValueError, ArithmeticError) as e:
            return f"fails to evaluate: {e}"
        where = f" (beta={beta_value:g})" if expr.uses_beta else ""
        if not torch.isfinite(y).all():
            bad = x0[~torch.isfinite(y.detach())][0].item()
            return f"non-finite output at x={bad:.4g}{where}"
        grads = [("x", x.grad), ("beta", beta.grad)]
        for name, grad in grads:
            if grad is not None and not torch.isfinite(grad).all():
                first = x0[~torch.isfinite(grad)][0].item() if grad.dim() else 0.0
                return f"non-finite gradient w.r.t. {name} at x={first:.4g}{where}"
        reason = _shape_reason(x0, y.detach().double())
        if reason:
            return reason + where
    return None


def _shape_reason(x: torch.Tensor, y: torch.Tensor) -> str | None:
    """"constant" or "linear" if y(x) is one, else None (float64 arithmetic)."""
    scale = max(y.abs().max().item(), 1.0)
    if (y.max() - y.min()).item() <= CONSTANT_TOL * scale:
        return f"constant (f(x) = {y.mean().item():.4g})"
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    coef = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1)
    residual = y - design @ coef
    if residual.norm().item() <= LINEAR_TOL * max(y.norm().item(), 1e-12):
        a, b = coef.tolist()
        return f"linear (f(x) = {a:.4g}*x + {b:.4g})"
    return None


def screen(expr_text: str) -> Expression | tuple[str, str]:
    """The parsed expression ready to train, or (status, why) when it is not:
    ``error`` for text that does not parse, ``invalid`` for a failed pre-screen."""
    try:
        expr = parse(expr_text)
    except ValueError as e:
        return "error", f"cannot parse {expr_text!r}: {e}"
    reason = prescreen(expr)
    return expr if reason is None else ("invalid", reason)
