"""The authors' known/unknown lists, their duplicates, and seeded random splits (Sec. 5.1)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from arpl.data.splits import authors_splits, authors_unknown_splits, duplicate_splits, open_set_split, random_split

# Literal copies from the authors' split.py (and anchors/README.md for the MNIST lists).
MNIST_LISTS = [[2, 4, 5, 9, 8, 3], [3, 2, 6, 9, 4, 0], [5, 8, 3, 2, 4, 6], [3, 7, 8, 4, 0, 5], [6, 3, 4, 9, 8, 2]]
CIFAR10_LISTS = [[0, 6, 4, 9, 1, 7], [7, 6, 4, 9, 0, 1], [1, 5, 7, 3, 9, 4], [8, 6, 1, 9, 0, 7], [2, 4, 1, 7, 9, 6]]
CIFAR_PLUS_KNOWN = [[4, 7, 9, 1], [6, 7, 1, 9], [9, 6, 1, 7], [6, 4, 9, 1], [1, 0, 9, 8]]


def split_file() -> dict:
    return json.loads(resources.files("arpl.data").joinpath("splits.json").read_text())


@pytest.mark.parametrize("dataset, key", [
    ("mnist", "mnist"), ("svhn", "svhn"), ("cifar10", "cifar10"), ("tinyimagenet", "tinyimagenet"),
    ("cifar+10", "cifar10_known_for_cifar_plus"), ("cifar+50", "cifar10_known_for_cifar_plus"),
])
def test_known_lists_equal_the_json_file(dataset, key):
    assert authors_splits(dataset) == split_file()[key]
    assert len(authors_splits(dataset)) == 5


def test_literal_copies():
    assert authors_splits("mnist") == MNIST_LISTS
    assert authors_splits("cifar10") == CIFAR10_LISTS
    assert authors_splits("cifar+10") == CIFAR_PLUS_KNOWN
    assert authors_unknown_splits("cifar+10")[0] == [30, 25, 1, 9, 8, 0, 46, 52, 49, 71]


def test_fashion_mnist_and_kmnist_use_the_mnist_lists_in_order():
    for dataset in ("fashion-mnist", "kmnist"):
        for index, known in enumerate(MNIST_LISTS):
            split = open_set_split(dataset, index)
            assert split.known == known
            assert split.unknown == sorted(set(range(10)) - set(known))
            assert split.source == f"authors: mnist[{index}]"


def test_cifar_plus_unknowns_are_cifar100_lists():
    file = split_file()
    for n in (10, 50):
        for index in range(5):
            split = open_set_split(f"cifar+{n}", index)
            assert split.known == CIFAR_PLUS_KNOWN[index]
            assert split.unknown == file[f"cifar+{n}_unknown_cifar100"][index]
            assert len(split.unknown) == n


def test_tinyimagenet_twenty_known_rest_unknown():
    split = open_set_split("tinyimagenet", 3)
    assert len(split.known) == 20 and len(split.unknown) == 180
    assert sorted(split.known + split.unknown) == list(range(200))


def test_duplicates_are_reported():
    assert duplicate_splits("svhn") == [(0, 1)]
    assert duplicate_splits("cifar10") == [(0, 1)]
    assert duplicate_splits("cifar+10") == [(1, 2)] and duplicate_splits("cifar+50") == [(1, 2)]
    assert duplicate_splits("mnist") == [] and duplicate_splits("tinyimagenet") == []


def test_index_out_of_range_names_the_number_of_lists():
    with pytest.raises(ValueError, match="5 lists"):
        open_set_split("cifar10", 5)
    with pytest.raises(ValueError, match="5 lists"):
        open_set_split("mnist", -1)


def test_random_split_is_seeded():
    first = random_split(100, 50, seed=3, index=1)
    assert first == random_split(100, 50, seed=3, index=1)
    assert first.known != random_split(100, 50, seed=4, index=1).known
    assert first.known != random_split(100, 50, seed=3, index=2).known
    assert len(first.known) == 50 and sorted(first.known + first.unknown) == list(range(100))
    assert first.unknown == sorted(first.unknown)


def test_other_datasets_and_counts_get_random_splits():
    split = open_set_split("cifar100", 2, num_known=20, seed=1)
    assert split == random_split(100, 20, seed=1, index=2) and split.source.startswith("random")
    custom = open_set_split("fashion-mnist", 0, num_known=4)
    assert len(custom.known) == 4 and custom.source.startswith("random")
    assert open_set_split("fashion-mnist", 0, num_known=6).source == "authors: mnist[0]"


def test_bad_requests_are_explained():
    with pytest.raises(ValueError, match="num_known"):
        open_set_split("cifar100", 0)
    with pytest.raises(ValueError, match="num_known"):
        random_split(10, 10, seed=0)
    with pytest.raises(ValueError, match="unknown dataset"):
        open_set_split("imagenet", 0)
    with pytest.raises(ValueError, match="4 known"):
        open_set_split("cifar+10", 0, num_known=3)
    with pytest.raises(ValueError, match="no authors' splits|published no splits"):
        authors_splits("cifar100")
