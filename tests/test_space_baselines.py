"""Named baselines (ReLU ... Swish) against torch's own implementations, values and gradients."""

from __future__ import annotations

import importlib.util

import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from space import BASELINES, BINARY, UNARY, SearchSpace, baseline, export_source, parse, to_module
from space.expression import ALPHA, ALPHA_SYMBOL, BETA_SYMBOL, X_SYMBOL, Expression, Var, X, uses

CHANNELS = 3
# Negatives, 0 (the kink of the piecewise ones), tiny values around it, and large |x|.
GRID = torch.cat([torch.linspace(-8.0, 8.0, 161), torch.tensor([0.0, -1e-6, 1e-6, -30.0, 30.0])])


def _reference(name: str, weight: torch.Tensor | None, dtype: torch.dtype):
    """torch's implementation and its parameters; ``weight``: PReLU's alpha or Swish's beta."""
    if name == "PReLU":
        prelu = nn.PReLU(num_parameters=CHANNELS, init=0.25).to(dtype)
        with torch.no_grad():
            prelu.weight.copy_(weight)
        return prelu, [prelu.weight]
    if name == "Swish":
        beta = weight.clone().requires_grad_()
        return (lambda v: v * torch.sigmoid(beta.view(1, -1, 1) * v)), [beta]
    function = {
        "ReLU": F.relu,
        "LReLU": lambda v: F.leaky_relu(v, 0.01),
        "Softplus": F.softplus,
        "ELU": F.elu,
        "SELU": F.selu,
        "GELU": lambda v: F.gelu(v, approximate="none"),
        "Swish-1": F.silu,
    }[name]
    return function, []


def _pair(name: str, dtype: torch.dtype, seed: int = 0):
    """Our module and its per-channel weight (random), or None for the fixed baselines."""
    module = to_module(baseline(name), num_parameters=CHANNELS).to(dtype)
    params = list(module.parameters())
    if not params:
        return module, None
    (param,) = params
    with torch.no_grad():
        param.copy_(torch.rand(CHANNELS, generator=torch.Generator().manual_seed(seed)) * 2)
    return module, param.detach().clone()


def _input(dtype: torch.dtype) -> torch.Tensor:
    """The grid in every channel: shape (2, CHANNELS, len(GRID))."""
    return GRID.to(dtype).expand(2, CHANNELS, -1).clone()


def test_the_table_lists_the_papers_baselines_in_order():
    assert list(BASELINES) == ["ReLU", "LReLU", "PReLU", "Softplus", "ELU", "SELU", "GELU",
                               "Swish-1", "Swish"]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", list(BASELINES))
def test_values_equal_torch(name, dtype):
    module, weight = _pair(name, dtype)
    x = _input(dtype)
    reference, _ = _reference(name, weight, dtype)
    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x))


@pytest.mark.parametrize("name", list(BASELINES))
def test_gradients_equal_torch_autograd(name):
    """d/dx on the grid, d/dalpha and d/dbeta per channel; at exactly 0 as well, except ReLU."""
    module, weight = _pair(name, torch.float64)
    x = _input(torch.float64).requires_grad_()
    upstream = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ours = torch.autograd.grad((module(x) * upstream).sum(), [x, *module.parameters()])

    reference, params = _reference(name, weight, torch.float64)
    x_ref = x.detach().clone().requires_grad_()
    theirs = torch.autograd.grad((reference(x_ref) * upstream).sum(), [x_ref, *params])
    if name == "ReLU":  # max(x, 0) is a clamp: slope 1 at exactly 0 where F.relu takes 0
        at_zero = x.detach() == 0
        assert (ours[0][at_zero] == upstream[at_zero]).all()
        ours, theirs = (ours[0][~at_zero],), (theirs[0][~at_zero],)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_prelu_slope_at_zero_is_alpha_like_nn_prelu():
    x = torch.zeros(1, 2, requires_grad=True)
    module = to_module(baseline("PReLU"), num_parameters=2, alpha_init=0.4)
    (grad,) = torch.autograd.grad(module(x).sum(), x)
    assert grad.flatten().tolist() == pytest.approx([0.4, 0.4])


