"""ImageFolder datasets (TinyImageNet, Sec. 5.1) decoded once into uint8 tensors with an .npz cache.

TinyImageNet ships its validation images in one folder with a label file; the authors read it with
torchvision's ``ImageFolder``, so :func:`prepare_tinyimagenet` moves them into ``val/<wnid>/images/``.
Class indices follow ImageFolder's order (sorted wnids), which the authors' split indices refer to;
:func:`find_classes` and :func:`make_dataset` list a folder as torchvision's do, without importing torchvision
(seconds in every process that loads data).

Command line: ``python -m arpl.data.folders tinyimagenet ROOT [--download]`` prepares the folders and
builds both caches.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from arpl.data.archives import fetch_archive
from arpl.data.checksums import DataNotFoundError
from arpl.data.files import ImageFiles, decode_all
from arpl.data.imageset import ImageSet
from arpl.data.registry import DatasetSource, register_dataset

TINYIMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
TINYIMAGENET_MD5 = "90528d7ca1a48142e341f4ef8d21d0de"
TINYIMAGENET_FOLDER = "tiny-imagenet-200"
TINYIMAGENET_SIZE = 64
# torchvision's IMG_EXTENSIONS (torchvision/datasets/folder.py): the files an ImageFolder reads
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def find_classes(directory: str | Path) -> tuple[list[str], dict[str, int]]:
    """The class folders of ``directory`` (sorted names of its sub-folders) and their indices, as torchvision's
    ``find_classes`` (torchvision/datasets/folder.py) gives them; FileNotFoundError if there is none."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: index for index, name in enumerate(classes)}


