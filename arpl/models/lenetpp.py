"""LeNet++ (Wen et al., center loss, ECCV 2016) with a low-dimensional feature layer.

Used for the paper's 2-D feature-space figures (Fig. 1, 7 and 12): three stages of two 5x5
convolutions (32, 64, 128 channels) with PReLU, each stage closed by 2x2 max pooling, then a
fully connected layer to a `feat_dim`-d feature (2 by default) followed by PReLU, as in the
authors' `ConvNet`. Unlike the original, every convolution is followed by (auxiliary) batch norm,
so the ABN variant (Sec. 4.2) differs from the plain one only in the number of batch-norm domains.
"""

from __future__ import annotations

import torch
from torch import nn

from arpl.models.abn import AuxBatchNorm2d
from arpl.models.classifier32 import check_in_channels
from arpl.models.registry import Backbone, register_backbone

STAGE_CHANNELS = (32, 64, 128)
NUM_POOLS = len(STAGE_CHANNELS)
MIN_IMAGE_SIZE = 2**NUM_POOLS


class ConvPReLU(nn.Module):
    """5x5 convolution (padding 2, no bias) -> auxiliary batch norm -> PReLU."""

    def __init__(self, in_channels: int, out_channels: int, num_domains: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 5, padding=2, bias=False)
        self.bn = AuxBatchNorm2d(out_channels, num_domains)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class LeNetPP(nn.Module):
    """LeNet++ feature extractor for the 2-D feature plots (Fig. 1, 7, 12), optional ABN (Sec. 4.2).

    forward(x [B, C, image_size, image_size]) -> features [B, feat_dim]. The flattening layer
    depends on the input size, hence `image_size` (28 px: 3x3 maps, 32 px: 4x4 maps).
    """

    def __init__(self, in_channels: int = 1, image_size: int = 28, abn: bool = False, feat_dim: int = 2) -> None:
        super().__init__()
        check_in_channels(in_channels)
        if not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE:
            raise ValueError(f"LeNet++ needs image_size >= {MIN_IMAGE_SIZE} px, got {image_size!r}")
        if not isinstance(feat_dim, int) or feat_dim < 1:
            raise ValueError(f"feat_dim must be a positive int, got {feat_dim!r}")
        num_domains = 2 if abn else 1
        self.image_size = image_size
        self.feat_dim = feat_dim
        layers = []
        channels = in_channels
        for out_channels in STAGE_CHANNELS:
            layers.append(ConvPReLU(channels, out_channels, num_domains))
            layers.append(ConvPReLU(out_channels, out_channels, num_domains))
            layers.append(nn.MaxPool2d(2))
            channels = out_channels
        self.features = nn.Sequential(*layers)
        final_size = image_size // MIN_IMAGE_SIZE
        self.fc = nn.Linear(channels * final_size * final_size, feat_dim)
        self.fc_act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ValueError(
                f"LeNet++ was built for {self.image_size} px inputs, got {tuple(x.shape[-2:])}; "
                "build it with the matching image_size"
            )
        x = torch.flatten(self.features(x), 1)
        return self.fc_act(self.fc(x))


def _build(in_channels: int, image_size: int, abn: bool, feat_dim: int | None, width: int | None) -> LeNetPP:
    return LeNetPP(in_channels, image_size, abn, feat_dim if feat_dim is not None else 2)


register_backbone(Backbone("lenetpp", _build))
