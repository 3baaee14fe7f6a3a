"""Images read lazily from files and decoded by DataLoader workers, for sets too large for memory.

The in-memory path (:class:`arpl.data.batches.Batches` over a uint8 tensor) cannot hold
ImageNet-scale data: ImageNet-1K's 1.28M training images at 224 px are about 193 GB as uint8, and
Sec. 5.5.3 of the paper trains ResNet-18 on ImageNet-1K. Here an :class:`ImageFiles` list names the
files under an ImageFolder root, :class:`FileDataset` decodes one file per item (PIL), and
:class:`StreamBatches` feeds training through a ``DataLoader`` worker pool with the interface of
:class:`~arpl.data.batches.Batches`: the same epoch order (:func:`~arpl.data.batches.epoch_order`),
the same batches, the same DDP shards.

Decoding: evaluation takes the centred square of side ``crop_fraction * min(width, height)`` and
resizes it to ``size`` (bilinear); training uses torchvision's ``RandomResizedCrop(size)`` followed
by a horizontal flip with p = 0.5 (the standard ImageNet recipe).

Determinism: the augmentation of sample ``i`` in epoch ``e`` draws from its own ``torch.Generator``
seeded with :func:`sample_seed` ``(seed, e, i)``, never from the global RNG, so an epoch's batches
are identical whatever the number of workers, the order workers finish in, or a resume at ``e``.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from arpl.data.batches import epoch_order
from arpl.data.checksums import CorruptDataError, DataNotFoundError

TRAIN_SCALE = (0.08, 1.0)
TRAIN_RATIO = (3.0 / 4.0, 4.0 / 3.0)
FLIP_PROBABILITY = 0.5
CROP_ATTEMPTS = 10
MAX_DEFAULT_WORKERS = 16
_MASK64 = (1 << 64) - 1

__all__ = ["ImageFiles", "FileDataset", "StreamBatches", "decode_all", "eval_batches", "default_workers",
           "random_resized_crop_box", "sample_seed"]


class ImageFiles:
    """Images stored as files under ``root``, decoded on demand to uint8 [channels, size, size].

    ``files`` are paths relative to ``root`` (kept as a numpy str array, which forked DataLoader
    workers share without copying). Tensor-like: ``len``, :attr:`shape`, :attr:`dtype`, ``dim()``
    and indexing (an int decodes one image, anything else selects a lazy subset), so it can stand
    where a uint8 image tensor is only indexed and measured.
    """

    dtype = torch.uint8
    device = torch.device("cpu")

    def __init__(self, root: str | Path, files: Sequence[str] | np.ndarray, size: int, channels: int = 3,
                 crop_fraction: float = 1.0):
        if size < 1:
            raise ValueError(f"ImageFiles size must be >= 1, got {size}")
        if channels not in (1, 3):
            raise ValueError(f"ImageFiles channels must be 1 (greyscale) or 3 (RGB), got {channels}")
        if not 0.0 < crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction}; use 1.0 for the largest "
                             f"centred square, 0.875 for Resize(256) + CenterCrop(224)")
        self.root = Path(root)
        self.files = np.asarray(files, dtype=str).reshape(-1)
        self.size, self.channels, self.crop_fraction = int(size), int(channels), float(crop_fraction)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(N, channels, size, size), as the decoded tensor would have."""
        return len(self.files), self.channels, self.size, self.size

    def dim(self) -> int:
        """4, like a uint8 image tensor [N, C, H, W]."""
        return 4

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index) -> torch.Tensor | ImageFiles:
        if isinstance(index, (int, np.integer)) or (isinstance(index, torch.Tensor) and index.dim() == 0
                                                     and not index.dtype.is_floating_point
                                                     and index.dtype != torch.bool):
            return self.decode(int(index))
        return self._with_files(self.files[_file_index(index, len(self))])

    def resized(self, size: int, channels: int | None = None) -> ImageFiles:
        """The same files decoded at side ``size`` (and ``channels``, if given); nothing is read now."""
        return ImageFiles(self.root, self.files, size, channels or self.channels, self.crop_fraction)

    def path(self, i: int) -> Path:
        """Full path of image ``i``."""
        return self.root / str(self.files[i])

    def decode(self, i: int) -> torch.Tensor:
        """Evaluation decode of image ``i``: centred square crop (side ``crop_fraction * min(w, h)``),
        bilinear resize to ``size``; uint8 [channels, size, size]."""
        image = self._open(i)
        width, height = image.size
        side = max(1, round(self.crop_fraction * min(width, height)))
        left, top = (width - side) // 2, (height - side) // 2
        return self._finish(image, (left, top, left + side, top + side), flip=False)

    def decode_train(self, i: int, generator: torch.Generator) -> torch.Tensor:
        """Training decode of image ``i``: ``RandomResizedCrop(size)`` then a horizontal flip with
        p = 0.5, all random numbers drawn from ``generator`` (in torchvision's order)."""
        image = self._open(i)
        left, top, width, height = random_resized_crop_box(*image.size, TRAIN_SCALE, TRAIN_RATIO, generator)
        flip = torch.rand(1, generator=generator).item() < FLIP_PROBABILITY
        return self._finish(image, (left, top, left + width, top + height), flip)

    def __repr__(self) -> str:
        return (f"ImageFiles({len(self)} files under {self.root}, {self.channels}x{self.size}x{self.size}, "
                f"crop_fraction={self.crop_fraction})")

    def _with_files(self, files: np.ndarray) -> ImageFiles:
        return ImageFiles(self.root, files, self.size, self.channels, self.crop_fraction)

    def _open(self, i: int) -> Image.Image:
        path = self.path(i)
        try:
            with Image.open(path) as image:
                return image.convert("RGB" if self.channels == 3 else "L")
        except FileNotFoundError as error:
            raise DataNotFoundError(f"image file {path} does not exist; the file list of {self.root} is out of "
                                    f"date. Fix: rebuild it from the folder") from error
        except OSError as error:
            raise CorruptDataError(f"cannot decode image {path}: {error}. Fix: replace or remove the file") \
                from error

    def _finish(self, image: Image.Image, box: tuple[int, int, int, int], flip: bool) -> torch.Tensor:
        image = image.crop(box).resize((self.size, self.size), Image.BILINEAR)
        if flip:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        pixels = torch.from_numpy(np.array(image, dtype=np.uint8))
        return pixels.unsqueeze(0) if pixels.dim() == 2 else pixels.permute(2, 0, 1).contiguous()


