"""A user task: a small MLP on scikit-learn's 8x8 digits, the candidate at every hidden layer.

Named in a config as ``name: examples.digits_mlp:train`` (see
``evaluator.usertask`` for the contract). The data ships inside scikit-learn
(1,797 images, 10 classes, no download). A fixed stratified split (by
``split_seed``, the same for every candidate and seed) holds out
``val_fraction`` of the images; the MLP trains ``fidelity["steps"]`` Adam
steps on minibatches and reports validation accuracy and loss. About a
second per call on one CPU thread at the default 300 steps (4 hidden layers of
128: deep enough that sigmoid or exp trail ReLU and Swish clearly).

A loss that turns NaN or infinite stops training and reports NaN metrics, so
the task scores the candidate ``diverged``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_STEPS = 300


@lru_cache(maxsize=4)
def digits_split(split_seed: int = 0, val_fraction: float = 0.3
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train x, train y, val x, val y): pixels scaled to [0, 1], stratified by class."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        (x / 16.0).astype(np.float32), y.astype(np.int64), test_size=val_fraction,
        stratify=y, random_state=split_seed)
    return x_train, y_train, x_val, y_val


def mlp(activation, inputs: int = 64, hidden: int = 128, layers: int = 4,
        classes: int = 10) -> nn.Sequential:
    """Linear -> act -> ... -> Linear; one fresh activation module per hidden layer."""
    parts: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        parts += [nn.Linear(width, hidden), activation(hidden)]
        width = hidden
    parts.append(nn.Linear(width, classes))
    return nn.Sequential(*parts)


def train(activation, *, fidelity: dict, seed: int, device: str, hidden: int = 128,
          layers: int = 4, lr: float = 3e-3, batch_size: int = 128, split_seed: int = 0,
          val_fraction: float = 0.3) -> dict[str, float]:
    """Train the MLP with ``activation`` at every hidden layer; validation metrics."""
    return train_mlp(activation, digits_split(split_seed, val_fraction),
                     steps=int(fidelity.get("steps", DEFAULT_STEPS)), seed=seed, device=device,
                     hidden=hidden, layers=layers, lr=lr, batch_size=batch_size)


def train_mlp(activation, data: tuple[np.ndarray, ...], *, steps: int, seed: int, device: str,
              hidden: int, layers: int, lr: float, batch_size: int) -> dict[str, float]:
    """Adam on minibatches of ``data`` (train x, train y, val x, val y); validation
    metrics, NaN ones if the loss turns non-finite (also ``examples.cifar10_mlp``)."""
    x_train, y_train, x_val, y_val = (torch.from_numpy(a).to(device) for a in data)
    torch.manual_seed(seed)
    model = mlp(activation, x_train.shape[1], hidden, layers).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    for step in range(1, steps + 1):
        batch = torch.randint(len(y_train), (batch_size,), generator=order).to(device)
        loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
        if not torch.isfinite(loss):  # a sync per step: trivial on this scale
            return {"val_accuracy": float("nan"), "val_loss": float("nan"),
                    "diverged_at": float(step)}
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        logits = model(x_val)
        val_loss = F.cross_entropy(logits, y_val).item()
        val_accuracy = (logits.argmax(1) == y_val).float().mean().item()
    return {"val_accuracy": val_accuracy, "val_loss": val_loss, "train_loss": loss.item()}
