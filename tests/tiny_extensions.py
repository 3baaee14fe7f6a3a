"""A user's own dataset source and backbone, defined outside ``arpl/`` and named in ``params.yaml`` by import
path (used by tests/test_extensions.py)::

    data:
      dataset: tiny_extensions:TINY_BLOBS
    model:
      backbone: tiny_extensions:TINY_NET
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from arpl.data import DatasetSource, ImageSet
from arpl.models import Backbone

IMAGES_PER_CLASS = 40
SIDE = 28


def load_blobs(root: Path, train: bool, download: bool) -> ImageSet:
    """Four classes of grey 28 px images: noise with a bright square in the class's quadrant (seeded; the test
    part is drawn with another seed)."""
    generator = torch.Generator().manual_seed(0 if train else 1)
    labels = torch.arange(4).repeat_interleave(IMAGES_PER_CLASS)
    images = torch.rand(len(labels), 1, SIDE, SIDE, generator=generator) * 80
    half = SIDE // 2
    for label in range(4):
        row, column = divmod(label, 2)
        images[labels == label, :, row * half:(row + 1) * half, column * half:(column + 1) * half] += 150
    classes = ["top left", "top right", "bottom left", "bottom right"]
    return ImageSet(images.round().clamp(0, 255).to(torch.uint8), labels, classes, "tiny-blobs")


TINY_BLOBS = DatasetSource("tiny-blobs", num_classes=4, size=SIDE, channels=1, load=load_blobs)


class TinyNet(nn.Module):
    """One strided convolution, global average pooling and a linear map to a ``feat_dim``-d feature."""

    def __init__(self, in_channels: int, feat_dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8, feat_dim)
        self.feat_dim = feat_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


def build_tiny_net(in_channels: int, image_size: int, abn: bool, feat_dim: int | None, width: int | None) -> TinyNet:
    if abn:
        raise ValueError("TinyNet has no auxiliary batch norm, which ARPL+CS needs (Sec. 4.2)")
    return TinyNet(in_channels, feat_dim if feat_dim is not None else 4)


TINY_NET = Backbone("tiny-net", build_tiny_net)
