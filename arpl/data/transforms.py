"""Image transforms of the authors' protocol (Sec. 5.1), done on whole uint8 tensors or batches.

- :func:`to_size`: resize (bilinear, antialiased, as the authors' ``transforms.Resize`` on PIL images:
  Fashion-MNIST/MNIST 28 -> 32) and repeat a grey channel to three.
- :class:`Augment`: ``RandomCrop(size, padding=4)`` + ``RandomHorizontalFlip()``, vectorised over a
  batch on the batch's own device, drawn from a ``torch.Generator`` so that it is reproducible.

Which datasets are augmented is a fact of each source (``DatasetSource.augment``, :mod:`arpl.data.registry`).
No normalisation anywhere.
"""

from __future__ import annotations

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
        generator = generator or self.generator
        cropped = self.crop(batch, generator)
        return self.flip_horizontally(cropped, generator) if self.flip else cropped

    def crop(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random ``size`` x ``size`` window of the zero-padded images, one offset per sample."""
        if batch.dim() != 4:
            raise ValueError(f"Augment expects a batch [B, C, H, W], got shape {tuple(batch.shape)}")
        p = self.padding
        padded = F.pad(batch, (p, p, p, p)) if p else batch
        height, width = padded.shape[-2:]
        if height < self.size or width < self.size:
            raise ValueError(f"crop {self.size} is larger than the padded image {height}x{width}")
        count = batch.shape[0]
        top = torch.randint(0, height - self.size + 1, (count,), generator=generator).to(batch.device)
        left = torch.randint(0, width - self.size + 1, (count,), generator=generator).to(batch.device)
        offsets = torch.arange(self.size, device=batch.device)
        rows = (top[:, None] + offsets)[:, :, None]                      # [B, size, 1]
        cols = (left[:, None] + offsets)[:, None, :]                     # [B, 1, size]
        flat_index = (rows * width + cols).reshape(count, 1, -1).expand(-1, batch.shape[1], -1)
        window = padded.reshape(count, batch.shape[1], -1).gather(2, flat_index)
        return window.reshape(count, batch.shape[1], self.size, self.size)

    def flip_horizontally(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Mirror each sample left-right with probability ``flip_p``."""
        flips = (torch.rand(batch.shape[0], generator=generator) < self.flip_p).to(batch.device)
        return torch.where(flips[:, None, None, None], batch.flip(-1), batch)

