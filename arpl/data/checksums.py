"""Integrity checks of the raw data files, so that nothing is ever trained on partial data.

What is checked, per dataset (the paper's Sec. 5.1 data; Fashion-MNIST is this project's default):

- ``fashion-mnist``: md5 of the four *decompressed* idx files (:data:`RAW_MD5`). Debian recompressed
  the ``.gz`` files of its ``dataset-fashion-mnist`` package, so only the decompressed bytes have a
  fixed checksum, whatever the source (Debian, torchvision download or a copy).
- ``mnist``, ``kmnist``: torchvision lists md5 only for the ``.gz`` archives and checks them while it
  downloads; the decompressed files carry no published md5. Here each idx file's header must agree
  with its size (a truncated or partly copied file fails).
- ``svhn``, ``cifar10``, ``cifar100``: torchvision's own md5 of every data file, copied from its
  dataset classes (``SVHN.split_list``, ``CIFAR10.train_list``/``test_list``/``meta``) into
  :data:`TORCHVISION_FILES`, so that no check imports torchvision; the same check torchvision's
  ``check_integrity`` makes, repeated here to name the bad file in the error.

Computed md5s are cached in memory by (path, inode, size, mtime), so checking again is free.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path


RAW_MD5: dict[str, dict[str, str]] = {
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

# torchvision's md5 lists (torchvision 0.29, torchvision.datasets): SVHN.split_list["train"/"test"] and
# CIFAR10/CIFAR100.train_list, .test_list and .meta, in torchvision's order, copied so that checking and reading
# these files needs no torchvision import (tests/test_native_readers.py compares them with torchvision's).
# Per dataset: "train" and "test" list the (file, md5) of each part, "meta" the files both parts need.
TORCHVISION_FILES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "svhn": {
        "train": [("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373")],
        "test": [("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3")],
        "meta": [],
    },
    "cifar10": {
        "train": [("data_batch_1", "c99cafc152244af753f735de768cd75f"),
                  ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
                  ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
                  ("data_batch_4", "634d18415352ddfa80567beed471001a"),
                  ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb")],
        "test": [("test_batch", "40351d587109b95175f43aff81a1287e")],
        "meta": [("batches.meta", "5ff9c542aee3614f3951f8cda6e48888")],
    },
    "cifar100": {
        "train": [("train", "16019d7e3df5f24257cddd939b257f8d")],
        "test": [("test", "f0ef6b0ae62326f3e7ffdfab6717acfc")],
        "meta": [("meta", "7973b15100ade9c7d40fb424638fde48")],
    },
}
# the folder of each under the data root: SVHN in the authors' layout, CIFAR in torchvision's base_folder
TORCHVISION_FOLDERS = {"svhn": "svhn", "cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}

IDX_FOLDERS = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST", "kmnist": "KMNIST"}
IDX_ITEM_BYTES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}

_MD5_CACHE: dict[tuple[str, int, int, int], str] = {}


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are nowhere to be found; the message lists the places tried and the fixes."""


class CorruptDataError(ValueError):
    """A data file exists but is damaged; the message names the file, what was expected and the fix."""


def md5sum(path: str | Path) -> str:
    """md5 hex digest of a file, cached in memory until the file's size or mtime changes."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _MD5_CACHE:
        digest = hashlib.md5()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _MD5_CACHE[key] = digest.hexdigest()
    return _MD5_CACHE[key]


def verify_md5(path: str | Path, expected: str, fix: str | None = None) -> None:
    """Raise :class:`CorruptDataError` unless ``path`` has md5 ``expected``."""
    actual = md5sum(path)
    if actual != expected:
        fix = fix or f"delete {path} and rerun the data stage (or the loader) to fetch it again"
        raise CorruptDataError(f"{path} is corrupt: md5 is {actual}, expected {expected}. Fix: {fix}.")


def idx_files(name: str, root: str | Path, train: bool | None = None) -> list[Path]:
    """Paths of the raw idx files of an MNIST-like dataset under ``root/<Class>/raw/``.

    ``train=None`` gives all four files, otherwise the image and label file of that part.
    """
    if name not in IDX_FOLDERS:
        raise ValueError(f"{name!r} is not an idx dataset; use one of {sorted(IDX_FOLDERS)}")
    prefixes = ["train", "t10k"] if train is None else (["train"] if train else ["t10k"])
    raw = Path(root) / IDX_FOLDERS[name] / "raw"
    return [raw / f"{prefix}-{kind}" for prefix in prefixes for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]


def verify_idx_size(path: str | Path) -> None:
    """Raise :class:`CorruptDataError` unless the idx header of ``path`` matches the file's size."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        header = handle.read(4)
        if len(header) < 4 or header[0] != 0 or header[1] != 0 or header[2] not in IDX_ITEM_BYTES:
            raise CorruptDataError(f"{path} is not an idx file (bad magic number {header.hex()}). "
                                   f"Fix: delete {path} and rerun the data stage.")
        dims = [int.from_bytes(handle.read(4), "big") for _ in range(header[3])]
    expected = 4 + 4 * len(dims) + IDX_ITEM_BYTES[header[2]] * math.prod(dims)
    if size != expected:
        raise CorruptDataError(f"{path} is truncated or padded: {size} bytes, its header {dims} "
                               f"implies {expected}. Fix: delete {path} and rerun the data stage.")


def torchvision_files(name: str, root: str | Path, train: bool | None = None) -> list[tuple[Path, str]]:
    """(path, md5) of the data files torchvision checks for SVHN, CIFAR10 and CIFAR100 (:data:`TORCHVISION_FILES`):
    the files of the part (``train=None``: of both parts), then the meta file.

    SVHN lives in ``root/svhn/`` (the authors' layout), CIFAR in torchvision's own folders.
    """
    if name not in TORCHVISION_FILES:
        raise ValueError(f"{name!r} has no torchvision md5 list; use svhn, cifar10 or cifar100")
    parts = ["train", "test"] if train is None else ["train" if train else "test"]
    folder = Path(root) / TORCHVISION_FOLDERS[name]
    entries = [entry for part in [*parts, "meta"] for entry in TORCHVISION_FILES[name][part]]
    return [(folder / filename, md5) for filename, md5 in entries]


def expected_files(name: str, root: str | Path, train: bool | None = None) -> list[Path]:
    """Every raw file :func:`verify_files` checks for dataset ``name`` under ``root``."""
    if name in IDX_FOLDERS:
        return idx_files(name, root, train)
    return [path for path, _ in torchvision_files(name, root, train)]


def verify_files(name: str, root: str | Path, train: bool | None = None) -> None:
    """Check the raw files of dataset ``name`` under ``root`` (see the module docstring for how).

    Raises :class:`DataNotFoundError` naming missing files and :class:`CorruptDataError` naming the
    damaged file, its expected and actual md5 (or size) and the fix: delete it and rerun the data stage.
    """
    missing = [str(path) for path in expected_files(name, root, train) if not path.is_file()]
    if missing:
        raise DataNotFoundError(f"{name}: missing {', '.join(missing)}. Fix: rerun the data stage "
                                f"(with download: true on a machine with internet) or copy the files there.")
    if name == "fashion-mnist":
        for path in idx_files(name, root, train):
            verify_md5(path, RAW_MD5[name][path.name])
    elif name in IDX_FOLDERS:
        for path in idx_files(name, root, train):
            verify_idx_size(path)
    else:
        for path, md5 in torchvision_files(name, root, train):
            verify_md5(path, md5)

