"""Open-set data of one trial (Sec. 5.1): known classes for training and testing, unknowns for testing.

Known classes are relabelled 0..K-1 in the order of the split's list (the authors' loaders do the
same), unknown classes 0..U-1 in the order of theirs; each part keeps the source labels in
``ImageSet.original_labels``. Unknowns come from the same dataset's test set (MNIST, SVHN, CIFAR10,
TinyImageNet) or from another one (CIFAR+N: CIFAR100 test classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from arpl.data.imageset import ImageSet
from arpl.data.splits import OpenSetSplit


@dataclass
class OpenSetData:
    """The three image sets of one open-set trial and the split that defined them."""

    train_known: ImageSet
    test_known: ImageSet
    test_unknown: ImageSet
    split: OpenSetSplit

    @property
    def num_known(self) -> int:
        """K, the number of known classes (the classifier's outputs)."""
        return len(self.split.known)


def select_classes(image_set: ImageSet, classes: list[int]) -> ImageSet:
    """The images of ``classes``, labels remapped to their position in ``classes``, source labels kept. When every
    image is of one of ``classes`` (the all-class models), the images are the same tensor, not a copy."""
    _check_classes(image_set, classes)
    source_labels = image_set.labels
    lookup = torch.full((len(image_set.classes),), -1, dtype=torch.int64)
    lookup[torch.tensor(classes, dtype=torch.int64)] = torch.arange(len(classes))
    new_labels = lookup[source_labels.cpu()].to(source_labels.device)
    index = torch.nonzero(new_labels >= 0).flatten()
    counts = torch.bincount(new_labels[index].cpu(), minlength=len(classes))
    empty = [classes[i] for i in range(len(classes)) if counts[i] == 0]
    if empty:
        raise ValueError(f"{image_set.name}: no images of class(es) {empty}; check the split and the "
                         f"per-class subset sizes")
    original = image_set.original_labels if image_set.original_labels is not None else source_labels
    names = [image_set.classes[c] for c in classes]
    if len(index) == len(new_labels):
        return ImageSet(image_set.images, new_labels, names, image_set.name, original)
    return ImageSet(image_set.images[index], new_labels[index], names, image_set.name, original[index])


def _check_classes(image_set: ImageSet, classes: list[int]) -> None:
    if len(set(classes)) != len(classes):
        raise ValueError(f"class list {classes} repeats a class")
    bad = [c for c in classes if not 0 <= c < len(image_set.classes)]
    if bad:
        raise ValueError(f"class indices {bad} do not exist in {image_set.name} ({len(image_set.classes)} "
                         f"classes); for CIFAR+N pass the CIFAR100 test set as unknown_test")


def make_open_set(train: ImageSet, test: ImageSet, split: OpenSetSplit,
                  unknown_test: ImageSet | None = None) -> OpenSetData:
    """Build one trial: known classes of ``train``/``test``; unknowns from ``unknown_test`` if given
    (CIFAR+N: CIFAR100's test set), else from ``test``."""
    if unknown_test is None and set(split.known) & set(split.unknown):
        raise ValueError(f"split {split.source} lists classes {sorted(set(split.known) & set(split.unknown))} "
                         f"as both known and unknown; if the unknowns come from another dataset (CIFAR+N: CIFAR100), "
                         f"pass its test set as unknown_test")
    return OpenSetData(
        train_known=select_classes(train, split.known),
        test_known=select_classes(test, split.known),
        test_unknown=select_classes(unknown_test if unknown_test is not None else test, split.unknown),
        split=split,
    )


def per_class_subset(image_set: ImageSet, per_class: int | None, seed: int = 0) -> ImageSet:
    """A stratified random subset: ``per_class`` images of every class (all of a smaller class),
    in their original order; deterministic given ``seed``. ``None`` returns the set unchanged."""
    if per_class is None:
        return image_set
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1 (or None for all), got {per_class}")
    rng = np.random.default_rng(seed)
    labels = image_set.labels.cpu().numpy()
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        chosen.append(members[rng.permutation(len(members))[:per_class]])
    return image_set.subset(np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64))
