"""The torchvision image sources of the paper's experiments (Sec. 5.1-5.3) as uint8 tensors in memory:
MNIST, SVHN, CIFAR10, CIFAR100 and CIFAR+10/+50 (Sec. 5.2), plus Fashion-MNIST and KMNIST; each registers
itself as a :class:`~arpl.data.registry.DatasetSource` (load them with :func:`arpl.data.load_image_set`).

torchvision's dataset classes download every set (``download=True``); the local files are read here directly,
into the same arrays torchvision's classes make of them: the IDX files of the MNIST-format sets (Fashion-MNIST,
MNIST, KMNIST), the pickled batches of CIFAR10 and CIFAR100 and the ``.mat`` files of SVHN. Importing torchvision
takes seconds in every process that loads data, so it is imported only to download. Fashion-MNIST, this project's
default data, is resolved by :func:`ensure_fashion_mnist`: the files already under ``root``, else Debian's
``dataset-fashion-mnist`` package, else a torchvision download; every load verifies the md5 of the decompressed
files (:mod:`arpl.data.checksums`).
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import struct
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import torch

from arpl.data import checksums
from arpl.data.checksums import CorruptDataError, DataNotFoundError
from arpl.data.imageset import ImageSet
from arpl.data.registry import DatasetSource, register_dataset

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
APT_HINT = "sudo apt-get install dataset-fashion-mnist"

# torchvision class (in torchvision.datasets) and raw folder (under run.data_root) of each source
TORCHVISION_SETS = {
    "fashion-mnist": ("FashionMNIST", "FashionMNIST/raw"),
    "mnist": ("MNIST", "MNIST/raw"),
    "kmnist": ("KMNIST", "KMNIST/raw"),
    "svhn": ("SVHN", "svhn"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py"),
    "cifar100": ("CIFAR100", "cifar-100-python"),
}
# The class names of the MNIST-format sets, as torchvision's classes name them (tests/test_data_sources.py checks)
MNIST_FORMAT_CLASSES = {
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"],
    "mnist": ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
              "8 - eight", "9 - nine"],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
}
# The meta file's key of the class names (torchvision's CIFAR10.meta["key"], CIFAR100.meta["key"])
CIFAR_CLASS_KEYS = {"cifar10": "label_names", "cifar100": "fine_label_names"}


def load_torchvision_set(name: str, root: Path, train: bool, download: bool) -> ImageSet:
    """Dataset ``name`` of :data:`TORCHVISION_SETS` at its native size (Fashion-MNIST via
    :func:`ensure_fashion_mnist`, the others from local files, else a torchvision download if allowed), read as
    torchvision's class of that name reads it."""
    if name == "fashion-mnist":
        ensure_fashion_mnist(root, download)
        return read_mnist_format(name, root, train)
    return _load_torchvision(name, root, train, download)


def read_mnist_format(name: str, root: Path, train: bool) -> ImageSet:
    """One part of an MNIST-format set of :data:`MNIST_FORMAT_CLASSES` from its IDX files under ``root`` (as
    torchvision's ``MNIST`` reads them: images uint8 [N, 1, 28, 28], labels int64)."""
    folder, prefix = Path(root) / TORCHVISION_SETS[name][1], "train" if train else "t10k"
    images = torch.from_numpy(_read_idx(folder / f"{prefix}-images-idx3-ubyte"))
    labels = torch.from_numpy(_read_idx(folder / f"{prefix}-labels-idx1-ubyte").astype(np.int64))
    return ImageSet(images.unsqueeze(1).contiguous(), labels, list(MNIST_FORMAT_CLASSES[name]), name)


def read_cifar(name: str, root: Path, train: bool) -> ImageSet:
    """One part of ``cifar10`` or ``cifar100`` from its pickled batches under ``root``, as torchvision's ``CIFAR10``
    and ``CIFAR100`` read them (torchvision/datasets/cifar.py): each batch's ``data`` rows stacked into uint8
    [N, 3, 32, 32], its ``labels`` (CIFAR100: ``fine_labels``) as int64, the class names from the meta file."""
    folder, files = Path(root) / TORCHVISION_SETS[name][1], checksums.TORCHVISION_FILES[name]
    data, labels = [], []
    for filename, _ in files["train" if train else "test"]:
        entry = _unpickle(folder / filename)
        data.append(entry["data"])
        labels.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
    [(meta_filename, _)] = files["meta"]
    classes = list(_unpickle(folder / meta_filename)[CIFAR_CLASS_KEYS[name]])
    images = torch.from_numpy(np.vstack(data).reshape(-1, 3, 32, 32))
    return ImageSet(images, torch.as_tensor(labels, dtype=torch.int64), classes, name)


def _unpickle(path: Path) -> dict:
    """A CIFAR batch or meta file (Python 2 pickles, hence latin1, as torchvision loads them)."""
    with open(path, "rb") as handle:
        return pickle.load(handle, encoding="latin1")


