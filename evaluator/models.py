"""CIFAR ResNets (He et al. 2016, Sec. 4.2) built around an activation factory.

depth = 6n + 2: a 3x3 stem, three stages of n basic blocks (widths w, 2w, 4w;
the second and third start with stride 2), global average pooling and a
linear classifier. ResNet-20 is n = 3, w = 16 (0.27M parameters).

Shortcut: **option A** (the paper's CIFAR choice): when a block halves the
resolution and doubles the width, the identity is subsampled with stride 2 and
zero-padded in channels, so every model of this family has no projection
weights and ResNet-20 has exactly He et al.'s parameter count.

Every activation site calls ``act(channels)`` once, so each site owns a fresh
module (with per-channel beta when the factory passes ``num_parameters``).
Sites: after the stem's BN, after each block's first BN, and after each
block's residual addition (post-activation ResNet, as in the paper's ResNet-20).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

ActFactory = Callable[[int], nn.Module]  # channels -> a fresh activation module


class ShortcutA(nn.Module):
    """Parameter-free shortcut: stride-2 subsampling and zero channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x


class BasicBlock(nn.Module):
    """conv-BN-act-conv-BN, plus the shortcut, then act."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, act: ActFactory) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.act1 = act(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = (ShortcutA(in_channels, out_channels, stride)
                         if stride != 1 or in_channels != out_channels else nn.Identity())
        self.act2 = act(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 (or any square) images."""

    def __init__(self, depth: int = 20, width: int = 16, num_classes: int = 10,
                 act: ActFactory | None = None) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth {depth} is not 6n+2 with n >= 1")
        act = act or (lambda channels: nn.ReLU())
        n = (depth - 2) // 6
        self.depth, self.width = depth, width
        self.conv = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.act = act(width)
        blocks: list[nn.Module] = []
        channels = width
        for stage in range(3):
            out_channels = width * 2**stage
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(channels, out_channels, stride, act))
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.conv(x)))
        x = self.blocks(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def resnet(depth: int = 20, width: int = 16, num_classes: int = 10,
           act: ActFactory | None = None) -> CifarResNet:
    """A CIFAR ResNet; ``resnet(20)`` is ResNet-20 with ReLU."""
    return CifarResNet(depth, width, num_classes, act)


def activation_sites(model: nn.Module) -> int:
    """How many activation modules the factory was asked for (for tests and reports)."""
    return sum(1 for name, _ in model.named_modules() if name.split(".")[-1].startswith("act"))
