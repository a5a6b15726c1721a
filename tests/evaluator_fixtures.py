"""Tiny synthetic CIFAR data sets written in the real on-disk format, for evaluator tests.

Every image is unique: its pixel (0, 0) of the three planes encodes its id
(base 256), so tests can prove that no image appears in two splits. Classes are
learnable: each class has its own colour, which survives crops and flips.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from evaluator.config import TaskConfig

PALETTE = np.array([[(c * 37) % 256, (c * 91 + 40) % 256, (c * 173 + 90) % 256]
                    for c in range(100)], dtype=np.float64)


def make_images(labels: np.ndarray, first_id: int, seed: int, noise: float = 40.0) -> np.ndarray:
    """(N, 3072) uint8 rows: class colour + noise, id stamped into pixel (0, 0)."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    images = PALETTE[labels % len(PALETTE)][:, :, None] + rng.normal(0, noise, (n, 3, 1024))
    images = np.clip(images, 0, 255).astype(np.uint8)
    ids = np.arange(first_id, first_id + n)
    images[:, 0, 0], images[:, 1, 0], images[:, 2, 0] = ids // 65536, (ids // 256) % 256, ids % 256
    return images.reshape(n, 3072)


def image_ids(images: np.ndarray) -> np.ndarray:
    """The stamped ids of (N, 3, 32, 32) images."""
    px = images[:, :, 0, 0].astype(np.int64)
    return px[:, 0] * 65536 + px[:, 1] * 256 + px[:, 2]


def _dump(path: Path, batch: dict, str_keys: bool) -> None:
    if not str_keys:
        batch = {k.encode(): v for k, v in batch.items()}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def write_cifar10(root: Path, train_per_class: int = 40, test_per_class: int = 10,
                  str_keys: bool = False, seed: int = 0, classes: int = 10) -> Path:
    """``root/cifar-10-batches-py`` with 5 training batches, a test batch and meta."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(classes), train_per_class))
    data = make_images(labels, 0, seed + 1)
    for i, chunk in enumerate(np.array_split(np.arange(len(labels)), 5), start=1):
        _dump(folder / f"data_batch_{i}", {"batch_label": f"training batch {i} of 5",
                                           "labels": labels[chunk].tolist(), "data": data[chunk],
                                           "filenames": [f"{j}.png" for j in chunk]}, str_keys)
    test_labels = rng.permutation(np.repeat(np.arange(classes), test_per_class))
    test = make_images(test_labels, len(labels), seed + 2)
    _dump(folder / "test_batch", {"batch_label": "testing batch 1 of 1",
                                  "labels": test_labels.tolist(), "data": test}, str_keys)
    _dump(folder / "batches.meta", {"label_names": [f"class{c}" for c in range(classes)],
                                    "num_cases_per_batch": len(labels) // 5, "num_vis": 3072},
          str_keys)
    return folder


def write_cifar100(root: Path, train_per_class: int = 4, test_per_class: int = 1) -> Path:
    """``root/cifar-100-python`` with ``train``, ``test`` and ``meta`` (fine + coarse labels)."""
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for name, per_class, first in (("train", train_per_class, 0), ("test", test_per_class, 10**5)):
        fine = np.repeat(np.arange(100), per_class)
        _dump(folder / name, {"fine_labels": fine.tolist(), "coarse_labels": (fine // 5).tolist(),
                              "data": make_images(fine, first, first)}, False)
    _dump(folder / "meta", {"fine_label_names": [f"f{c}" for c in range(100)]}, False)
    return folder


def tiny_task(data_dir: Path, **overrides) -> TaskConfig:
    """A child that trains in about a second on one CPU thread."""
    settings = dict(data_dir=str(data_dir), validation_size=100, depth=8, width=8, steps=60,
                    batch_size=32, lr=0.05, image_size=16, eval_batch_size=200, log_every=10,
                    device="cpu", threads=1, compile="never")
    settings.update(overrides)
    return TaskConfig(**settings)
