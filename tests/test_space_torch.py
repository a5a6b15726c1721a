"""Expressions as torch modules: shapes, per-channel beta, autograd, compile, export."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

from space import export_source, parse, to_module

SWISH = parse("x * sigmoid(beta * x)")


def test_elementwise_on_any_shape():
    module = to_module(parse("max(x, tanh(x))"))
    for shape in [(), (7,), (2, 3), (2, 3, 4, 5), (1, 2, 3, 4, 5)]:
        x = torch.randn(shape)
        torch.testing.assert_close(module(x), torch.maximum(x, torch.tanh(x)))


def test_beta_is_per_channel_like_prelu():
    module = to_module(SWISH, num_parameters=3)
    prelu = nn.PReLU(num_parameters=3)
    assert module.beta.shape == prelu.weight.shape == (3,)
    with torch.no_grad():
        module.beta.copy_(torch.tensor([0.5, 1.0, 2.0]))
    x = torch.randn(2, 3, 4, 4)
    expected = torch.stack([x[:, c] * torch.sigmoid(b * x[:, c])
                            for c, b in enumerate([0.5, 1.0, 2.0])], dim=1)
    torch.testing.assert_close(module(x), expected)
    with pytest.raises(RuntimeError):
        module(torch.randn(2, 4, 5))  # 4 channels, 3 betas


def test_beta_exists_only_when_used_and_inplace_is_accepted():
    assert list(to_module(parse("max(x, 0)"), inplace=True).parameters()) == []
    assert "beta" in dict(to_module(SWISH, inplace=True).named_parameters())
    assert "x * sigmoid(beta * x)" in repr(to_module(SWISH))


def test_gradients_reach_beta_and_x():
    module = to_module(SWISH, num_parameters=2)
    x = torch.randn(4, 2, 3, requires_grad=True)
    module(x).square().sum().backward()
    assert module.beta.grad is not None and module.beta.grad.shape == (2,)
    assert torch.isfinite(x.grad).all()


def test_dtypes_follow_the_input():
    module = to_module(SWISH, num_parameters=2)
    assert module(torch.randn(2, 2, dtype=torch.bfloat16)).dtype == torch.bfloat16
    assert module(torch.randn(2, 2, dtype=torch.float64)).dtype == torch.float64


def test_constant_functions_broadcast_to_the_input():
    out = to_module(parse("sigmoid(beta)"), num_parameters=3)(torch.zeros(2, 3, 4))
    assert out.shape == (2, 3, 4)
    expected = torch.full((2, 3, 4), torch.sigmoid(torch.tensor(1.0)).item())
    torch.testing.assert_close(out, expected)


def test_torch_compile_matches_eager():
    module = to_module(parse("max(x, sigmoid(beta * x)) + sinc(x)"), num_parameters=2)
    x = torch.randn(3, 2, 5)
    compiled = torch.compile(module, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), module(x))


def test_torch_export_matches_eager():
    module = to_module(SWISH, num_parameters=2)
    x = torch.randn(3, 2, 5)
    program = torch.export.export(module, (x,))
    torch.testing.assert_close(program.module()(x), module(x))


def test_exported_file_needs_only_torch_and_loads_the_state_dict(tmp_path):
    reference = to_module(SWISH, num_parameters=4)
    with torch.no_grad():
        reference.beta.copy_(torch.tensor([0.3, 0.9, 1.4, 2.2]))
    path = tmp_path / "swish_export.py"
    path.write_text(export_source(SWISH, class_name="Swish"))
    source = path.read_text()
    lines = source.splitlines()
    imports = [line.split()[1] for line in lines if line.startswith(("import", "from"))]
    assert imports == ["math", "torch", "torch"]
    spec = importlib.util.spec_from_file_location("swish_export", path)
    exported = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(exported)
    module = exported.Swish(num_parameters=4, inplace=True)
    module.load_state_dict(reference.state_dict())
    x = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(module(x), reference(x))
