"""Mini-batches straight from an in-memory uint8 tensor, reproducible per epoch and shardable for DDP.

The whole uint8 dataset sits on the training device (on a GPU: in GPU memory), so there is no
DataLoader worker pool and no host-to-device copy per batch; conversion to float in [0, 1] (the
authors' ``ToTensor()``, no normalisation, Sec. 5.1) and augmentation happen on that device.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch

from arpl.data.transforms import Augment, AugmentDraw

AUGMENT_SEED_STRIDE = 1_000_003  # keeps each rank's augmentation stream apart from the others'


def epoch_order(count: int, shuffle: bool, seed: int, epoch: int, rank: int, world_size: int) -> torch.Tensor:
    """Indices that ``rank`` of ``world_size`` visits in ``epoch`` (CPU int64, ``ceil(count / world_size)``).

    A permutation drawn from a ``torch.Generator`` seeded with ``seed + epoch`` (``shuffle=False``:
    ``0..count-1``), padded by wrapping to a multiple of ``world_size`` and strided from ``rank``.
    """
    if shuffle:
        order = torch.randperm(count, generator=torch.Generator().manual_seed(seed + epoch))
    else:
        order = torch.arange(count)
    padded_length = math.ceil(count / world_size) * world_size
    if padded_length > count:
        order = torch.cat([order, order.repeat(math.ceil(padded_length / count))[: padded_length - count]])
    return order[rank::world_size]


class Batches:
    """Epochs of (x float32 [B, C, H, W] in [0, 1], y int64 [B]) on ``device``.

    Epoch ``e`` visits the samples in the order of a permutation drawn from a ``torch.Generator``
    seeded with ``seed + e`` (``shuffle=False``: in order), so resuming at epoch ``e`` repeats it
    exactly. With ``world_size > 1`` every rank draws the same permutation, pads it by wrapping to a
    multiple of ``world_size`` (as ``DistributedSampler`` does) and takes the strided shard
    ``rank::world_size``: shards are disjoint (before padding), cover all samples and have equal length.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool = True,
                 drop_last: bool = False, augment: Augment | None = None,
                 device: torch.device | str | None = None, seed: int = 0, rank: int = 0, world_size: int = 1):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"Batches expects uint8 images [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape [{images.shape[0]}], got {tuple(labels.shape)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank {rank}, world_size {world_size}")
        if images.shape[0] == 0:
            raise ValueError("Batches got an empty dataset; check the split and the per-class subset sizes")
        self.device = torch.device(device) if device is not None else images.device
        self.images = images.to(self.device)
        self.labels = labels.to(self.device, torch.int64)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.augment, self.seed, self.rank, self.world_size = augment, seed, rank, world_size
        self.current_epoch = 0

    @property
    def shard_size(self) -> int:
        """Samples this rank sees per epoch (all ranks see the same number)."""
        return math.ceil(self.images.shape[0] / self.world_size)

    def __len__(self) -> int:
        if self.drop_last:
            return self.shard_size // self.batch_size
        return math.ceil(self.shard_size / self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        """Indices this rank visits in ``epoch`` (CPU int64 tensor of length :attr:`shard_size`)."""
        return epoch_order(self.images.shape[0], self.shuffle, self.seed, epoch, self.rank, self.world_size)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield this rank's batches of ``epoch``: the same batches every time it is called. The epoch's order
        and augmentation draws reach the device in one copy each, before its first batch (no copy per batch)."""
        order = self.order(epoch).to(self.device)
        starts = range(0, len(self) * self.batch_size, self.batch_size)
        draws = self._augment_draws(epoch, [len(order[start:start + self.batch_size]) for start in starts])
        for start in starts:
            index = order[start:start + self.batch_size]
            x = self.images[index].float().div_(255.0)
            if draws is not None:
                x = self.augment.apply(x, draws.slice(start, start + len(index)))
            yield x, self.labels[index]

    def _augment_draws(self, epoch: int, batch_sizes: list[int]) -> AugmentDraw | None:
        """Every batch's crop and flip draws of ``epoch`` on the device, drawn batch after batch from one generator
        (the numbers drawing them batch by batch would give)."""
        if self.augment is None or not batch_sizes:
            return None
        generator = torch.Generator().manual_seed(self.seed + epoch + AUGMENT_SEED_STRIDE * (self.rank + 1))
        shape = tuple(self.images.shape[-2:])
        return AugmentDraw.cat([self.augment.draw(size, shape, generator) for size in batch_sizes], self.device)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch that plain iteration (``for x, y in batches``) yields, like ``DistributedSampler``."""
        self.current_epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.epoch(self.current_epoch)
