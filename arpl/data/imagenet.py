"""ImageNet-1K and ImageNet-O (Sec. 5.5.3, Table 6), read lazily from ImageFolder trees.

ImageNet-1K's 1.28 million training images do not fit in memory as a uint8 tensor at 224 px, so its
:class:`ImageSet` holds an :class:`~arpl.data.files.ImageFiles` (paths, decoded by DataLoader workers
while training) instead of pixels. Layout under the data root::

    imagenet/train/<wnid>/*.JPEG     1,000 class folders (ImageFolder order = sorted wnids)
    imagenet/val/<wnid>/*.JPEG       50,000 validation images sorted into the same folders
    imagenet-o/<wnid>/*.jpg          ImageNet-O (Hendrycks et al. 2021): 2,000 images of 200 ImageNet-22K
                                     classes that are not in ImageNet-1K

:func:`prepare_imagenet` builds ``imagenet/train`` and ``imagenet/val`` from the official archives
(ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar, ILSVRC2012_devkit_t12.tar.gz) with torchvision's
``ImageNet`` class; ImageNet-O is a public download (:data:`IMAGENET_O_URL`). Evaluation images show
the region ``Resize(256) + CenterCrop(224)`` keeps (the centred square of 0.875 of the shorter side,
resized once, so pixels differ slightly from the two-step resize); training
uses ``RandomResizedCrop(224)`` and a horizontal flip, the standard recipe for ResNet-18 on ImageNet.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from arpl.data.archives import fetch_archive
from arpl.data.checksums import DataNotFoundError
from arpl.data.files import ImageFiles
from arpl.data.folders import find_classes, make_dataset
from arpl.data.imageset import ImageSet
from arpl.data.registry import DatasetSource, register_dataset

IMAGENET_FOLDER = "imagenet"
IMAGENET_O_FOLDER = "imagenet-o"
IMAGENET_O_URL = "https://people.eecs.berkeley.edu/~hendrycks/imagenet-o.tar"
ARCHIVES = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar", "ILSVRC2012_devkit_t12.tar.gz")
NUM_CLASSES = 1000
SIZE = 224
EVAL_CROP_FRACTION = 224 / 256


def load_imagenet(root: str | Path, train: bool = True, size: int = SIZE) -> ImageSet:
    """ImageNet-1K's training or validation images (lazy, ``size`` px) with labels 0..999 (sorted wnids)."""
    base = imagenet_folder(root)
    part = base / ("train" if train else "val")
    classes = find_classes(str(base / "train"))[0]
    if len(classes) != NUM_CLASSES:
        raise DataNotFoundError(f"{base / 'train'} holds {len(classes)} class folders, ImageNet-1K has {NUM_CLASSES}. "
                                f"Fix: run `python -m arpl prepare-imagenet {Path(root)}` again")
    return folder_image_set(part, classes, size, "imagenet-1k")


def imagenet_folder(root: str | Path) -> Path:
    """``root/imagenet`` once its ``train/`` and ``val/`` exist; else :class:`DataNotFoundError` with the fix."""
    base = Path(root) / IMAGENET_FOLDER
    if not (base / "train").is_dir() or not (base / "val").is_dir():
        raise DataNotFoundError(
            f"ImageNet-1K not found: expected {base / 'train'} and {base / 'val'} with one folder per class. Fix: put "
            f"{', '.join(ARCHIVES)} (from image-net.org) into {base} and run "
            f"`python -m arpl prepare-imagenet {Path(root)}`, or link an existing ImageFolder copy there.")
    return base


def imagenet_o_folder(root: str | Path) -> Path:
    """``root/imagenet-o`` if it exists; else :class:`DataNotFoundError` with the fix."""
    base = Path(root) / IMAGENET_O_FOLDER
    if not base.is_dir():
        raise DataNotFoundError(f"ImageNet-O not found: {base} does not exist. Fix: download {IMAGENET_O_URL} and "
                                f"extract it into {Path(root)} (or run with data.download: true)")
    return base


def load_imagenet_o(root: str | Path, size: int = SIZE) -> ImageSet:
    """ImageNet-O's 2,000 images (lazy, ``size`` px); the labels index its own 200 wnid folders."""
    base = imagenet_o_folder(root)
    return folder_image_set(base, find_classes(str(base))[0], size, "imagenet-o")


def folder_image_set(folder: Path, classes: list[str], size: int, name: str) -> ImageSet:
    """An ImageFolder tree as an :class:`ImageSet` whose images are decoded on demand."""
    samples = make_dataset(str(folder), {c: i for i, c in enumerate(classes)}, allow_empty=True)
    if not samples:
        raise DataNotFoundError(f"{folder} holds no images in class folders; check the layout in the README")
    files = np.array([os.path.relpath(path, folder) for path, _ in samples])
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return ImageSet(ImageFiles(folder, files, size, crop_fraction=EVAL_CROP_FRACTION), labels, list(classes), name)


def prepare_imagenet(root: str | Path) -> Path:
    """Extract the official archives in ``root/imagenet`` into ``train/<wnid>/`` and ``val/<wnid>/``
    (torchvision's ``ImageNet`` does the work); a folder already prepared is left alone."""
    base = Path(root) / IMAGENET_FOLDER
    from torchvision.datasets import ImageNet

    for split in ("train", "val"):
        if (base / split).is_dir() and len(find_classes(str(base / split))[0]) == NUM_CLASSES:
            continue
        missing = [name for name in ARCHIVES if not (base / name).is_file()]
        if missing:
            raise DataNotFoundError(f"cannot prepare ImageNet {split}: {', '.join(missing)} not in {base}. "
                                    f"Fix: download them from image-net.org into {base}, then run "
                                    f"`python -m arpl prepare-imagenet {Path(root)}`")
        ImageNet(str(base), split=split)
    return base


def download_imagenet_o(root: str | Path) -> Path:
    """Fetch and extract ImageNet-O into ``root`` unless it is there already."""
    base = Path(root) / IMAGENET_O_FOLDER
    return base if base.is_dir() else fetch_archive(IMAGENET_O_URL, root, IMAGENET_O_FOLDER)


def _load_imagenet(root: Path, train: bool, download: bool) -> ImageSet:
    return load_imagenet(root, train)  # prepared by hand: `python -m arpl prepare-imagenet`


def _load_imagenet_o(root: Path, train: bool, download: bool) -> ImageSet:
    if download:
        download_imagenet_o(root)
    return load_imagenet_o(root)  # one part: every image is out-of-distribution


def _check_imagenet(root: Path, download: bool) -> None:
    imagenet_folder(root)


def _check_imagenet_o(root: Path, download: bool) -> None:
    if not download:  # with download: true the stage fetches it
        imagenet_o_folder(root)


register_dataset(DatasetSource("imagenet-1k", NUM_CLASSES, SIZE, 3, load=_load_imagenet, check=_check_imagenet,
                               augment=True, prepared_by_hand=True,
                               train_images_per_class=1281))  # 1,281,167 training images / 1000 (uneven classes)
register_dataset(DatasetSource("imagenet-o", 200, SIZE, 3, load=_load_imagenet_o, check=_check_imagenet_o,
                               open_set=False, ood=True, prepared_by_hand=True))
