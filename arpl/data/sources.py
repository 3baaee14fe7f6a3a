"""Image sources of the paper's experiments (Sec. 5.1-5.3) as uint8 tensors in memory.

:func:`load_image_set` is the one entry point: the open-set datasets (MNIST, SVHN, CIFAR10, CIFAR100,
TinyImageNet, plus Fashion-MNIST and KMNIST), the out-of-distribution sets of Sec. 5.3, DomainNet
(Sec. 5.5.2, :mod:`arpl.data.domainnet`), ImageNet-1K and ImageNet-O (Sec. 5.5.3, :mod:`arpl.data.imagenet`,
decoded on demand), and three OOD-only sets that need no download (scikit-learn's 8x8 digits,
Gaussian and uniform noise).

torchvision's dataset classes read the files; their download path stays available with
``download=True``. Fashion-MNIST, this project's default data, is resolved by
:func:`ensure_fashion_mnist`: the files already under ``root``, else Debian's
``dataset-fashion-mnist`` package, else a torchvision download; every load verifies the md5 of the
decompressed files (:mod:`arpl.data.checksums`).
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torchvision

from arpl.data import checksums
from arpl.data.checksums import CorruptDataError, DataNotFoundError
from arpl.data.files import ImageFiles
from arpl.data.transforms import to_size

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
APT_HINT = "sudo apt-get install dataset-fashion-mnist"
DOMAINNET_DOMAINS = ("real", "clipart", "quickdraw")  # the three domains of Table 5
DOMAINNET_HALVES = {"A": range(0, 173), "B": range(173, 335)}  # class labels of each half (Sec. 5.5.2)
NOISE_SEED = 0
NOISE_COUNT = 1000
GAUSSIAN_MEAN, GAUSSIAN_STD = 0.5, 0.25

__all__ = ["ImageSet", "DatasetInfo", "DATASETS", "load_image_set", "ensure_fashion_mnist",
           "DataNotFoundError", "CorruptDataError", "DEBIAN_FASHION_MNIST_DIR"]


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about one image source: classes, native side and channels, torchvision class, folder."""

    name: str
    num_classes: int
    size: int
    channels: int
    torchvision_class: type | None
    folder: str
    ood_only: bool = False


DATASETS: dict[str, DatasetInfo] = {
    "fashion-mnist": DatasetInfo("fashion-mnist", 10, 28, 1, torchvision.datasets.FashionMNIST, "FashionMNIST/raw"),
    "mnist": DatasetInfo("mnist", 10, 28, 1, torchvision.datasets.MNIST, "MNIST/raw"),
    "kmnist": DatasetInfo("kmnist", 10, 28, 1, torchvision.datasets.KMNIST, "KMNIST/raw"),
    "svhn": DatasetInfo("svhn", 10, 32, 3, torchvision.datasets.SVHN, "svhn"),
    "cifar10": DatasetInfo("cifar10", 10, 32, 3, torchvision.datasets.CIFAR10, "cifar-10-batches-py"),
    "cifar100": DatasetInfo("cifar100", 100, 32, 3, torchvision.datasets.CIFAR100, "cifar-100-python"),
    "tinyimagenet": DatasetInfo("tinyimagenet", 200, 64, 3, None, "tiny-imagenet-200"),
    **{f"domainnet-{domain}-{half}": DatasetInfo(f"domainnet-{domain}-{half}", len(classes), 80, 3, None,
                                                 "domainnet", ood_only=(domain, half) != ("real", "A"))
       for domain in DOMAINNET_DOMAINS for half, classes in DOMAINNET_HALVES.items()},
    "imagenet-1k": DatasetInfo("imagenet-1k", 1000, 224, 3, None, "imagenet"),
    "imagenet-o": DatasetInfo("imagenet-o", 200, 224, 3, None, "imagenet-o", ood_only=True),
    "digits": DatasetInfo("digits", 10, 28, 1, None, "", ood_only=True),
    "gaussian-noise": DatasetInfo("gaussian-noise", 1, 28, 1, None, "", ood_only=True),
    "uniform-noise": DatasetInfo("uniform-noise", 1, 28, 1, None, "", ood_only=True),
}


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