def read_svhn(root: Path, train: bool) -> ImageSet:
    """One part of SVHN from ``root/svhn/{train,test}_32x32.mat``, as torchvision's ``SVHN`` reads it
    (torchvision/datasets/svhn.py): ``X`` (H, W, C, N) transposed to uint8 [N, C, H, W], ``y`` as int64 with
    SVHN's label 10 (the digit 0) made 0; the classes are the digits "0" to "9"."""
    import scipy.io  # here, as in torchvision: importing it takes 0.15 s

    [(filename, _)] = checksums.TORCHVISION_FILES["svhn"]["train" if train else "test"]
    loaded = scipy.io.loadmat(Path(root) / TORCHVISION_SETS["svhn"][1] / filename)
    labels = loaded["y"].astype(np.int64).squeeze()
    np.place(labels, labels == 10, 0)
    images = np.ascontiguousarray(np.transpose(loaded["X"], (3, 2, 0, 1)))
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels), [str(digit) for digit in range(10)], "svhn")


def _read_idx(path: Path) -> np.ndarray:
    """A uint8 array in the IDX format (two zero bytes, the type 0x08, the rank, each size as a big-endian int32,
    then the values)."""
    data = path.read_bytes()
    if data[:3] != b"\x00\x00\x08":
        raise CorruptDataError(f"{path} is no IDX file of bytes; delete it and fetch it again")
    rank = data[3]
    shape = struct.unpack(f">{rank}i", data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape).copy()


def check_torchvision_set(name: str, root: Path, download: bool) -> None:
    """Verify the raw files of ``name`` (both parts) without loading them; Fashion-MNIST may still be
    decompressed from Debian's package or downloaded (``download``)."""
    if name == "fashion-mnist":
        ensure_fashion_mnist(root, download)
    else:
        checksums.verify_files(name, root)


def _load_torchvision(name: str, root: Path, train: bool, download: bool) -> ImageSet:
    """Local files under ``root`` first, then a torchvision download if allowed; then verify and read them
    (without torchvision). With ``download``, files left damaged by an interrupted download or extraction are
    deleted and fetched again."""
    if download:
        _discard_damaged(name, root, train)
    missing = [path for path in checksums.expected_files(name, root, train) if not path.is_file()]
    if missing:
        if not download:
            raise DataNotFoundError(_not_found_message(name, root, missing, "not attempted (download: false)"))
        try:
            _construct(name, root, train)
        except (RuntimeError, OSError) as error:
            raise DataNotFoundError(_not_found_message(name, root, missing, f"failed: {error}")) from error
    checksums.verify_files(name, root, train)
    if name in MNIST_FORMAT_CLASSES:
        return read_mnist_format(name, root, train)
    if name == "svhn":
        return read_svhn(root, train)
    return read_cifar(name, root, train)


def _discard_damaged(name: str, root: Path, train: bool) -> None:
    """Delete the raw files of one part of ``name`` if any of them fails its check, so that torchvision (which
    takes a file that exists for complete) fetches or unpacks them again."""
    files = checksums.expected_files(name, root, train)
    try:
        if all(path.is_file() for path in files):
            checksums.verify_files(name, root, train)
    except CorruptDataError:
        for path in files:
            path.unlink(missing_ok=True)


def _construct(name: str, root: Path, train: bool):
    """torchvision's dataset class of ``name`` constructed with ``download=True``: it fetches the missing files."""
    import torchvision

    cls = getattr(torchvision.datasets, TORCHVISION_SETS[name][0])
    if name == "svhn":
        return cls(str(root / "svhn"), split="train" if train else "test", download=True)
    return cls(str(root), train=train, download=True)


def _not_found_message(name: str, root: Path, missing: list[Path], download_note: str) -> str:
    folder = root / TORCHVISION_SETS[name][1]
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
            _construct("fashion-mnist", root, train=True)
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


def _torchvision_source(name: str, num_classes: int, size: int, channels: int, augment: bool,
                        per_class: int) -> DatasetSource:
    return DatasetSource(name, num_classes, size, channels, load=partial(load_torchvision_set, name),
                         check=partial(check_torchvision_set, name), augment=augment, ood=True,
                         train_images_per_class=per_class)


def _cifar_plus_source(name: str) -> DatasetSource:
    """CIFAR+N (Sec. 5.2): four known CIFAR10 classes; the unknowns are N CIFAR100 classes (the authors' lists)."""
    return DatasetSource(name, 10, 32, 3, load=partial(load_torchvision_set, "cifar10"), augment=True,
                         images_of="cifar10", unknowns_from="cifar100", train_images_per_class=5000)


# per_class: the published training-set size / classes, for estimates only (SVHN: 73,257 / 10, uneven classes)
register_dataset(_torchvision_source("fashion-mnist", 10, 28, 1, augment=False, per_class=6000))
register_dataset(_torchvision_source("mnist", 10, 28, 1, augment=False, per_class=6000))
register_dataset(_torchvision_source("kmnist", 10, 28, 1, augment=False, per_class=6000))
register_dataset(_torchvision_source("svhn", 10, 32, 3, augment=True, per_class=7326))
register_dataset(_torchvision_source("cifar10", 10, 32, 3, augment=True, per_class=5000))
register_dataset(_cifar_plus_source("cifar+10"))
register_dataset(_cifar_plus_source("cifar+50"))
register_dataset(_torchvision_source("cifar100", 100, 32, 3, augment=True, per_class=500))
