"""A user task on real CIFAR-10: a plain MLP (no convolution, no normalisation).

Named in a config as ``name: examples.cifar10_mlp:train``. It is the third
recorded landscape's child (``benchmarks/landscapes/cifar10_mlp4.yaml``): the
same images as the ResNet-8 landscape, a different kind of network, so the
two landscapes show how far a ranking of functions carries from one
architecture to another. Images are flattened to 3,072 inputs scaled by the
training split's per-channel mean and standard deviation; the MLP trains
``fidelity["steps"]`` Adam steps of batch ``batch_size`` and reports accuracy
on the 5,000-image validation split (the built-in task's split). The data are
read as the built-in CIFAR-10 task reads them (``ACTSEARCH_DATA``).

A loss that turns NaN or infinite stops training and reports NaN metrics, so
the task scores the candidate ``diverged``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from examples.digits_mlp import train_mlp

DEFAULT_STEPS = 400


@lru_cache(maxsize=1)
def cifar_vectors(root: str, validation_size: int = 5000, split_seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train x, train y, val x, val y) of the data under ``root``: flattened images,
    standardised per channel."""
    from evaluator.data import load_dataset

    data = load_dataset("cifar10", root, validation_size=validation_size, split_seed=split_seed)
    train = data.train.images.astype(np.float32) / 255.0
    mean = train.mean(axis=(0, 2, 3), keepdims=True)
    std = train.std(axis=(0, 2, 3), keepdims=True)
    scale = lambda images: ((images.astype(np.float32) / 255.0 - mean) / std  # noqa: E731
                            ).reshape(len(images), -1)
    return scale(data.train.images), data.train.labels, scale(data.val.images), data.val.labels


def train(activation, *, fidelity: dict, seed: int, device: str, hidden: int = 256,
          layers: int = 4, lr: float = 1e-3, batch_size: int = 128,
          validation_size: int = 5000) -> dict[str, float]:
    """Train the MLP with ``activation`` at every hidden layer; validation metrics."""
    from evaluator.data import default_root

    return train_mlp(activation, cifar_vectors(str(default_root()), validation_size),
                     steps=int(fidelity.get("steps", DEFAULT_STEPS)), seed=seed, device=device,
                     hidden=hidden, layers=layers, lr=lr, batch_size=batch_size)
