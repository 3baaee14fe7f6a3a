"""Image transforms of the authors' protocol (Sec. 5.1), done on whole uint8 tensors or batches.

- :func:`to_size`: resize (bilinear, antialiased, as the authors' ``transforms.Resize`` on PIL images:
  Fashion-MNIST/MNIST 28 -> 32) and repeat a grey channel to three.
- :class:`Augment`: ``RandomCrop(size, padding=4)`` + ``RandomHorizontalFlip()``, vectorised over a
  batch on the batch's own device, drawn from a ``torch.Generator`` so that it is reproducible.

Which datasets are augmented is a fact of each source (``DatasetSource.augment``, :mod:`arpl.data.registry`).
No normalisation anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

RESIZE_CHUNK = 4096


def to_size(images: torch.Tensor, size: int, channels: int | None = None,
            chunk_size: int = RESIZE_CHUNK) -> torch.Tensor:
    """Resize uint8 images [N, C, H, W] to [N, channels, size, size].

    Bilinear interpolation with antialiasing (half-pixel centres, like PIL's bilinear resize the
    authors' loaders use), rounded back to uint8; ``channels=3`` on grey images repeats the channel.
    Works ``chunk_size`` images at a time so the float copy stays small. Returns ``images`` itself
    when nothing changes.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"to_size expects uint8 [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    channels = channels or images.shape[1]
    if channels != images.shape[1] and images.shape[1] != 1:
        raise ValueError(f"cannot turn {images.shape[1]} channels into {channels}; only 1 -> N repetition "
                         f"is supported (load the data with its own channel count)")
    if images.shape[-2:] != (size, size):
        images = torch.cat([_resize_chunk(chunk, size) for chunk in images.split(chunk_size)]) \
            if len(images) else images.new_empty((0, images.shape[1], size, size))
    if channels != images.shape[1]:
        images = images.repeat(1, channels, 1, 1)
    return images


def _resize_chunk(chunk: torch.Tensor, size: int) -> torch.Tensor:
    resized = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return resized.round_().clamp_(0, 255).to(torch.uint8)


class Augment:
    """``RandomCrop(size, padding)`` with zero padding, then ``RandomHorizontalFlip(p=0.5)``, per sample.

    Same distribution as torchvision's transforms (crop offsets uniform over the padded image, flip
    with probability ``flip_p``), but for a whole batch at once on the batch's device. Random numbers
    come from a CPU ``torch.Generator`` (the one passed in, else the augment's own, seeded with
    ``seed``), so results do not depend on the device.
    """

    def __init__(self, size: int, padding: int = 4, flip: bool = True, flip_p: float = 0.5, seed: int = 0):
        if size < 1 or padding < 0 or not 0.0 <= flip_p <= 1.0:
            raise ValueError(f"Augment needs size >= 1, padding >= 0, 0 <= flip_p <= 1; got {size}, "
                             f"{padding}, {flip_p}")
        self.size, self.padding, self.flip, self.flip_p = size, padding, flip, flip_p
        self.generator = torch.Generator().manual_seed(seed)

    def __repr__(self) -> str:
        return f"Augment(size={self.size}, padding={self.padding}, flip={self.flip})"

    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment ``batch`` [B, C, H, W] (any dtype); returns [B, C, size, size] on the same device."""
        _check_batch(batch)
        return self.apply(batch, self.draw(batch.shape[0], batch.shape[-2:], generator))

    def draw(self, count: int, image_shape: tuple[int, int], generator: torch.Generator | None = None) -> AugmentDraw:
        """The random numbers of one batch of ``count`` images of ``image_shape`` (H, W), on the CPU: crop
        offsets, then flips, from ``generator`` (else the augment's own). Drawing every batch of an epoch up
        front and moving them to the device at once (:meth:`AugmentDraw.cat`) spares a GPU a copy per batch and
        gives the same numbers as drawing batch by batch."""
        generator = generator or self.generator
        height, width = (side + 2 * self.padding for side in image_shape)
        if height < self.size or width < self.size:
            raise ValueError(f"crop {self.size} is larger than the padded image {height}x{width}")
        top = torch.randint(0, height - self.size + 1, (count,), generator=generator)
        left = torch.randint(0, width - self.size + 1, (count,), generator=generator)
        flips = torch.rand(count, generator=generator) < self.flip_p if self.flip else None
        return AugmentDraw(top, left, flips)

    def apply(self, batch: torch.Tensor, draw: AugmentDraw) -> torch.Tensor:
        """Crop (and flip) ``batch`` [B, C, H, W] with the random numbers of ``draw``."""
        _check_batch(batch)
        cropped = self.crop(batch, draw.top.to(batch.device), draw.left.to(batch.device))
        if draw.flips is None:
            return cropped
        return torch.where(draw.flips.to(batch.device)[:, None, None, None], cropped.flip(-1), cropped)

    def crop(self, batch: torch.Tensor, top: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
        """The ``size`` x ``size`` window at (``top``, ``left``) of each zero-padded image."""
        p = self.padding
        padded = F.pad(batch, (p, p, p, p)) if p else batch
        width = padded.shape[-1]
        count, channels = batch.shape[:2]
        offsets = torch.arange(self.size, device=batch.device)
        rows = (top[:, None] + offsets)[:, :, None]                      # [B, size, 1]
        cols = (left[:, None] + offsets)[:, None, :]                     # [B, 1, size]
        flat_index = (rows * width + cols).reshape(count, 1, -1).expand(-1, channels, -1)
        window = padded.reshape(count, channels, -1).gather(2, flat_index)
        return window.reshape(count, channels, self.size, self.size)


def _check_batch(batch: torch.Tensor) -> None:
    if batch.dim() != 4:
        raise ValueError(f"Augment expects a batch [B, C, H, W], got shape {tuple(batch.shape)}")


@dataclass(frozen=True)
class AugmentDraw:
    """The random numbers of :class:`Augment` for a batch: crop offsets and flips (None: no flipping)."""

    top: torch.Tensor
    left: torch.Tensor
    flips: torch.Tensor | None

    @staticmethod
    def cat(draws: list[AugmentDraw], device: torch.device) -> AugmentDraw:
        """The draws of several batches, concatenated and moved to ``device`` in one copy each."""
        flips = None if draws[0].flips is None else torch.cat([draw.flips for draw in draws]).to(device)
        return AugmentDraw(torch.cat([draw.top for draw in draws]).to(device),
                           torch.cat([draw.left for draw in draws]).to(device), flips)

    def slice(self, start: int, stop: int) -> AugmentDraw:
        """The draws of the images ``start:stop``."""
        flips = None if self.flips is None else self.flips[start:stop]
        return AugmentDraw(self.top[start:stop], self.left[start:stop], flips)
