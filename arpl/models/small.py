"""A CPU-sized backbone for the default Fashion-MNIST profile (not in the paper).

The paper's classifier32 needs about 0.6 GFLOP per 28 px image (forward); this net needs about
5 MFLOP and trains at several thousand images/s on two CPU cores, so every stage of the paper
can be reproduced on a laptop. It keeps the building block of classifier32 (3x3 conv, auxiliary
batch norm, LeakyReLU(0.2)) so ABN (Sec. 4.2) applies unchanged: four convolutions with
(w, 2w, 2w, 4w) channels and strides (2, 2, 1, 2), global average pooling (a 4w-d feature),
and, when `feat_dim` is given, a linear layer to a `feat_dim`-d feature (2-D figures). Measured (benchmarks/backbone_throughput.py, 2 threads, batch 64,
28x28x1, forward + backward): about 7,000-9,900 images/s at width 32.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from arpl.models.classifier32 import ConvBlock, check_in_channels
from arpl.models.registry import Backbone, register_backbone

# (channel multiple of `width`, stride) of each convolution.
SMALL_LAYERS = ((1, 2), (2, 2), (2, 1), (4, 2))


class SmallNet(nn.Module):
    """Fast conv net for CPU runs; forward(x [B, C, H, W]) -> features [B, feat_dim].

    abn=True gives each batch norm two domains (known / generated samples, Sec. 4.2).
    Works for any input of at least 8 px (global average pooling).
    """

    def __init__(self, in_channels: int = 1, abn: bool = False, feat_dim: int | None = None, width: int = 32) -> None:
        super().__init__()
        check_in_channels(in_channels)
        if feat_dim is not None and (not isinstance(feat_dim, int) or feat_dim < 1):
            raise ValueError(f"feat_dim must be a positive int or None, got {feat_dim!r}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive int, got {width!r}")
        num_domains = 2 if abn else 1
        blocks = []
        channels = in_channels
        for multiple, stride in SMALL_LAYERS:
            blocks.append(ConvBlock(channels, multiple * width, stride, num_domains))
            channels = multiple * width
        self.blocks = nn.Sequential(*blocks)
        # Without feat_dim the feature is the pooled activation itself, as in classifier32 (it separates
        # unknowns better than a linear projection); feat_dim adds a projection (2-D figures).
        self.fc = nn.Linear(channels, feat_dim) if feat_dim is not None else nn.Identity()
        self.feat_dim = feat_dim if feat_dim is not None else channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.blocks(x), 1), 1))


def _build(in_channels: int, image_size: int, abn: bool, feat_dim: int | None, width: int | None) -> SmallNet:
    return SmallNet(in_channels, abn, feat_dim, width if width is not None else 32)


register_backbone(Backbone("small", _build, width=True))
