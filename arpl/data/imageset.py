"""The in-memory form of every image source: uint8 images [N, C, H, W] with their labels and class names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from arpl.data.files import ImageFiles
from arpl.data.transforms import to_size


@dataclass
class ImageSet:
    """Images as uint8 [N, C, H, W] with int64 labels [N] indexing ``classes``.

    ``images`` is a tensor, or for sets too large for memory (ImageNet) an
    :class:`~arpl.data.files.ImageFiles` that decodes them on demand and is indexed the same way.

    ``original_labels`` keeps the source dataset's labels when ``labels`` were remapped (open-set
    splits, Sec. 5.1: known classes become 0..K-1); ``None`` when the labels are the source's own.
    """

    images: torch.Tensor | ImageFiles
    labels: torch.Tensor
    classes: list[str]
    name: str = ""
    original_labels: torch.Tensor | None = field(default=None)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"ImageSet images must be uint8 [N, C, H, W], got {self.images.dtype} "
                             f"{tuple(self.images.shape)}; convert with (x * 255).round().to(torch.uint8)")
        if self.labels.dtype != torch.int64 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"ImageSet labels must be int64 [{self.images.shape[0]}], got "
                             f"{self.labels.dtype} {tuple(self.labels.shape)}")
        if self.original_labels is not None and self.original_labels.shape != self.labels.shape:
            raise ValueError("ImageSet original_labels must have the shape of labels")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, indices: Sequence[int] | torch.Tensor | np.ndarray) -> ImageSet:
        """The images at ``indices`` (in that order), same classes and name."""
        if not isinstance(indices, torch.Tensor):
            indices = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        index = indices.to(self.labels.device, torch.long).reshape(-1)
        original = None if self.original_labels is None else self.original_labels[index]
        return ImageSet(self.images[index], self.labels[index], list(self.classes), self.name, original)

    def resized(self, size: int, channels: int | None = None) -> ImageSet:
        """The same set at side ``size`` (bilinear, antialiased) and ``channels`` (see :func:`to_size`)."""
        images = self.images.resized(size, channels) if isinstance(self.images, ImageFiles) \
            else to_size(self.images, size, channels)
        return ImageSet(images, self.labels, list(self.classes), self.name,
                        self.original_labels)
