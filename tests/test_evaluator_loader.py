"""Device-side batches: every augmented image is a padded crop (maybe flipped) of its source."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from evaluator.loader import (
    Normalizer,
    TrainBatches,
    channel_stats,
    eval_batches,
    to_device_images,
)


def _images(n=64, size=32):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


def _identity_norm():
    return Normalizer(torch.zeros(3), torch.full((3,), 1 / 255))  # x -> x (as float)


def test_augmented_batch_is_a_crop_or_flip_of_its_source():
    images, labels = _images(), torch.arange(64)
    batches = TrainBatches(images, labels, 16, _identity_norm(), torch.Generator().manual_seed(1))
    padded = F.pad(images, (4, 4, 4, 4)).float()
    flips = 0
    for _ in range(4):
        x, y = batches.next()
        assert x.shape == (16, 3, 32, 32) and x.dtype == torch.float32
        for img, label in zip(x, y):
            src = padded[label]
            matches = [(dy, dx, f) for dy in range(9) for dx in range(9) for f in (0, 1)
                       if torch.equal(img, (src[:, dy:dy + 32, dx:dx + 32].flip(2) if f
                                            else src[:, dy:dy + 32, dx:dx + 32]))]
            assert matches, "not a crop of its own image"
            flips += matches[0][2]
    assert 0 < flips < 64  # both flipped and unflipped occur


def test_epoch_visits_every_image_once():
    images, labels = _images(48), torch.arange(48)
    batches = TrainBatches(images, labels, 16, _identity_norm(), torch.Generator().manual_seed(2),
                           augment=False)
    seen = torch.cat([batches.next()[1] for _ in range(3)])
    assert sorted(seen.tolist()) == list(range(48))
    x, y = batches.next()
    assert torch.equal(x, images[y].float())


def test_normalisation_gives_zero_mean_unit_std():
    images = _images(200)
    mean, std = channel_stats(images)
    x = torch.cat([b for b, _ in eval_batches(images, torch.zeros(200), 64, Normalizer(mean, std))])
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert (x.std(dim=(0, 2, 3)) - 1).abs().max() < 1e-3


def test_resize_once():
    out = to_device_images(_images(5).numpy(), torch.device("cpu"), size=16)
    assert out.shape == (5, 3, 16, 16) and out.dtype == torch.uint8
    flat = torch.full((1, 3, 32, 32), 77, dtype=torch.uint8)
    assert (to_device_images(flat.numpy(), torch.device("cpu"), 8) == 77).all()
