"""DomainNet (Peng et al. 2019) for the semantic / non-semantic shift experiment (Sec. 5.5.2, Table 5).

Layout under the data root, as the DomainNet archives and image lists unpack::

    domainnet/real/<class>/<image>.jpg          (also clipart/, quickdraw/)
    domainnet/real_train.txt                     lines "real/<class>/<image>.jpg <label>"
    domainnet/real_test.txt                      (also clipart_*.txt, quickdraw_*.txt)

Labels 0..344 index the sorted class folders (ImageFolder order); the loader checks that. The paper
splits the classes into A = 0..172 and B = 173..334 (its text; classes 335..344 belong to neither) and
names a set ``<domain>-<half>``: real-A is in-distribution, real-B has a semantic shift, clipart-A and
quickdraw-A a non-semantic shift, clipart-B and quickdraw-B both. Images are centre-cropped to a square
and resized to 80x80, as in the paper, decoded once in parallel and cached beside the lists
(``domainnet/<domain>_<part>_<half>_80px.npz``).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch

from arpl.data.checksums import DataNotFoundError
from arpl.data.files import ImageFiles, decode_all
from arpl.data.folders import read_cache, write_cache
from arpl.data.imageset import ImageSet
from arpl.data.registry import DatasetSource, register_dataset

FOLDER = "domainnet"
DOMAINS = ("real", "clipart", "quickdraw")  # the three domains of Table 5
NUM_CLASSES = 345
HALVES = {"A": range(0, 173), "B": range(173, 335)}  # class labels of each half (Sec. 5.5.2)
SIZE = 80
PAGE = "https://ai.bu.edu/M3SDA/"
# Training images per class of the real domain, for estimates only: the official real_train.txt has about 120,900
# lines over 345 classes (not derived here: the lists are not part of this repository).
REAL_TRAIN_PER_CLASS = 350


def dataset_name(domain: str, half: str) -> str:
    """``domainnet-<domain>-<half>``, the name of one DomainNet set in ``params.yaml``."""
    return f"domainnet-{domain}-{half}"


def parse_name(name: str) -> tuple[str, str]:
    """``domainnet-clipart-B`` -> ("clipart", "B"); a ValueError lists the valid names."""
    parts = name.split("-")
    if len(parts) != 3 or parts[0] != "domainnet" or parts[1] not in DOMAINS or parts[2] not in HALVES:
        valid = ", ".join(dataset_name(d, h) for d in DOMAINS for h in HALVES)
        raise ValueError(f"unknown DomainNet set {name!r}; use one of {valid}")
    return parts[1], parts[2]


def load_domainnet(name: str, root: str | Path, train: bool = True, size: int = SIZE) -> ImageSet:
    """One DomainNet set (e.g. ``domainnet-real-A``): the training or test list of its domain, restricted
    to its half of the classes, relabelled 0..n-1, as uint8 [N, 3, size, size] (cached after the first load).
    Raises :class:`DataNotFoundError` naming the missing folder or list and where to get it."""
    domain, half = parse_name(name)
    base = Path(root) / FOLDER
    part = "train" if train else "test"
    classes = domain_classes(base, domain)
    files, labels = read_list(base / f"{domain}_{part}.txt", classes)
    keep = np.isin(labels, np.asarray(HALVES[half]))
    files, labels = files[keep], labels[keep] - HALVES[half].start
    cache = base / f"{domain}_{part}_{half}_{size}px.npz"
    images = read_cache(cache, files, classes)
    if images is None:
        images = decode_all(ImageFiles(base, files, size, crop_fraction=1.0)).numpy()
        write_cache(cache, images, files, classes)
    half_classes = [classes[i] for i in HALVES[half]]
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)), half_classes, name)


def domain_classes(base: Path, domain: str) -> list[str]:
    """The 345 class folders of ``domain``, sorted (the index of a class is its DomainNet label)."""
    folder = base / domain
    if not folder.is_dir():
        raise DataNotFoundError(f"DomainNet domain {domain!r} not found: {folder} does not exist. Fix: download "
                                f"{domain}.zip and the image lists {domain}_train.txt, {domain}_test.txt from {PAGE} "
                                f"and unzip the archive into {base}, then run `python -m arpl prepare-domainnet {base.parent}` "
                                f"(see the README, 'Paper-scale data').")
    classes = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
    if len(classes) != NUM_CLASSES:
        raise DataNotFoundError(f"{folder} holds {len(classes)} class folders, DomainNet has {NUM_CLASSES}. Fix: "
                                f"unzip {domain}.zip from {PAGE} again into {base}")
    return classes


def read_list(path: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Files (relative to the ``domainnet`` folder) and labels of an image list; checks that each label
    is the index of the file's class folder."""
    if not path.is_file():
        raise DataNotFoundError(f"DomainNet image list {path} not found. Fix: download {path.name} from {PAGE} into "
                                f"{path.parent}")
    entries = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if not entries or any(len(entry) != 2 for entry in entries):
        raise ValueError(f"{path} must hold lines '<domain>/<class>/<image> <label>'. "
                         f"Fix: download it again from {PAGE}")
    files = np.array([entry[0] for entry in entries])
    labels = np.array([int(entry[1]) for entry in entries], dtype=np.int64)
    index = {name: i for i, name in enumerate(classes)}
    folder_labels = np.array([index.get(file.split("/")[1], -1) for file in files])
    wrong = np.flatnonzero(folder_labels != labels)
    if len(wrong):
        raise ValueError(f"{path}: {len(wrong)} lines give a label that is not their class folder's index in sorted "
                         f"order (first: {entries[wrong[0]]}); the list does not belong to these folders.")
    return files, labels


def prepare_domainnet(root: str | Path) -> list[str]:
    """Check every DomainNet set the paper uses and build its 80 px caches; one line per set and part."""
    lines = []
    for domain in DOMAINS:
        for half in HALVES:
            for train in (True, False):
                image_set = load_domainnet(dataset_name(domain, half), root, train)
                lines.append(f"{image_set.name} {'train' if train else 'test'}: {len(image_set)} images, "
                             f"{len(image_set.classes)} classes")
    return lines


def check_domainnet(name: str, root: Path, download: bool) -> None:
    """Raise :class:`DataNotFoundError` (with the fix) unless the class folders and both image lists of the
    domain of ``name`` exist; cheap, unlike loading them."""
    domain, _ = parse_name(name)
    classes = domain_classes(Path(root) / FOLDER, domain)
    for part in ("train", "test"):
        read_list(Path(root) / FOLDER / f"{domain}_{part}.txt", classes)


def _load(name: str, root: Path, train: bool, download: bool) -> ImageSet:
    return load_domainnet(name, root, train)


def _source(domain: str, half: str) -> DatasetSource:
    """One DomainNet set: Table 5 trains on real-A (augmented like CIFAR); the other five are OOD sets."""
    name, in_distribution = dataset_name(domain, half), (domain, half) == ("real", "A")
    return DatasetSource(name, len(HALVES[half]), SIZE, 3, load=partial(_load, name), check=partial(check_domainnet, name),
                         augment=in_distribution, open_set=in_distribution, ood=not in_distribution,
                         prepared_by_hand=True,
                         train_images_per_class=REAL_TRAIN_PER_CLASS if domain == "real" else None)


for _domain in DOMAINS:
    for _half in HALVES:
        register_dataset(_source(_domain, _half))
