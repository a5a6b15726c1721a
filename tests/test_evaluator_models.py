"""CIFAR ResNets: He et al.'s parameter count, one activation module per site, per-channel beta."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from evaluator import activation_factory, resnet
from evaluator.models import activation_sites
from space import parse


def test_resnet20_matches_he_et_al():
    model = resnet(20)
    # He et al. 2016 Table 6: 0.27M; 269,722 with option A (272,474 would mean 1x1 projections).
    assert sum(p.numel() for p in model.parameters()) == 269_722
    assert activation_sites(model) == 19  # stem + 2 per block, 9 blocks
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("depth,width", [(8, 4), (14, 8), (32, 2)])
def test_depth_and_width(depth, width):
    model = resnet(depth, width, num_classes=7)
    assert activation_sites(model) == depth - 1  # stem + 2 per block, (depth - 2) / 2 blocks
    assert model.fc.in_features == 4 * width
    assert model(torch.randn(3, 3, 16, 16)).shape == (3, 7)  # any square size


def test_bad_depth_is_rejected():
    with pytest.raises(ValueError, match="6n\\+2"):
        resnet(21)


def test_every_site_gets_its_own_module_with_per_channel_beta():
    calls = []

    def factory(channels):
        calls.append(channels)
        return activation_factory(parse("x * sigmoid(beta * x)"))(channels)

    model = resnet(8, 4, act=factory)
    acts = [m for name, m in model.named_modules() if name.split(".")[-1].startswith("act")]
    assert len({id(m) for m in acts}) == len(acts) == len(calls) == 7
    assert sorted(calls) == [4, 4, 4, 8, 8, 16, 16]
    assert sorted(m.beta.shape[0] for m in acts) == sorted(calls)
    # beta is trained: it receives a gradient.
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    assert all(m.beta.grad is not None for m in acts)


def test_builtin_activation_factory():
    model = resnet(8, 4, act=lambda c: nn.SiLU())
    assert sum(isinstance(m, nn.SiLU) for m in model.modules()) == 7
