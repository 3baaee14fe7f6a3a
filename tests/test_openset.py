"""Open-set data of one trial: known classes relabelled in split order, unknowns, stratified subsets."""

from __future__ import annotations

import pytest
import torch

from arpl.data.imageset import ImageSet
from arpl.data.openset import make_open_set, per_class_subset, select_classes
from arpl.data.splits import OpenSetSplit, open_set_split


def toy_set(num_classes: int = 10, per_class: int = 5, name: str = "toy") -> ImageSet:
    """Image i is filled with the value i (mod 256), so selections can be traced back."""
    labels = torch.arange(num_classes).repeat(per_class)
    count = len(labels)
    images = (torch.arange(count) % 256).to(torch.uint8).view(count, 1, 1, 1).expand(count, 1, 4, 4).contiguous()
    return ImageSet(images, labels, [f"c{i}" for i in range(num_classes)], name)


def test_known_classes_remapped_in_split_order():
    train, test = toy_set(per_class=5), toy_set(per_class=2)
    split = open_set_split("mnist", 0)  # known 2 4 5 9 8 3
    data = make_open_set(train, test, split)
    assert data.num_known == 6
    assert len(data.train_known) == 30 and len(data.test_known) == 12 and len(data.test_unknown) == 8
    for part in (data.train_known, data.test_known):
        assert torch.equal(torch.tensor(split.known)[part.labels], part.original_labels)
        assert part.classes == [f"c{c}" for c in split.known]
        assert set(part.labels.tolist()) == set(range(6))
    assert set(data.test_unknown.original_labels.tolist()) == set(split.unknown)
    assert torch.equal(torch.tensor(split.unknown)[data.test_unknown.labels], data.test_unknown.original_labels)
    first = data.train_known
    assert torch.equal(train.labels[first.images[:, 0, 0, 0].long()], first.original_labels)


def test_selecting_every_class_keeps_the_images_without_a_copy():
    """The all-class models select every class: the same image tensor, labels remapped by the given order."""
    images = toy_set(num_classes=4, per_class=3)
    same = select_classes(images, [0, 1, 2, 3])
    assert same.images is images.images and torch.equal(same.labels, images.labels)
    swapped = select_classes(images, [1, 0, 2, 3])
    assert swapped.images is images.images and swapped.classes == ["c1", "c0", "c2", "c3"]
    assert torch.equal(swapped.original_labels, images.labels)
    assert torch.equal(torch.tensor([1, 0, 2, 3])[swapped.labels], images.labels)
    part = select_classes(images, [2, 0])
    assert part.images.data_ptr() != images.images.data_ptr() and len(part) == 6


def test_unknowns_from_another_set():
    cifar10, cifar100 = toy_set(10, 3), toy_set(100, 1, name="cifar100")
    split = open_set_split("cifar+10", 0)
    data = make_open_set(cifar10, cifar10, split, unknown_test=cifar100)
    assert len(data.test_unknown) == 10 and data.test_unknown.name == "cifar100"
    assert sorted(data.test_unknown.original_labels.tolist()) == sorted(split.unknown)
    assert data.test_unknown.classes == [f"c{c}" for c in split.unknown]
    with pytest.raises(ValueError, match="unknown_test"):
        make_open_set(cifar10, cifar10, split)


def test_bad_splits_are_rejected():
    toy = toy_set()
    with pytest.raises(ValueError, match="both known and unknown"):
        make_open_set(toy, toy, OpenSetSplit([0, 1], [1, 2], "test"))
    with pytest.raises(ValueError, match="repeats"):
        select_classes(toy, [1, 1])
    with pytest.raises(ValueError, match="no images"):
        select_classes(toy.subset(torch.nonzero(toy.labels != 3).flatten()), [3, 4])


def test_per_class_subset_is_stratified_and_deterministic():
    toy = toy_set(per_class=20)
    part = per_class_subset(toy, 7, seed=5)
    assert torch.bincount(part.labels).tolist() == [7] * 10
    assert torch.equal(part.images, per_class_subset(toy, 7, seed=5).images)
    assert not torch.equal(part.images, per_class_subset(toy, 7, seed=6).images)
    positions = part.images[:, 0, 0, 0].long()
    assert torch.all(positions[1:] > positions[:-1])  # original order kept
    assert per_class_subset(toy, None) is toy
    assert len(per_class_subset(toy, 50)) == len(toy)
    with pytest.raises(ValueError, match="per_class"):
        per_class_subset(toy, 0)
