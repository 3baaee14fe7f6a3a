"""Backbones (feature extractors), auxiliary batch norm and the DCGAN pair.

Every backbone is an nn.Module with an int attribute `feat_dim` and `forward(x) -> [B, feat_dim]`
for x float in [0, 1], [B, C, H, W]; the classification head lives in arpl.methods. Importing this package
registers the built-in backbones (:mod:`arpl.models.registry`): each module imported below registers its own.
"""

from __future__ import annotations

# the modules that register the built-in backbones, in the order error messages list them
from arpl.models import classifier32, lenetpp, small, resnet  # noqa: F401, I001
from arpl.models.abn import AuxBatchNorm1d, AuxBatchNorm2d, bn_domain, count_bn_domains
from arpl.models.classifier32 import Classifier32
from arpl.models.dcgan import Discriminator, Generator, build_gan
from arpl.models.lenetpp import LeNetPP
from arpl.models.registry import BACKBONES, Backbone, backbone_entry, build_backbone, register_backbone
from arpl.models.resnet import resnet18, resnet34
from arpl.models.small import SmallNet

__all__ = [
    "BACKBONES", "AuxBatchNorm1d", "AuxBatchNorm2d", "Backbone", "Classifier32", "Discriminator", "Generator",
    "LeNetPP", "SmallNet", "backbone_entry", "bn_domain", "build_backbone", "build_gan", "count_bn_domains",
    "register_backbone", "resnet18", "resnet34",
]
