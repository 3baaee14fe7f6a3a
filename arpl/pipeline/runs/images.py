"""From ``params.yaml`` to image sets: the training and test images of a profile, its open-set trials, its
all-class sets and its out-of-distribution sets (Sec. 5.1-5.3)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from arpl.data import DataNotFoundError, dataset_source
from arpl.data.imageset import ImageSet
from arpl.data.openset import OpenSetData, make_open_set, per_class_subset, select_classes
from arpl.data.registry import load_image_set
from arpl.data.splits import OpenSetSplit, open_set_split
from arpl.pipeline.runs import ALL_CLASSES, split_run

if TYPE_CHECKING:   # not at run time: the params module is no part of a run's code (arpl.code_identity)
    from arpl.pipeline.params import Params

OPTIONAL_OOD = ("mnist", "kmnist")  # OOD sets left out (not an error) when their files are absent


def base_dataset(params: Params) -> str:
    """The dataset whose images are trained on: ``data.dataset`` itself, except CIFAR+N (CIFAR10)."""
    name = params.data.dataset
    return dataset_source(name).images_of or name


def training_datasets(params: Params) -> list[str]:
    """The datasets whose files the training stages read: the base dataset and, for CIFAR+N, the one its unknown
    test images come from."""
    unknowns = dataset_source(params.data.dataset).unknowns_from
    return [base_dataset(params)] + ([unknowns] if unknowns else [])


def load_set(params: Params, name: str, train: bool, count: int | None = None) -> ImageSet:
    """Dataset ``name`` at the profile's image size and channels, from ``run.data_root`` (cached: the
    stages load the same set once per split); ``count`` images of a synthetic set (:func:`load_ood_set`)."""
    data = params.data
    return _cached_set(params.run.data_root, name, train, data.download, data.image_size,
                       data.channels, count)


def load_ood_set(params: Params, name: str) -> ImageSet:
    """Out-of-distribution set ``name`` (test part), with ``ood.noise_count`` images when it is generated."""
    count = params.ood.noise_count if dataset_source(name).synthetic else None
    return load_set(params, name, False, count)


@lru_cache(maxsize=4)
def _cached_set(root: str, name: str, train: bool, download: bool, size: int, channels: int,
                count: int | None) -> ImageSet:
    return load_image_set(name, root, train=train, download=download, size=size, channels=channels, count=count)


def train_test(params: Params) -> tuple[ImageSet, ImageSet]:
    """Training and test images of the base dataset, with the profile's per-class subsets (seeded)."""
    data, seed = params.data, params.run.seed
    train = per_class_subset(load_set(params, base_dataset(params), True), data.train_per_class, seed=seed)
    test = per_class_subset(load_set(params, base_dataset(params), False), data.test_per_class, seed=seed)
    return train, test


def with_train_subset(params: Params, per_class: int | None) -> Params:
    """``params`` with ``data.train_per_class`` set to ``per_class`` (None: unchanged): the figures, ablations
    and incremental stages train their many small models on a subset of their own size."""
    if per_class is None:
        return params
    return params.replace("data", train_per_class=per_class)


def trial_dataset(params: Params, num_known: int | None = None) -> str:
    """The dataset whose classes a trial splits: ``data.dataset``, except a run with its own number of known
    classes (Fig. 11, 12) on CIFAR+N, whose known classes are fixed by the authors' lists: it draws ``num_known``
    of CIFAR10's classes and takes CIFAR10's other classes as its unknowns."""
    if num_known is not None and dataset_source(params.data.dataset).images_of:
        return base_dataset(params)
    return params.data.dataset


def split_of(params: Params, index: int, num_known: int | None = None) -> OpenSetSplit:
    """The known/unknown classes of trial ``index`` (the authors' list ``index`` where one exists)."""
    dataset = trial_dataset(params, num_known)
    num_known = num_known or params.data.num_known
    return open_set_split(dataset, index, num_known=num_known, seed=params.run.seed)


def open_set(params: Params, index: int, num_known: int | None = None) -> OpenSetData:
    """The three image sets of trial ``index``: known training, known test, unknown test images."""
    train, test = train_test(params)
    split = split_of(params, index, num_known)
    unknowns = dataset_source(trial_dataset(params, num_known)).unknowns_from
    unknown_test = None
    if unknowns is not None:
        unknown_test = per_class_subset(load_set(params, unknowns, False), params.data.test_per_class,
                                        seed=params.run.seed)
    return make_open_set(train, test, split, unknown_test)


def all_classes(params: Params) -> tuple[ImageSet, ImageSet]:
    """Training and test images of every class (the closed-set / OOD in-distribution model)."""
    train, test = train_test(params)
    classes = list(range(dataset_source(base_dataset(params)).num_classes))
    return select_classes(train, classes), select_classes(test, classes)


def available_ood_sets(params: Params) -> list[str]:
    """The OOD sets of ``ood.sets`` that can be used: generated and packaged sets always, MNIST/KMNIST
    (:data:`OPTIONAL_OOD`) only when their files are present (their absence is not an error)."""
    root = Path(params.run.data_root)
    available = []
    for name in params.ood.sets:
        if name in OPTIONAL_OOD:
            try:
                dataset_source(name).check(root, False)
            except DataNotFoundError:
                continue
        available.append(name)
    return available


def showcase(params: Params) -> tuple[str, OpenSetData]:
    """The run the stage figures show and its data: the first trial (``split<i>``) or, without trials, the
    all-class model (``all``) with the first OOD set as its unknowns (a generated one at its default size, so
    that the figures do not depend on ``ood.noise_count``)."""
    if params.data.splits:
        split = params.data.splits[0]
        return split_run(split), open_set(params, split)
    train, test = all_classes(params)
    unknown = load_set(params, available_ood_sets(params)[0], False)
    everything = list(range(len(train.classes)))
    return ALL_CLASSES, OpenSetData(train, test, unknown, OpenSetSplit(everything, [], "all classes"))
