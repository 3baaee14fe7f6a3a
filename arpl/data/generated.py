"""Out-of-distribution sets that need no download (Sec. 5.3): scikit-learn's 8x8 handwritten digits, and
Gaussian and uniform noise images of any shape. Each registers itself as a
:class:`~arpl.data.registry.DatasetSource` (OOD only)."""

from __future__ import annotations

import gzip
import importlib.util
from functools import partial
from pathlib import Path

import numpy as np
import torch

from arpl.data.imageset import ImageSet
from arpl.data.registry import NOISE_COUNT, NOISE_SEED, DatasetSource, register_dataset
from arpl.data.transforms import to_size

GAUSSIAN_MEAN, GAUSSIAN_STD = 0.5, 0.25


def load_digits() -> ImageSet:
    """scikit-learn's 1,797 real 8x8 handwritten digits, values 0..16 scaled to 0..255, upscaled to
    28x28 (bilinear, antialiased): a far out-of-distribution set next to Fashion-MNIST (Sec. 5.3).

    The values are read from scikit-learn's own file as its ``load_digits`` reads them, without importing
    scikit-learn (seconds in every stage that evaluates on this set)."""
    with gzip.open(digits_file(), "rt") as stream:
        table = np.loadtxt(stream, delimiter=",")
    pixels = torch.from_numpy(table[:, :-1].reshape(-1, 8, 8)).float() * (255.0 / 16.0)
    images = to_size(pixels.round().clamp(0, 255).to(torch.uint8).unsqueeze(1), 28)
    labels = torch.from_numpy(table[:, -1].astype(np.int64))
    return ImageSet(images, labels, [str(digit) for digit in range(10)], "digits")


def digits_file() -> Path:
    """``sklearn/datasets/data/digits.csv.gz`` of the installed scikit-learn (found, not imported): 1,797 rows of 64
    pixel values and the digit."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the digits OOD set comes with scikit-learn: pip install scikit-learn")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"


def generate_noise(name: str, count: int = NOISE_COUNT, size: int = 28, channels: int = 1,
                   seed: int = NOISE_SEED) -> ImageSet:
    """Synthetic OOD images (Sec. 5.3): "gaussian-noise" draws each pixel from N(mean 0.5,
    standard deviation 0.25) clipped to [0, 1]; "uniform-noise" from U[0, 1]. Fixed ``seed``."""
    if count < 1 or size < 1 or channels < 1:
        raise ValueError(f"noise needs count, size and channels >= 1, got {count}, {size}, {channels}")
    generator = torch.Generator().manual_seed(seed)
    shape = (count, channels, size, size)
    if name == "gaussian-noise":
        values = (torch.randn(shape, generator=generator) * GAUSSIAN_STD + GAUSSIAN_MEAN).clamp(0, 1)
    elif name == "uniform-noise":
        values = torch.rand(shape, generator=generator)
    else:
        raise ValueError(f"unknown noise {name!r}; use gaussian-noise or uniform-noise")
    images = (values * 255).round().to(torch.uint8)
    return ImageSet(images, torch.zeros(count, dtype=torch.int64), [name], name)


def _load_digits(root: Path, train: bool, download: bool) -> ImageSet:
    return load_digits()  # packaged with scikit-learn: no files, one part


register_dataset(DatasetSource("digits", 10, 28, 1, load=_load_digits, open_set=False, ood=True))
register_dataset(DatasetSource("gaussian-noise", 1, 28, 1, generate=partial(generate_noise, "gaussian-noise"),
                               open_set=False, ood=True))
register_dataset(DatasetSource("uniform-noise", 1, 28, 1, generate=partial(generate_noise, "uniform-noise"),
                               open_set=False, ood=True))