def test_macros_apply_to_any_argument():
    x = torch.linspace(-4, 4, 33, dtype=torch.float64)
    torch.testing.assert_close(parse("prelu(sin(x))")(x, alpha=0.3),
                               F.prelu(torch.sin(x), torch.tensor([0.3], dtype=torch.float64)))
    torch.testing.assert_close(parse("elu(2 * x)")(x), F.elu(2 * x))
    torch.testing.assert_close(parse("swish(x)")(x, 2.0), x * torch.sigmoid(2 * x))


def test_expression_call_keeps_beta_positional_and_defaults_alpha_to_a_quarter():
    x = torch.tensor([-2.0, 3.0])
    assert parse("prelu(x)")(x).tolist() == [-0.5, 3.0]
    assert parse("prelu(x)")(x, 1.0, 0.1).tolist() == pytest.approx([-0.2, 3.0])
    assert parse("swish(x)")(x, 0.0).tolist() == [-1.0, 1.5]


def _float(expr: sp.Expr, x: float, beta: float, alpha: float) -> float:
    return float(expr.subs({X_SYMBOL: x, BETA_SYMBOL: beta, ALPHA_SYMBOL: alpha}).evalf())


@pytest.mark.parametrize("name", list(BASELINES))
def test_sympy_form_and_derivative_agree_with_torch(name):
    expr = baseline(name)
    f, df = expr.sympy(), expr.derivative()
    assert f.free_symbols <= {X_SYMBOL, BETA_SYMBOL, ALPHA_SYMBOL}
    assert (ALPHA_SYMBOL in f.free_symbols) == expr.uses_alpha
    beta, alpha = 1.3, 0.35
    for v in (-2.5, -0.4, 0.7, 3.1):  # away from the kink at 0
        x = torch.tensor([v], dtype=torch.float64, requires_grad=True)
        out = expr(x, beta, alpha)
        (grad,) = torch.autograd.grad(out.sum(), x)
        assert float(out.detach()) == pytest.approx(_float(f, v, beta, alpha), rel=1e-12, abs=1e-12)
        assert float(grad) == pytest.approx(_float(df, v, beta, alpha), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", list(BASELINES))
def test_text_round_trips_and_names_resolve(name):
    expr = baseline(name)
    assert parse(str(expr)) == expr
    assert parse(expr.canonical).canonical == expr.canonical
    assert parse(expr.canonical).fingerprint == expr.fingerprint
    function = BASELINES[name].removesuffix("(x)")
    for spelling in (name, name.upper(), name.lower(), function, function.upper()):
        assert baseline(spelling) == expr


def test_known_spellings_share_the_canonical_form():
    assert baseline("ReLU").canonical == parse("max(0, x)").canonical
    assert baseline("Swish-1") == parse("silu(x)") == parse("x * sigmoid(x)")
    assert baseline("Swish") == parse("x * sigmoid(beta * x)")
    assert baseline("GELU") == parse("0.5 * x * (1 + erf(0.7071067811865476 * x))")
    assert baseline("Softplus") == parse("softplus(x)")


def test_alpha_is_a_leaf_with_its_spellings():
    assert parse("α * x") == parse("alpha * x")
    assert parse("alpha * x").uses_alpha and not parse("alpha * x").uses_beta
    assert r"\alpha" in baseline("PReLU").latex()
    assert "alpha" in str(baseline("PReLU"))
    with pytest.raises(ValueError, match="'alpha' is not a function"):
        parse("alpha(x)")
    with pytest.raises(ValueError, match="did you mean 'alpha'"):
        parse("alpah * x")
    with pytest.raises(ValueError, match="'prelu' takes 1 argument, got 2"):
        parse("prelu(x, x)")
    with pytest.raises(ValueError, match="unknown leaf 'y'"):
        Expression(Var("y"))


def test_alpha_changes_the_fingerprint_and_the_canonical_form():
    """Functions that differ only in which parameter plays a role hash apart."""
    prelu = baseline("PReLU")
    with_beta = parse("x - min(x, 0) + beta * min(x, 0)")
    with_quarter = parse("x - min(x, 0) + 0.25 * min(x, 0)")
    keys = {e.fingerprint for e in (prelu, with_beta, with_quarter, baseline("LReLU"))}
    assert len(keys) == 4
    assert prelu.canonical != with_beta.canonical
    assert parse("alpha * x + beta").fingerprint != parse("beta * x + alpha").fingerprint


@pytest.mark.parametrize("name", list(BASELINES))
def test_parameters_exist_only_when_used(name):
    expr = baseline(name)
    module = to_module(expr, num_parameters=CHANNELS)
    names = {"PReLU": ["alpha"], "Swish": ["beta"]}.get(name, [])
    assert [n for n, _ in module.named_parameters()] == names
    assert expr.uses_alpha == (name == "PReLU") and expr.uses_beta == (name == "Swish")
    if name == "PReLU":
        assert module.alpha.shape == (CHANNELS,) and module.beta is None
        assert module.alpha.tolist() == [0.25] * CHANNELS
        custom = to_module(expr, num_parameters=2, init=3.0, alpha_init=0.1)
        assert custom.alpha.tolist() == pytest.approx([0.1, 0.1])
    else:
        assert module.alpha is None


def test_a_function_with_both_parameters_keeps_them_apart():
    module = to_module(parse("alpha * x + beta"), num_parameters=2, init=2.0, alpha_init=0.5)
    assert sorted(n for n, _ in module.named_parameters()) == ["alpha", "beta"]
    x = torch.ones(1, 2, 1)
    assert module(x).flatten().tolist() == [2.5, 2.5]


def _load(tmp_path, source: str, stem: str):
    path = tmp_path / f"{stem}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(stem, path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.mark.parametrize("text", ["prelu(x)", "swish(x)", "alpha * x + beta * sin(x)"])
def test_exported_source_equals_to_module(tmp_path, text):
    expr = parse(text)
    reference = to_module(expr, num_parameters=CHANNELS)
    fresh = _load(tmp_path, export_source(expr, class_name="Act"), "exported").Act(CHANNELS)
    assert fresh.state_dict().keys() == reference.state_dict().keys()
    for key, value in fresh.state_dict().items():  # same initial values, 0.25 and 1.0
        torch.testing.assert_close(value, reference.state_dict()[key])
    with torch.no_grad():
        for p in reference.parameters():
            p.copy_(torch.rand(CHANNELS) * 2)
    fresh.load_state_dict(reference.state_dict())
    x = _input(torch.float32)
    torch.testing.assert_close(fresh(x), reference(x))


def test_exported_prelu_takes_alpha_init(tmp_path):
    source = export_source(baseline("PReLU"), alpha_init=0.1)
    module = _load(tmp_path, source, "exported_prelu").Activation(2)
    assert module.alpha.tolist() == pytest.approx([0.1, 0.1])
    assert "alpha_init" not in export_source(baseline("Swish"))


def test_prelu_module_passes_torch_export():
    module = to_module(baseline("PReLU"), num_parameters=CHANNELS)
    x = _input(torch.float32)
    program = torch.export.export(module, (x,))
    torch.testing.assert_close(program.module()(x), module(x))


def test_unknown_baseline_names_the_valid_ones():
    with pytest.raises(ValueError) as error:
        baseline("bogus")
    message = str(error.value)
    assert "'bogus'" in message
    for name in BASELINES:
        assert name in message


def test_the_search_space_never_uses_alpha():
    for op in UNARY.values():
        assert not uses(op.build(X), ALPHA), op.name
    for op in BINARY.values():
        assert not uses(op.build(X, X), ALPHA), op.name
    space = SearchSpace(1)  # every unary and binary op, 6250 token sequences
    for _, tokens in space.enumerate():
        assert not space.decode(tokens).uses_alpha
