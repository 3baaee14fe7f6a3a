"""Backbones (feature extractors), auxiliary batch norm and the DCGAN pair.

Every backbone is an nn.Module with an int attribute `feat_dim` and `forward(x) -> [B, feat_dim]`
for x float in [0, 1], [B, C, H, W]; the classification head lives in arpl.methods.
"""

from __future__ import annotations

import difflib

from torch import nn

from arpl.models.abn import AuxBatchNorm1d, AuxBatchNorm2d, bn_domain, count_bn_domains
from arpl.models.classifier32 import Classifier32
from arpl.models.dcgan import Discriminator, Generator, build_gan
from arpl.models.lenetpp import LeNetPP
from arpl.models.resnet import resnet18, resnet34
from arpl.models.small import SmallNet

BACKBONES = ("classifier32", "lenetpp", "small", "resnet18", "resnet34")
MIN_IMAGE_SIZE = 8
_FIXED_FEAT_DIM = {"classifier32": Classifier32.feat_dim, "resnet18": 512, "resnet34": 512}

__all__ = [
    "BACKBONES", "AuxBatchNorm1d", "AuxBatchNorm2d", "Classifier32", "Discriminator", "Generator", "LeNetPP",
    "SmallNet", "bn_domain", "build_backbone", "build_gan", "count_bn_domains", "resnet18", "resnet34",
]


def _check_backbone_name(name: str) -> None:
    if name in BACKBONES:
        return
    close = difflib.get_close_matches(str(name), BACKBONES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}.{hint}")


def _check_feat_dim(name: str, feat_dim: int | None) -> None:
    fixed = _FIXED_FEAT_DIM.get(name)
    if fixed is not None and feat_dim is not None and feat_dim != fixed:
        raise ValueError(
            f"backbone {name!r} has a fixed feature size of {fixed}, got feat_dim={feat_dim}; "
            "leave feat_dim unset (None) or pick 'lenetpp' or 'small', whose feature size is configurable"
        )


def _check_image_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size must be an int of at least {MIN_IMAGE_SIZE} px, got {image_size!r}")


def build_backbone(name: str, in_channels: int, image_size: int, abn: bool = False,
                   feat_dim: int | None = None, width: int | None = None) -> nn.Module:
    """Build backbone `name` for `in_channels` x `image_size` px inputs.

    abn=True gives every batch norm a second domain for generated samples (paper Sec. 4.2),
    needed by ARPL+CS. feat_dim applies to 'lenetpp' (default 2) and 'small' (default: its 4*width
    pooled channels, no projection);
    classifier32 gives 128-d and the ResNets 512-d features. width (channels of the first convolution)
    applies to 'small' only (default 32).
    """
    _check_backbone_name(name)
    _check_feat_dim(name, feat_dim)
    _check_image_size(image_size)
    if name == "classifier32":
        return Classifier32(in_channels, abn)
    if name == "lenetpp":
        return LeNetPP(in_channels, image_size, abn, feat_dim if feat_dim is not None else 2)
    if width is not None and name != "small":
        raise ValueError(f"width applies to the 'small' backbone only, got width={width} for {name!r}")
    if name == "small":
        return SmallNet(in_channels, abn, feat_dim, width if width is not None else 32)
    if name == "resnet18":
        return resnet18(in_channels, abn, image_size)
    return resnet34(in_channels, abn, image_size)
