"""ResNet-18 / ResNet-34 (He et al. 2016, BasicBlock) with a CIFAR-style stem and optional ABN.

Used for the out-of-distribution (Table 3) and closed-set (Table 5) experiments; the ABN variant
(Sec. 4.2) corresponds to the authors' `resnet18ABN` / `resnet34ABN`: every batch norm, the
shortcut ones included, has one domain per data source.

Stem: a 3x3 convolution with stride 1 and no max pooling (CIFAR-style), so a 32 px input
reaches the four stages at 32x32 and leaves them at 4x4. For inputs of 64 px and more
(TinyImageNet; DomainNet at 80 px), the stem convolution uses stride 2, so the stages see the same
32x32 (40x40) maps. From 128 px (ImageNet at 224 px, Table 6) the stem is He et al.'s ImageNet stem,
a 7x7 convolution with stride 2 and a 3x3 max pooling with stride 2, as in torchvision's ResNet-18. The
feature is the global-average-pooled output of the last stage (512-d; 8 x the width, the stem's channels, which
a quick run narrows from He et al.'s 64). Weights keep PyTorch's default initialisation, as in the authors'
models/resnet.py (kuangliu/pytorch-cifar).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from arpl.models.abn import AuxBatchNorm2d
from arpl.models.classifier32 import check_in_channels, check_width
from arpl.models.registry import Backbone, register_backbone

DEFAULT_WIDTH = 64
STAGE_MULTIPLES = (1, 2, 4, 8)   # each stage's channels as a multiple of the width (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)
STRIDED_STEM_FROM = 64
IMAGENET_STEM_FROM = 128
MIN_IMAGE_SIZE = 8


class BasicBlock(nn.Module):
    """Two 3x3 conv + (auxiliary) batch norm layers with an identity or 1x1-conv shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, num_domains: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = AuxBatchNorm2d(out_channels, num_domains)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = AuxBatchNorm2d(out_channels, num_domains)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                AuxBatchNorm2d(out_channels, num_domains),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


def stem_stride(image_size: int) -> int:
    """Stride of the stem convolution: 1 below 64 px (CIFAR-style), 2 from 64 px (TinyImageNet)."""
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"ResNet needs an int image_size >= {MIN_IMAGE_SIZE} px, got {image_size!r}")
    return 2 if image_size >= STRIDED_STEM_FROM else 1


class ResNet(nn.Module):
    """BasicBlock ResNet feature extractor: forward(x) -> features [B, 8 * width] (512 at width 64)."""

    def __init__(self, blocks_per_stage: tuple[int, ...], in_channels: int = 3, abn: bool = False,
                 image_size: int = 32, width: int = DEFAULT_WIDTH) -> None:
        super().__init__()
        check_in_channels(in_channels)
        check_width(width)
        stage_channels = [multiple * width for multiple in STAGE_MULTIPLES]
        num_domains = 2 if abn else 1
        imagenet_stem = stem_stride(image_size) == 2 and image_size >= IMAGENET_STEM_FROM
        kernel = 7 if imagenet_stem else 3
        self.conv1 = nn.Conv2d(in_channels, width, kernel, stride=stem_stride(image_size), padding=kernel // 2,
                               bias=False)
        self.bn1 = AuxBatchNorm2d(width, num_domains)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1) if imagenet_stem else nn.Identity()
        stages = []
        channels = width
        for out_channels, stride, num_blocks in zip(stage_channels, STAGE_STRIDES, blocks_per_stage):
            blocks = [BasicBlock(channels, out_channels, stride, num_domains)]
            blocks += [BasicBlock(out_channels, out_channels, 1, num_domains) for _ in range(num_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            channels = out_channels
        self.layers = nn.Sequential(*stages)
        self.feat_dim = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.layers(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def resnet18(in_channels: int = 3, abn: bool = False, image_size: int = 32, width: int = DEFAULT_WIDTH) -> ResNet:
    """ResNet-18 (2, 2, 2, 2 BasicBlocks), the authors' resnet18 / resnet18ABN without the fc layer."""
    return ResNet((2, 2, 2, 2), in_channels, abn, image_size, width)


def resnet34(in_channels: int = 3, abn: bool = False, image_size: int = 32, width: int = DEFAULT_WIDTH) -> ResNet:
    """ResNet-34 (3, 4, 6, 3 BasicBlocks): the OOD backbone of Table 3 (ABN variant for +CS)."""
    return ResNet((3, 4, 6, 3), in_channels, abn, image_size, width)


def _build_resnet18(in_channels: int, image_size: int, abn: bool, feat_dim: int | None, width: int | None) -> ResNet:
    return resnet18(in_channels, abn, image_size, width if width is not None else DEFAULT_WIDTH)


def _build_resnet34(in_channels: int, image_size: int, abn: bool, feat_dim: int | None, width: int | None) -> ResNet:
    return resnet34(in_channels, abn, image_size, width if width is not None else DEFAULT_WIDTH)


FEATURE_SIZE = STAGE_MULTIPLES[-1] * DEFAULT_WIDTH
register_backbone(Backbone("resnet18", _build_resnet18, feat_dim=FEATURE_SIZE, width=True))
register_backbone(Backbone("resnet34", _build_resnet34, feat_dim=FEATURE_SIZE, width=True))