def _file_index(index, count: int) -> slice | np.ndarray:
    """A slice, or an int64 position array from a list / ndarray / tensor of ints or a boolean mask."""
    if isinstance(index, slice):
        return index
    if isinstance(index, torch.Tensor):
        index = index.detach().cpu().numpy()
    if not isinstance(index, (list, tuple, range, np.ndarray)):
        raise TypeError(f"ImageFiles index must be an int, a slice, or a list/array/tensor of ints or a boolean "
                        f"mask, got {type(index).__name__}")
    array = np.asarray(index)
    if array.dtype == np.bool_:
        if array.shape != (count,):
            raise IndexError(f"boolean mask of shape {array.shape} does not match {count} files")
        return np.flatnonzero(array)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"ImageFiles index arrays must hold integers or booleans, got {array.dtype}")
    return array.astype(np.int64).reshape(-1)


def random_resized_crop_box(width: int, height: int, scale: tuple[float, float], ratio: tuple[float, float],
                            generator: torch.Generator) -> tuple[int, int, int, int]:
    """(left, top, crop_width, crop_height) of a random crop, as torchvision's
    ``RandomResizedCrop.get_params``: up to 10 tries of an area fraction uniform in ``scale`` and a
    log-uniform aspect ratio in ``ratio``; if none fits, the centred crop clamped to ``ratio``.

    Draws the same numbers in the same order as ``get_params``, but from ``generator``: seeded alike,
    the two give the same box.
    """
    area = width * height
    log_ratio = torch.log(torch.tensor(ratio))
    for _ in range(CROP_ATTEMPTS):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1], generator=generator).item()
        aspect_ratio = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=generator)).item()
        crop_width = int(round(math.sqrt(target_area * aspect_ratio)))
        crop_height = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < crop_width <= width and 0 < crop_height <= height:
            top = int(torch.randint(0, height - crop_height + 1, size=(1,), generator=generator).item())
            left = int(torch.randint(0, width - crop_width + 1, size=(1,), generator=generator).item())
            return left, top, crop_width, crop_height
    return _central_box(width, height, ratio)


def _central_box(width: int, height: int, ratio: tuple[float, float]) -> tuple[int, int, int, int]:
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        crop_width, crop_height = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        crop_width, crop_height = int(round(height * max(ratio))), height
    else:
        crop_width, crop_height = width, height
    return (width - crop_width) // 2, (height - crop_height) // 2, crop_width, crop_height


def _splitmix64(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Seed of sample ``index``'s augmentation in ``epoch``: splitmix64 chained over the three
    numbers, in [0, 2**63); fixed across runs, machines and worker counts."""
    return _splitmix64(_splitmix64(_splitmix64(seed & _MASK64) ^ (epoch & _MASK64)) ^ (index & _MASK64)) % (1 << 63)


class FileDataset(Dataset):
    """Map-style dataset over :class:`ImageFiles`: item ``i`` is image ``i`` as uint8 [C, size, size].

    ``train=False``: the evaluation decode. ``train=True``: the training decode with a fresh
    generator seeded by :func:`sample_seed` ``(seed, epoch, i)``, so item ``i`` is the same whichever
    worker decodes it and whenever.
    """

    def __init__(self, files: ImageFiles, train: bool, seed: int = 0, epoch: int = 0):
        self.files, self.train, self.seed, self.epoch = files, train, seed, epoch

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        if not self.train:
            return self.files.decode(i)
        return self.files.decode_train(i, torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, i)))


def default_workers() -> int:
    """DataLoader workers to use by default: this process's share of the CPUs it may run on (shared with
    the other processes of a ``torchrun`` on this machine, ``LOCAL_WORLD_SIZE``), less one, at most 16."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    share = cpus // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(0, min(MAX_DEFAULT_WORKERS, share - 1))