def load_image_set(name: str, root: str | Path, train: bool = True, download: bool = False, *,
                   size: int | None = None, channels: int | None = None,
                   count: int | None = None, seed: int = NOISE_SEED) -> ImageSet:
    """Load dataset ``name`` (a key of :data:`DATASETS`) from ``root`` as an :class:`ImageSet`.

    ``train`` picks the training or the test part (SVHN: "train"/"test"; TinyImageNet, ImageNet: train/val;
    DomainNet: the domain's train/test list).
    OOD-only sets (digits, noise) return all their images for both parts. ``size``/``channels``
    resize the result (bilinear, antialiased; 1 -> 3 channels by repetition); for the noise sets they
    give the generated shape, with ``count`` images drawn with ``seed``.
    Raises :class:`DataNotFoundError` (places tried and fixes) or :class:`CorruptDataError`.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; use one of {', '.join(DATASETS)}")
    if name.endswith("-noise"):
        info = DATASETS[name]
        return generate_noise(name, count or NOISE_COUNT, size or info.size, channels or info.channels, seed)
    if count is not None:
        raise ValueError(f"count only applies to the noise sets, not to {name!r}; drop it")
    image_set = _load_native(name, Path(root), train, download)
    if (size is None or size == image_set.images.shape[-1]) and channels in (None, image_set.images.shape[1]):
        return image_set
    return image_set.resized(size or image_set.images.shape[-1], channels)


def _load_native(name: str, root: Path, train: bool, download: bool) -> ImageSet:
    if name == "digits":
        return load_digits()
    if name == "tinyimagenet":
        from arpl.data.folders import load_tinyimagenet  # folders builds on ImageSet defined here

        return load_tinyimagenet(root, train, download)
    if name.startswith("domainnet-"):
        from arpl.data.domainnet import load_domainnet

        return load_domainnet(name, root, train)
    if name in ("imagenet-1k", "imagenet-o"):
        from arpl.data import imagenet

        if name == "imagenet-o" and download:
            imagenet.download_imagenet_o(root)
        return imagenet.load_imagenet_o(root) if name == "imagenet-o" else imagenet.load_imagenet(root, train)
    if name == "fashion-mnist":
        ensure_fashion_mnist(root, download)
        return _image_set_from(name, _construct(name, root, train, download=False))
    return _load_torchvision(name, root, train, download)


def _load_torchvision(name: str, root: Path, train: bool, download: bool) -> ImageSet:
    """Local files under ``root`` first, then a torchvision download if allowed; then verify."""
    missing = [path for path in checksums.expected_files(name, root, train) if not path.is_file()]
    if missing:
        if not download:
            raise DataNotFoundError(_not_found_message(name, root, missing, "not attempted (download: false)"))
        try:
            _construct(name, root, train, download=True)
        except (RuntimeError, OSError) as error:
            raise DataNotFoundError(_not_found_message(name, root, missing, f"failed: {error}")) from error
    checksums.verify_files(name, root, train)
    return _image_set_from(name, _construct(name, root, train, download=False))


def _construct(name: str, root: Path, train: bool, download: bool):
    cls = DATASETS[name].torchvision_class
    if name == "svhn":
        return cls(str(root / "svhn"), split="train" if train else "test", download=download)
    return cls(str(root), train=train, download=download)


def _image_set_from(name: str, dataset) -> ImageSet:
    """Convert a torchvision dataset's in-memory arrays to an :class:`ImageSet` [N, C, H, W]."""
    if name == "svhn":
        images = torch.from_numpy(np.ascontiguousarray(dataset.data))
        labels = torch.from_numpy(np.asarray(dataset.labels, dtype=np.int64))
        classes = [str(digit) for digit in range(10)]
    elif name in ("cifar10", "cifar100"):
        images = torch.from_numpy(np.asarray(dataset.data)).permute(0, 3, 1, 2).contiguous()
        labels = torch.as_tensor(dataset.targets, dtype=torch.int64)
        classes = list(dataset.classes)
    else:
        images = dataset.data.unsqueeze(1).contiguous()
        labels = dataset.targets.to(torch.int64)
        classes = list(dataset.classes)
    return ImageSet(images, labels, classes, name)


