"""The authors' `classifier32` backbone (OSRCI / ARPL code, paper Sec. 5.1 "Network Architecture").

Nine 3x3 convolutions (64, 64, 128 / 128, 128, 128 / 128, 128, 128 channels; the third of each
group has stride 2), each without bias and followed by batch norm and LeakyReLU(0.2);
Dropout2d(0.2) before each group of three; global average pooling gives a 128-d feature. The
classification layer of the authors' module lives in our heads (arpl/methods/), and their unused
`bn10` is left out (it holds parameters that never receive gradients).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from arpl.models.abn import AuxBatchNorm2d
from arpl.models.registry import Backbone, register_backbone

# The authors' `weights_init` in models/models.py draws conv weights from N(0, 0.05) (the
# DCGAN-style 0.02 is used only for the GAN) and batch-norm scales from N(1, 0.02).
CONV_INIT_STD = 0.05
BN_WEIGHT_INIT_STD = 0.02
LEAKY_SLOPE = 0.2
DROPOUT = 0.2

DEFAULT_WIDTH = 64   # channels of conv1, as in the authors' network
# (out_channels as a multiple of the width, stride) of conv1 .. conv9.
CLASSIFIER32_LAYERS = (
    (1, 1), (1, 1), (2, 2),
    (2, 1), (2, 1), (2, 2),
    (2, 1), (2, 1), (2, 2),
)
DROPOUT_BEFORE = (0, 3, 6)


class ConvBlock(nn.Module):
    """3x3 convolution (no bias) -> auxiliary batch norm (Sec. 4.2) -> LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, num_domains: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn = AuxBatchNorm2d(out_channels, num_domains)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.bn(self.conv(x)), LEAKY_SLOPE)


def init_authors_weights(module: nn.Module) -> None:
    """The authors' `weights_init`: conv N(0, 0.05); batch norm weight N(1, 0.02), bias 0."""
    if isinstance(module, nn.Conv2d):
        nn.init.normal_(module.weight, 0.0, CONV_INIT_STD)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        nn.init.normal_(module.weight, 1.0, BN_WEIGHT_INIT_STD)
        nn.init.zeros_(module.bias)


def check_in_channels(in_channels: int) -> None:
    """Raise ValueError unless `in_channels` is a positive int (1 for grey, 3 for colour images)."""
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive int (1 grey, 3 colour), got {in_channels!r}")


def check_width(width: int) -> None:
    """Raise ValueError unless `width` (channels of a network's first convolution) is a positive int."""
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int (channels of the first convolution), got {width!r}")


class Classifier32(nn.Module):
    """The authors' classifier32 feature extractor (Sec. 5.1), with optional ABN (Sec. 4.2).

    `abn=True` gives every batch norm two domains (known / generated), as the authors'
    `classifier32ABN`. Global average pooling makes it work for 28, 32 and 64 px inputs. `width` is the
    channels of conv1 (the authors': 64; a quick run narrows it, :mod:`arpl.pipeline.params.quick`).
    forward(x [B, C, H, W] in [0, 1]) -> features [B, 2 * width] (128 at the authors' width).
    """

    def __init__(self, in_channels: int = 3, abn: bool = False, width: int = DEFAULT_WIDTH) -> None:
        super().__init__()
        check_in_channels(in_channels)
        check_width(width)
        num_domains = 2 if abn else 1
        self.dropouts = nn.ModuleList(nn.Dropout2d(DROPOUT) for _ in DROPOUT_BEFORE)
        blocks = []
        channels = in_channels
        for multiple, stride in CLASSIFIER32_LAYERS:
            blocks.append(ConvBlock(channels, multiple * width, stride, num_domains))
            channels = multiple * width
        self.blocks = nn.ModuleList(blocks)
        self.feat_dim = channels
        self.apply(init_authors_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dropouts = iter(self.dropouts)
        for index, block in enumerate(self.blocks):
            if index in DROPOUT_BEFORE:
                x = next(dropouts)(x)
            x = block(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def _build(in_channels: int, image_size: int, abn: bool, feat_dim: int | None, width: int | None) -> Classifier32:
    return Classifier32(in_channels, abn, width if width is not None else DEFAULT_WIDTH)


register_backbone(Backbone("classifier32", _build, feat_dim=2 * DEFAULT_WIDTH, width=True))