def make_dataset(directory: str | Path, class_to_idx: dict[str, int],
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """(path, class index) of every image (a name ending in one of :data:`IMG_EXTENSIONS`, any case) under
    ``directory/<class>/``, symbolic links followed, in the order of torchvision's ``make_dataset``
    (torchvision/datasets/folder.py): classes sorted, then each class's folders walked in sorted order and their
    files sorted. A class without an image raises FileNotFoundError (torchvision's message) unless
    ``allow_empty``."""
    directory = os.path.expanduser(directory)
    if not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    instances = []
    available_classes = set()
    for target_class in sorted(class_to_idx):
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if path.lower().endswith(IMG_EXTENSIONS):
                    instances.append((path, class_to_idx[target_class]))
                    available_classes.add(target_class)
    empty_classes = set(class_to_idx) - available_classes
    if empty_classes and not allow_empty:
        raise FileNotFoundError(f"Found no valid file for the classes {', '.join(sorted(empty_classes))}. "
                                f"Supported extensions are: {', '.join(IMG_EXTENSIONS)}")
    return instances


def prepare_tinyimagenet(root: str | Path) -> Path:
    """Move ``val/images/*.JPEG`` into ``val/<wnid>/images/`` as listed in ``val/val_annotations.txt``.

    Idempotent (a finished folder is left alone, an interrupted run is completed). Returns the
    ``tiny-imagenet-200`` folder; raises :class:`DataNotFoundError` with the download URL if absent.
    """
    base = Path(root) / TINYIMAGENET_FOLDER
    if not (base / "train").is_dir() or not (base / "val").is_dir():
        raise DataNotFoundError(f"TinyImageNet not found: expected {base}/train and {base}/val. Fix: download "
                                f"{TINYIMAGENET_URL} and unzip it into {Path(root)} (or run with download: true "
                                f"on a machine with internet)")
    images = base / "val" / "images"
    if not images.is_dir():
        return base
    annotations = base / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise DataNotFoundError(f"{annotations} is missing, so {images} cannot be sorted into classes. Fix: "
                                f"unzip {TINYIMAGENET_URL} again into {Path(root)}")
    for line in annotations.read_text().splitlines():
        if not line.strip():
            continue
        filename, wnid = line.split("\t")[:2]
        source = images / filename
        if source.is_file():
            (base / "val" / wnid / "images").mkdir(parents=True, exist_ok=True)
            os.replace(source, base / "val" / wnid / "images" / filename)
    leftover = sorted(path.name for path in images.iterdir())
    if leftover:
        raise ValueError(f"{len(leftover)} files in {images} are not listed in {annotations} (e.g. {leftover[0]}). "
                         f"Fix: unzip {TINYIMAGENET_URL} again")
    images.rmdir()
    return base


def load_image_folder(path: str | Path, size: int, classes: list[str] | None = None,
                      name: str | None = None) -> ImageSet:
    """Read an ImageFolder tree (``path/<class>/**/<image>``) as RGB uint8 [N, 3, size, size].

    Classes are the sorted sub-folders (torchvision's ``ImageFolder`` order) unless ``classes`` fixes
    them; images are PIL-decoded once (in parallel), centre-cropped to a square, resized (bilinear) to
    ``size`` and cached in ``<path>_<size>px.npz`` beside the folder; the cache is rebuilt when the file
    list changes.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataNotFoundError(f"image folder {path} does not exist")
    classes = list(classes) if classes is not None else find_classes(str(path))[0]
    samples = make_dataset(str(path), {c: i for i, c in enumerate(classes)})
    files = np.array([os.path.relpath(file, path) for file, _ in samples])
    cache = path.parent / f"{path.name}_{size}px.npz"
    images = read_cache(cache, files, classes)
    if images is None:
        images = decode_all(ImageFiles(path, files, size)).numpy()
        write_cache(cache, images, files, classes)
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return ImageSet(torch.from_numpy(images), labels, classes, name or path.name)


def read_cache(cache: Path, files: np.ndarray, classes: list[str]) -> np.ndarray | None:
    """The cached uint8 images of ``files``, or None when there is no cache or it lists other files/classes."""
    if not cache.is_file():
        return None
    with np.load(cache, allow_pickle=False) as stored:
        if list(stored["classes"]) != classes or not np.array_equal(stored["files"], files):
            return None
        return stored["images"]


def write_cache(cache: Path, images: np.ndarray, files: np.ndarray, classes: list[str]) -> None:
    """Store ``images`` with the file and class lists that identify them, atomically."""
    handle, temporary = tempfile.mkstemp(dir=cache.parent, prefix=f".{cache.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as output:
            np.savez(output, images=images, files=files, classes=np.array(classes))
        os.replace(temporary, cache)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load_tinyimagenet(root: str | Path, train: bool = True, download: bool = False) -> ImageSet:
    """TinyImageNet's train or (prepared) val split at 64x64; classes = sorted wnids of ``train/``.

    With ``download=True`` a missing folder is fetched from :data:`TINYIMAGENET_URL` first.
    """
    root = Path(root)
    if download and not (root / TINYIMAGENET_FOLDER).is_dir():
        fetch_archive(TINYIMAGENET_URL, root, TINYIMAGENET_FOLDER, md5=TINYIMAGENET_MD5)
    base = prepare_tinyimagenet(root)
    classes = find_classes(str(base / "train"))[0]
    part = base / ("train" if train else "val")
    return load_image_folder(part, TINYIMAGENET_SIZE, classes=classes, name="tinyimagenet")


def check_tinyimagenet(root: str | Path, download: bool) -> None:
    """Raise :class:`DataNotFoundError` (with the archive and the fix) unless TinyImageNet's folders are under
    ``root``; with ``download`` a missing folder is left to the loader, which fetches it."""
    if not (download or (Path(root) / TINYIMAGENET_FOLDER).is_dir()):
        prepare_tinyimagenet(root)


register_dataset(DatasetSource("tinyimagenet", 200, TINYIMAGENET_SIZE, 3, load=load_tinyimagenet, augment=True,
                               check=check_tinyimagenet, train_images_per_class=500))


def main(argv: list[str] | None = None) -> None:
    """``python -m arpl.data.folders tinyimagenet ROOT [--download]``: prepare and cache TinyImageNet."""
    parser = argparse.ArgumentParser(description="Prepare ImageFolder datasets and build their caches.")
    parser.add_argument("dataset", choices=["tinyimagenet"])
    parser.add_argument("root", type=Path, help="data root holding tiny-imagenet-200/")
    parser.add_argument("--download", action="store_true", help="fetch the archive if missing")
    arguments = parser.parse_args(argv)
    for train in (True, False):
        image_set = load_tinyimagenet(arguments.root, train, arguments.download)
        print(f"tinyimagenet {'train' if train else 'val'}: {len(image_set)} images, "
              f"{len(image_set.classes)} classes")


if __name__ == "__main__":
    main()
