"""Batches on the device: the data set lives there as uint8 tensors (airbench style).

No DataLoader, no worker processes. Each epoch is a device-side permutation
and one gather from the zero-padded images that performs every image's random
crop (4-pixel padding) and horizontal flip at once; a training batch is a
slice of it and one fused multiply-add that converts to float and normalises.
The gather's output is already in channels_last order; it is made contiguous
in the format the model uses. Nothing here synchronises with the host.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

PAD = 4  # random-crop padding (He et al. 2016)
EPOCH_CHUNK = 8192  # images per gather when drawing an epoch (bounds index memory)


def to_device_images(images: np.ndarray, device: torch.device, size: int = 32) -> torch.Tensor:
    """uint8 (N, 3, H, W) on ``device``, resized once (antialiased) when ``size`` != H."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    if size == x.shape[-1]:
        return x
    out = torch.empty((len(x), x.shape[1], size, size), dtype=torch.uint8, device=device)
    for start in range(0, len(x), 4096):  # chunks bound the float copy's memory
        chunk = x[start:start + 4096].float()
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True,
                              align_corners=False)
        out[start:start + 4096] = chunk.round().clamp_(0, 255).to(torch.uint8)
    return out


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of uint8 images, in [0, 1] units (float32, shape (3,))."""
    total = torch.zeros(images.shape[1], dtype=torch.float64, device=images.device)
    squares = torch.zeros_like(total)
    for start in range(0, len(images), 2048):  # chunks: no float copy of the whole set
        chunk = images[start:start + 2048].double().div_(255)
        total += chunk.sum(dim=(0, 2, 3))
        squares += chunk.square().sum(dim=(0, 2, 3))
    count = images.numel() // images.shape[1]
    mean = total / count
    var = (squares - count * mean.square()) / max(1, count - 1)
    return mean.float(), var.clamp_min(1e-6).sqrt().float()


class Normalizer:
    """uint8 -> float32, (x / 255 - mean) / std as one multiply-add."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor,
                 memory_format: torch.memory_format = torch.contiguous_format) -> None:
        self.scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1)
        self.shift = (-mean / std).view(1, -1, 1, 1)
        self.memory_format = memory_format

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = torch.addcmul(self.shift, images.float(), self.scale)
        return x.contiguous(memory_format=self.memory_format)


class TrainBatches:
    """An endless stream of (images, labels) training batches, sampled on the device.

    At the start of each epoch the whole epoch is drawn at once: a permutation,
    then one gather (in chunks) that crops and flips every image. A batch is
    then a contiguous slice of that epoch plus the normalising multiply-add, so
    a step launches one data kernel; the epoch's ~10 kernels are shared by all
    its steps. Memory: one uint8 copy of the training set for the epoch.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 normalizer: Normalizer, generator: torch.Generator, augment: bool = True) -> None:
        if len(labels) < batch_size:
            raise ValueError(f"batch_size {batch_size} exceeds the {len(labels)} training images")
        self.device = images.device
        self.n, self.size = len(labels), images.shape[-1]
        self.labels = labels
        self.batch_size = batch_size
        self.normalize = normalizer
        self.generator = generator
        self.augment = augment
        # Padded once; every crop is a window of this.
        self.images = F.pad(images, (PAD,) * 4) if augment else images
        self._arange = torch.arange(self.size, device=self.device)
        self._epoch_images = self._epoch_labels = labels[:0]
        self._pos = 0

    def _new_epoch(self) -> None:
        perm = torch.randperm(self.n, device=self.device, generator=self.generator)
        self._epoch_labels = self.labels[perm]
        if not self.augment:
            self._epoch_images = self.images[perm]
            return
        parts = []
        for start in range(0, self.n, EPOCH_CHUNK):
            parts.append(self._crop_flip(perm[start:start + EPOCH_CHUNK]))
        self._epoch_images = torch.cat(parts) if len(parts) > 1 else parts[0]

    def _crop_flip(self, idx: torch.Tensor) -> torch.Tensor:
        """Random 4-pixel-padded crops, half of them flipped: (b, C, H, W), channels_last."""
        b = len(idx)
        draw = torch.randint(0, 2 * (2 * PAD + 1) ** 2, (b, 1), device=self.device,
                             generator=self.generator)  # one draw: dy, dx and flip
        dy, dx, flip = draw % (2 * PAD + 1), (draw // (2 * PAD + 1)) % (2 * PAD + 1), \
            draw >= (2 * PAD + 1) ** 2
        rows = dy + self._arange  # (b, size)
        cols = dx + torch.where(flip, self.size - 1 - self._arange, self._arange)
        # One gather: crop window and flip. Result (b, H, W, C), i.e. channels_last order.
        crops = self.images[idx.view(b, 1, 1), :, rows.view(b, -1, 1), cols.view(b, 1, -1)]
        return crops.permute(0, 3, 1, 2)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._pos + self.batch_size > len(self._epoch_labels):  # the last partial batch drops
            self._new_epoch()
            self._pos = 0
        window = slice(self._pos, self._pos + self.batch_size)
        self._pos += self.batch_size
        return self.normalize(self._epoch_images[window]), self._epoch_labels[window]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.next()


def eval_batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 normalizer: Normalizer) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The whole split in order, unaugmented."""
    for start in range(0, len(labels), batch_size):
        yield normalizer(images[start:start + batch_size]), labels[start:start + batch_size]
