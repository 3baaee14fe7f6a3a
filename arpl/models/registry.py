"""Backbones: every fact about a feature extractor in one record, found by name.

A :class:`Backbone` holds a network's builder, its feature size when that is fixed, and whether it takes a
width. The built-in five register themselves in their modules (:mod:`arpl.models.classifier32`,
:mod:`arpl.models.lenetpp`, :mod:`arpl.models.small`, :mod:`arpl.models.resnet`), all imported by
``arpl/models/__init__.py``; a user's backbone lives in their own module and is named in ``params.yaml`` by
import path (``model.backbone: "my_pkg.nets:TinyNet"``, see :mod:`arpl.registry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from arpl.registry import Registry

MIN_IMAGE_SIZE = 8

# build(in_channels, image_size, abn, feat_dim, width) -> an nn.Module with an int ``feat_dim`` whose forward maps
# x float in [0, 1], [B, C, H, W] to features [B, feat_dim]; abn=True gives every batch norm a second domain for
# generated samples (Sec. 4.2); feat_dim and width are None unless the backbone takes them
BuildFn = Callable[[int, int, bool, "int | None", "int | None"], nn.Module]


@dataclass(frozen=True)
class Backbone:
    """A backbone of the classifier C (Fig. 5): its name, its builder and what it can be configured with."""

    name: str
    build: BuildFn
    feat_dim: int | None = None     # fixed feature size (at the default width); None: set by model.feat_dim
    width: bool = False             # takes model.width (channels of its first convolution)

    @property
    def fixed_feature_size(self) -> bool:
        """Whether the feature size is the backbone's own (so the 2-D feature figures cannot use it)."""
        return self.feat_dim is not None


BACKBONES: Registry[Backbone] = Registry("backbone", Backbone)


def register_backbone(backbone: Backbone) -> Backbone:
    """Make ``backbone`` available by its name (for the built-in ones; a user's is named by import path)."""
    return BACKBONES.register(backbone)


def backbone_entry(name: str) -> Backbone:
    """The backbone named ``name``: a registered name or ``"module:attribute"``; the error lists what is
    registered."""
    return BACKBONES.get(name)


def build_backbone(name: str, in_channels: int, image_size: int, abn: bool = False,
                   feat_dim: int | None = None, width: int | None = None) -> nn.Module:
    """Build backbone ``name`` for ``in_channels`` x ``image_size`` px inputs.

    abn=True gives every batch norm a second domain for generated samples (paper Sec. 4.2), needed by ARPL+CS.
    ``feat_dim`` applies to backbones without a fixed feature size ('lenetpp': default 2; 'small': default its
    4*width pooled channels, no projection); classifier32 gives 2*width-d features (128 at its default width 64)
    and the ResNets 8*width-d (512). ``width`` (channels of the first convolution) applies to backbones that take it
    ('small', default 32; classifier32 and the ResNets, default 64).
    """
    entry = backbone_entry(name)
    _check_feat_dim(entry, feat_dim)
    _check_image_size(image_size)
    if width is not None and not entry.width:
        raise ValueError(f"width applies to backbones that take it ({', '.join(_width_backbones())}), got "
                         f"width={width} for {name!r}")
    net = entry.build(in_channels, image_size, abn, feat_dim, width)
    size = getattr(net, "feat_dim", None)
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"backbone {name!r} built a {type(net).__name__} without an int feat_dim attribute; its "
                        f"builder must return a module whose feat_dim is the size of its features")
    return net


def _check_feat_dim(entry: Backbone, feat_dim: int | None) -> None:
    if entry.feat_dim is not None and feat_dim is not None and feat_dim != entry.feat_dim:
        configurable = [b.name for b in BACKBONES.entries() if b.feat_dim is None]
        raise ValueError(f"backbone {entry.name!r} has a fixed feature size of {entry.feat_dim}, got "
                         f"feat_dim={feat_dim}; leave feat_dim unset (None) or pick "
                         f"{' or '.join(repr(n) for n in configurable)}, whose feature size is configurable")


def _check_image_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size must be an int of at least {MIN_IMAGE_SIZE} px, got {image_size!r}")


def _width_backbones() -> list[str]:
    return [b.name for b in BACKBONES.entries() if b.width]
