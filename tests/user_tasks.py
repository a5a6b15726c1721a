"""User task functions for tests (contract: ``evaluator.usertask``), each tiny and instant."""

from __future__ import annotations

import math
import random

import numpy as np
import torch


def _boom(depth: int) -> None:
    if depth == 0:
        raise RuntimeError("the user's training blew up")
    _boom(depth - 1)


def raises(activation, *, fidelity, seed, device, **options):
    """Raises from a few frames down."""
    _boom(2)


def no_reward(activation, *, fidelity, seed, device, **options):
    """Returns metrics without the reward metric."""
    return {"accuracy": 0.5, "loss": 1.0}


def nan_reward(activation, *, fidelity, seed, device, **options):
    """Returns a NaN reward metric (a run that diverged)."""
    return {"val_accuracy": math.nan, "val_loss": math.inf}


def not_a_mapping(activation, *, fidelity, seed, device, **options):
    """Returns a bare number."""
    return 0.5


def echo(activation, *, fidelity, seed, device, scale: float = 1.0, **options):
    """Reports what it was given: beta shapes, seeds, threads, device, fidelity, options."""
    wide, default = activation(7), activation()
    x = torch.linspace(-2, 2, 14).reshape(2, 7)
    beta = getattr(wide, "beta", None)
    with torch.no_grad():
        mean = float(wide(x).mean())
    return {
        "val_accuracy": mean * scale,
        "beta_shape": float(beta.numel()) if beta is not None else 0.0,
        "beta_value": float(beta.detach()[0]) if beta is not None else math.nan,
        "default_beta_shape": float(default.beta.numel()) if beta is not None else 0.0,
        "fresh": float(wide is not default and (beta is None or beta is not default.beta)),
        "steps": float(fidelity.get("steps", -1)),
        "threads": float(torch.get_num_threads()),
        "torch_draw": float(torch.rand(())),
        "numpy_draw": float(np.random.rand()),
        "python_draw": random.random(),
        "cpu": float(device == "cpu"),
        "options": float(len(options)),
        "seed": float(seed),
        "tensor_metric": torch.tensor(0.25),
    }