def _check_loader_arguments(batch_size: int, workers: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if workers < 0:
        raise ValueError(f"workers must be >= 0 (0 decodes in this process), got {workers}")


def eval_batches(files: ImageFiles, batch_size: int, workers: int | None = None) -> Iterator[torch.Tensor]:
    """The evaluation-decoded images in order, as uint8 batches [B, C, size, size] (CPU), decoded by
    ``workers`` DataLoader processes (``None``: :func:`default_workers`; 0: in this process)."""
    workers = default_workers() if workers is None else workers
    _check_loader_arguments(batch_size, workers)
    yield from DataLoader(FileDataset(files, train=False), batch_size=batch_size, shuffle=False,
                          num_workers=workers)


def decode_all(files: ImageFiles, workers: int | None = None, batch_size: int = 256) -> torch.Tensor:
    """All images, evaluation-decoded, as one uint8 tensor [N, C, size, size] (CPU).

    Decoded in parallel by ``workers`` DataLoader processes (``None``: :func:`default_workers`;
    0: in this process); a progress bar shows only when stderr is a terminal.
    """
    images = torch.empty(files.shape, dtype=torch.uint8)
    batches = eval_batches(files, batch_size, workers)
    if sys.stderr.isatty():
        from tqdm import tqdm

        batches = tqdm(batches, total=math.ceil(len(files) / batch_size), desc=f"decoding {files.root}",
                       unit="batch")
    start = 0
    for batch in batches:
        images[start:start + len(batch)] = batch
        start += len(batch)
    return images


class StreamBatches:
    """Epochs of (x float32 [B, C, H, W] in [0, 1], y int64 [B]) on ``device``, decoded from files.

    The interface and batches of :class:`~arpl.data.batches.Batches`: epoch ``e`` visits
    :func:`~arpl.data.batches.epoch_order` ``(N, shuffle, seed, e, rank, world_size)`` in chunks of
    ``batch_size``, so with the same arguments both classes yield the same indices in the same
    batches. Images are decoded by ``workers`` DataLoader processes (``None``:
    :func:`default_workers`), augmented (``augment=True``: RandomResizedCrop + flip, reproducible per
    sample, see :func:`sample_seed`) or evaluation-decoded, and pinned when ``device`` is CUDA.
    """

    def __init__(self, files: ImageFiles, labels: torch.Tensor, batch_size: int, shuffle: bool = True,
                 drop_last: bool = False, device: torch.device | str | None = None, seed: int = 0,
                 rank: int = 0, world_size: int = 1, workers: int | None = None, augment: bool = True):
        if not isinstance(files, ImageFiles):
            raise ValueError(f"StreamBatches expects ImageFiles, got {type(files).__name__}; for a uint8 tensor "
                             f"in memory use arpl.data.batches.Batches")
        if labels.shape != (len(files),):
            raise ValueError(f"labels must have shape [{len(files)}], got {tuple(labels.shape)}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank {rank}, world_size {world_size}")
        if len(files) == 0:
            raise ValueError("StreamBatches got an empty dataset; check the split and the per-class subset sizes")
        workers = default_workers() if workers is None else workers
        _check_loader_arguments(batch_size, workers)
        self.files, self.labels = files, labels.detach().cpu().to(torch.int64)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.workers, self.augment = workers, augment
        self.current_epoch = 0

    @property
    def shard_size(self) -> int:
        """Samples this rank sees per epoch (all ranks see the same number)."""
        return math.ceil(len(self.files) / self.world_size)

    def __len__(self) -> int:
        if self.drop_last:
            return self.shard_size // self.batch_size
        return math.ceil(self.shard_size / self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        """Indices this rank visits in ``epoch`` (CPU int64 tensor of length :attr:`shard_size`)."""
        return epoch_order(len(self.files), self.shuffle, self.seed, epoch, self.rank, self.world_size)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield this rank's batches of ``epoch``: the same batches every time it is called."""
        order = self.order(epoch)
        chunks = [order[start:start + self.batch_size].tolist()
                  for start in range(0, len(self) * self.batch_size, self.batch_size)]
        loader = DataLoader(FileDataset(self.files, train=self.augment, seed=self.seed, epoch=epoch),
                            batch_sampler=chunks, num_workers=self.workers,
                            pin_memory=self.device.type == "cuda")
        for images, index in zip(loader, chunks):
            x = images.to(self.device, non_blocking=True).float().div_(255.0)
            yield x, self.labels[index].to(self.device)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch that plain iteration (``for x, y in batches``) yields, like ``DistributedSampler``."""
        self.current_epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.epoch(self.current_epoch)
