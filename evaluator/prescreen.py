"""A cheap check that rejects functions not worth a child's training.

``prescreen(expr, beta_init)`` evaluates the function and its gradient (w.r.t.
x and beta) on fixed sample inputs and returns the reason it is invalid, or
None:

* non-finite output or gradient on [-10, 10] at the initial beta (a
  batch-normalised pre-activation rarely leaves this range; e.g. exp(exp(x))
  overflows there): the first step would already be NaN;
* constant: output spread below 1e-6 of its scale on [-10, 10], or a standard
  deviation below 1% of its root-mean-square on N(0, 1) inputs (the
  distribution a batch-normalised pre-activation has). The second catches
  functions that are constant but for an epsilon, such as
  ``cosh(x) / cosh(x)`` = 1 - eps / (cosh(x) + eps): their gradient is ~1e-3 and
  a network of them trains to chance;
* linear, a*x + b (relative least-squares residual below 1e-5 on [-10, 10]):
  the network collapses to a linear model.

Beta is trainable per channel, and it moves: ``max(x, beta * x)`` is the
identity at beta = 1 but a leaky ReLU everywhere else, and
``beta * x + (1 - beta) * u(x)`` is PReLU's idea for any u. So the shape
(constant, linear) is judged at several values of beta, ``SHAPE_BETAS``, and a
function is rejected only if it is constant or linear at every one of them
where it is finite. Non-finite values are judged at the initial beta only
(where training starts).

Sample points avoid x = 0 exactly and include it, so guarded divisions and
square roots are exercised where they are most fragile.
"""

from __future__ import annotations

import torch

from space import Expression, parse

SAMPLE_RANGE = 10.0
SHAPE_BETAS = (1.0, 0.5, 2.0, -1.0)  # beta values where shape is judged (initial one first)
CONSTANT_TOL = 1e-6  # spread / scale on [-10, 10]
NEAR_CONSTANT_TOL = 1e-2  # std / rms on N(0, 1) inputs
LINEAR_TOL = 1e-5  # float32 outputs of an exactly linear f leave ~1e-7
TYPICAL_POINTS = 2000  # N(0, 1) quantiles for the near-constant test


def sample_points() -> torch.Tensor:
    """2,001 evenly spaced points on [-10, 10] (0 included) plus small offsets of 0."""
    grid = torch.linspace(-SAMPLE_RANGE, SAMPLE_RANGE, 2001, dtype=torch.float64)
    near_zero = torch.tensor([-1e-4, -1e-7, 1e-7, 1e-4], dtype=torch.float64)
    return torch.cat([grid, near_zero])


def typical_points() -> torch.Tensor:
    """Quantiles of N(0, 1): what a batch-normalised pre-activation looks like."""
    levels = (torch.arange(TYPICAL_POINTS, dtype=torch.float64) + 0.5) / TYPICAL_POINTS
    return torch.special.ndtri(levels)


def prescreen(expr: Expression, beta_init: float = 1.0) -> str | None:
    """Why ``expr`` is not worth training, or None if it passes."""
    x0 = sample_points()
    reason = _non_finite(expr, x0, beta_init)
    if reason is not None:
        return reason
    betas = [beta_init, *(b for b in SHAPE_BETAS if b != beta_init)] if expr.uses_beta \
        else [beta_init]
    typical = typical_points()
    reasons = []
    for beta in betas:
        y, y_typical = _values(expr, x0, beta), _values(expr, typical, beta)
        if not (torch.isfinite(y).all() and torch.isfinite(y_typical).all()):
            continue  # no evidence either way at this beta
        reason = _shape_reason(x0, y, y_typical)
        if reason is None:
            return None
        reasons.append(reason)
    if not expr.uses_beta:
        return reasons[0]
    tried = ", ".join(f"{b:g}" for b in betas)
    return f"{reasons[0]} at beta={beta_init:g}, and constant or linear at every beta tried " \
           f"({tried})"


def _non_finite(expr: Expression, x0: torch.Tensor, beta_value: float) -> str | None:
    """Why the output or a gradient is not finite (or fails to evaluate), else None."""
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
    for name, grad in (("x", x.grad), ("beta", beta.grad)):
        if grad is not None and not torch.isfinite(grad).all():
            first = x0[~torch.isfinite(grad)][0].item() if grad.dim() else 0.0
            return f"non-finite gradient w.r.t. {name} at x={first:.4g}{where}"
    return None


def _values(expr: Expression, x: torch.Tensor, beta: float) -> torch.Tensor:
    """f(x) in float32 (what training computes), returned as float64 of x's shape."""
    with torch.no_grad():
        y = expr(x.float(), beta=torch.tensor(beta))
        return torch.broadcast_to(torch.as_tensor(y, dtype=torch.float32), x.shape).double()


def _shape_reason(x: torch.Tensor, y: torch.Tensor, y_typical: torch.Tensor) -> str | None:
    """"constant" or "linear" if y(x) is one, else None (float64 arithmetic)."""
    scale = max(y.abs().max().item(), 1.0)
    if (y.max() - y.min()).item() <= CONSTANT_TOL * scale:
        return f"constant (f(x) = {_linear_text(0.0, y.mean().item())})"
    rms = y_typical.pow(2).mean().sqrt().item()
    relative = y_typical.std().item() / rms if rms > 0 else 0.0
    if relative < NEAR_CONSTANT_TOL:
        return (f"constant within {relative:.2%} of its scale on N(0, 1) inputs "
                f"(f(x) ~ {y_typical.mean().item():.4g})")
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    coef = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1)
    residual = y - design @ coef
    if residual.norm().item() <= LINEAR_TOL * max(y.norm().item(), 1e-12):
        a, b = coef.tolist()
        return f"linear (f(x) = {_linear_text(a, b)})"
    return None


def _linear_text(a: float, b: float) -> str:
    """``a*x + b`` to 4 significant digits, a term below float32 noise (1e-6 of the larger
    coefficient, or of 1) dropped: ``-2*x``, not ``-2*x + -2.084e-19``."""
    small = 1e-6 * max(abs(a), abs(b), 1.0)
    a, b = (0.0 if abs(v) < small else float(f"{v:.4g}") for v in (a, b))
    if a == 0.0:
        return f"{b:.4g}"
    slope = "x" if a == 1.0 else "-x" if a == -1.0 else f"{a:.4g}*x"
    if b == 0.0:
        return slope
    return f"{slope} {'-' if b < 0 else '+'} {abs(b):.4g}"


def screen(expr_text: str, beta_init: float = 1.0) -> Expression | tuple[str, str]:
    """The parsed expression ready to train, or (status, why) when it is not:
    ``error`` for text that does not parse, ``invalid`` for a failed pre-screen."""
    try:
        expr = parse(expr_text)
    except ValueError as e:
        return "error", f"cannot parse {expr_text!r}: {e}"
    reason = prescreen(expr, beta_init)
    return expr if reason is None else ("invalid", reason)
