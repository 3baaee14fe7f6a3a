"""Known/unknown class splits of the open-set protocol (Sec. 5.1).

The authors' lists (their ``split.py``) ship as ``arpl/data/splits.json``: five trials per dataset,
trial ``i`` uses list ``i`` (the authors' ``osr.py`` ran its trial ``i`` on list ``len - i - 1``: the means over
all five agree, a per-split comparison pairs our ``i`` with their ``4 - i``). MNIST, SVHN, CIFAR10: six known
classes, the other four unknown; CIFAR+10/+50: four known CIFAR10 classes, unknowns are 10/50 CIFAR100 classes;
TinyImageNet: twenty known of 200 (ImageFolder order), the rest unknown. Fashion-MNIST and KMNIST use the MNIST
lists (the protocol of the authors'-code anchors, ``arpl/anchors_fashion_mnist.csv``, see ``docs/anchors.md``).
Any other dataset or class count gets a seeded random split.
The lists repeat some known sets (SVHN 0/1, CIFAR10 0/1, CIFAR+N 1/2): :func:`duplicate_splits`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from arpl.data.registry import dataset_source

AUTHORS_KNOWN_LISTS = {
    "mnist": "mnist", "fashion-mnist": "mnist", "kmnist": "mnist", "svhn": "svhn", "cifar10": "cifar10",
    "cifar+10": "cifar10_known_for_cifar_plus", "cifar+50": "cifar10_known_for_cifar_plus",
    "tinyimagenet": "tinyimagenet",
}
AUTHORS_UNKNOWN_LISTS = {"cifar+10": "cifar+10_unknown_cifar100", "cifar+50": "cifar+50_unknown_cifar100"}


@dataclass(frozen=True)
class OpenSetSplit:
    """Known and unknown class indices of one trial; ``source`` says where the lists came from.

    For CIFAR+N the unknown indices are CIFAR100 classes, the known ones CIFAR10 classes.
    """

    known: list[int]
    unknown: list[int]
    source: str


@lru_cache(maxsize=1)
def _split_file() -> dict:
    return json.loads(resources.files("arpl.data").joinpath("splits.json").read_text(encoding="utf-8"))


def has_authors_splits(dataset: str) -> bool:
    """Whether the authors published known/unknown lists for ``dataset`` (else its trials are random splits)."""
    return dataset in AUTHORS_KNOWN_LISTS


def authors_splits(dataset: str) -> list[list[int]]:
    """The authors' known-class lists for ``dataset`` (a key of :data:`AUTHORS_KNOWN_LISTS`)."""
    if dataset not in AUTHORS_KNOWN_LISTS:
        raise ValueError(f"the authors published no splits for {dataset!r}; they exist for "
                         f"{', '.join(AUTHORS_KNOWN_LISTS)} (use random_split for others)")
    return [list(known) for known in _split_file()[AUTHORS_KNOWN_LISTS[dataset]]]


def authors_unknown_splits(dataset: str) -> list[list[int]]:
    """The authors' unknown lists of CIFAR+10 / CIFAR+50 (CIFAR100 class indices)."""
    if dataset not in AUTHORS_UNKNOWN_LISTS:
        raise ValueError(f"{dataset!r} has no unknown lists; only {', '.join(AUTHORS_UNKNOWN_LISTS)} do "
                         f"(elsewhere the unknowns are the classes not known)")
    return [list(unknown) for unknown in _split_file()[AUTHORS_UNKNOWN_LISTS[dataset]]]


def random_split(num_classes: int, num_known: int, seed: int, index: int = 0) -> OpenSetSplit:
    """A seeded random split: ``num_known`` known classes (random order), the others unknown (sorted).

    Trial ``index`` of ``seed`` is reproducible and differs from the other trials of that seed.
    """
    if not 1 <= num_known < num_classes:
        raise ValueError(f"num_known must be between 1 and {num_classes - 1} for {num_classes} classes, "
                         f"got {num_known}")
    permutation = np.random.default_rng([seed, index]).permutation(num_classes)
    known = [int(c) for c in permutation[:num_known]]
    unknown = sorted(int(c) for c in permutation[num_known:])
    return OpenSetSplit(known, unknown, f"random (seed {seed}, trial {index}, {num_known} of {num_classes})")


def open_set_split(dataset: str, index: int, num_known: int | None = None, seed: int = 0) -> OpenSetSplit:
    """Split ``index`` of ``dataset``: the authors' list ``index`` where one exists and ``num_known`` is
    None or equals its length, else :func:`random_split` (``num_known`` then required)."""
    num_classes = dataset_source(dataset).num_classes
    if dataset in AUTHORS_KNOWN_LISTS:
        lists = authors_splits(dataset)
        if num_known is None or num_known == len(lists[0]):
            return _authors_split(dataset, lists, index)
    if dataset in AUTHORS_UNKNOWN_LISTS:
        raise ValueError(f"{dataset} is defined by the authors' lists of 4 known CIFAR10 classes, got "
                         f"num_known={num_known}; drop num_known or use cifar10/cifar100 for other counts")
    if num_known is None:
        raise ValueError(f"{dataset!r} has no authors' splits: give num_known (1..{num_classes - 1})")
    if index < 0:
        raise ValueError(f"split index must be >= 0, got {index}")
    return random_split(num_classes, num_known, seed, index)


def _authors_split(dataset: str, lists: list[list[int]], index: int) -> OpenSetSplit:
    if not 0 <= index < len(lists):
        raise ValueError(f"split index {index} is out of range: {dataset} has {len(lists)} lists "
                         f"(indices 0..{len(lists) - 1})")
    known = lists[index]
    name = AUTHORS_KNOWN_LISTS[dataset]
    if dataset in AUTHORS_UNKNOWN_LISTS:
        unknown = authors_unknown_splits(dataset)[index]
        source = f"authors: {name}[{index}] + {AUTHORS_UNKNOWN_LISTS[dataset]}[{index}]"
    else:
        unknown = sorted(set(range(dataset_source(dataset).num_classes)) - set(known))
        source = f"authors: {name}[{index}]"
    return OpenSetSplit(list(known), unknown, source)


def duplicate_splits(dataset: str) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of the authors' splits of ``dataset`` whose known classes are the same set."""
    known_sets = [frozenset(known) for known in authors_splits(dataset)]
    return [(i, j) for i in range(len(known_sets)) for j in range(i + 1, len(known_sets))
            if known_sets[i] == known_sets[j]]