def _not_found_message(name: str, root: Path, missing: list[Path], download_note: str) -> str:
    folder = root / DATASETS[name].folder
    return (f"{name} not found. Tried:\n"
            f"  1. {folder}: missing {', '.join(path.name for path in missing)}\n"
            f"  2. torchvision download into {root}: {download_note}\n"
            f"Fix: run with download: true on a machine with internet, "
            f"or copy the files ({', '.join(path.name for path in missing)}) to {folder}")


def ensure_fashion_mnist(root: str | Path, download: bool = False) -> Path:
    """Make the four decompressed Fashion-MNIST files exist and verify them; return the raw folder.

    Resolution order (docs/data.md): (a) ``root/FashionMNIST/raw/`` already holds them;
    (b) Debian's ``dataset-fashion-mnist`` (:data:`DEBIAN_FASHION_MNIST_DIR`) holds the ``.gz`` files:
    decompress them there atomically; (c) ``download=True``: torchvision downloads them. Otherwise
    raise :class:`DataNotFoundError` listing each place tried and how to fix it. The md5 of every
    decompressed file is checked, whatever its source (:class:`CorruptDataError` if wrong).
    """
    root = Path(root)
    raw = root / "FashionMNIST" / "raw"
    expected_md5 = checksums.RAW_MD5["fashion-mnist"]
    missing = [filename for filename in expected_md5 if not (raw / filename).is_file()]
    debian = Path(DEBIAN_FASHION_MNIST_DIR)
    debian_missing = [f"{filename}.gz" for filename in missing if not (debian / f"{filename}.gz").is_file()]
    if missing and not debian_missing:
        for filename in missing:
            _decompress_verified(debian / f"{filename}.gz", raw / filename, expected_md5[filename])
        missing = []
    download_note = "not attempted (download: false)"
    if missing and download:
        try:
            torchvision.datasets.FashionMNIST(str(root), train=True, download=True)
            download_note = "done"
        except (RuntimeError, OSError) as error:
            download_note = f"failed: {error}"
        missing = [filename for filename in expected_md5 if not (raw / filename).is_file()]
    if missing:
        raise DataNotFoundError(_fashion_mnist_message(raw, debian, missing, debian_missing, download_note))
    checksums.verify_files("fashion-mnist", root)
    return raw


def _fashion_mnist_message(raw: Path, debian: Path, missing: list[str], debian_missing: list[str],
                           download_note: str) -> str:
    debian_note = ("directory does not exist" if not debian.is_dir()
                   else f"missing {', '.join(debian_missing)}")
    return ("Fashion-MNIST not found. Tried:\n"
            f"  1. {raw}: missing {', '.join(missing)}\n"
            f"  2. {debian} (Debian package dataset-fashion-mnist): {debian_note}\n"
            f"  3. torchvision download: {download_note}\n"
            "Fix one of:\n"
            f"  - {APT_HINT}\n"
            "  - run with download: true on a machine with internet\n"
            f"  - copy the decompressed files ({', '.join(missing)}) to {raw}")


def _decompress_verified(source: Path, target: Path, expected_md5: str) -> None:
    """Decompress ``source`` (.gz) to ``target`` via a temporary file; rename only if the md5 matches."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as output, gzip.open(source, "rb") as compressed:
            shutil.copyfileobj(compressed, output, 1 << 20)
        checksums.verify_md5(temporary, expected_md5,
                             fix=f"{source} is damaged; reinstall it: sudo apt-get install --reinstall "
                                 f"dataset-fashion-mnist")
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except (OSError, EOFError) as error:
        raise CorruptDataError(f"cannot decompress {source}: {error}. Fix: sudo apt-get install --reinstall "
                               f"dataset-fashion-mnist") from error
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load_digits() -> ImageSet:
    """scikit-learn's 1,797 real 8x8 handwritten digits, values 0..16 scaled to 0..255, upscaled to
    28x28 (bilinear, antialiased): a far out-of-distribution set next to Fashion-MNIST (Sec. 5.3)."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    pixels = torch.from_numpy(bunch.images).float() * (255.0 / 16.0)
    images = to_size(pixels.round().clamp(0, 255).to(torch.uint8).unsqueeze(1), 28)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    return ImageSet(images, labels, [str(digit) for digit in range(10)], "digits")


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
