"""Data of the paper's experiments (Sec. 5.1-5.3): dataset sources, integrity checks, open-set splits,
transforms and on-device mini-batches. Images are uint8 [N, C, H, W]; batches are float32 in [0, 1].

Importing this package registers the built-in dataset sources (:mod:`arpl.data.registry`): each module
imported below registers the sources it loads.
"""

# the modules that register the built-in sources, in the order error messages list them
from arpl.data import sources, folders, domainnet, imagenet, generated  # noqa: F401, I001
from arpl.data.batches import Batches
from arpl.data.checksums import CorruptDataError, DataNotFoundError, verify_files
from arpl.data.folders import load_image_folder, load_tinyimagenet, prepare_tinyimagenet
from arpl.data.imageset import ImageSet
from arpl.data.openset import OpenSetData, make_open_set, per_class_subset, select_classes
from arpl.data.registry import DATASETS, DatasetSource, dataset_source, load_image_set, register_dataset
from arpl.data.sources import ensure_fashion_mnist
from arpl.data.splits import (OpenSetSplit, authors_splits, authors_unknown_splits, duplicate_splits,
                              has_authors_splits, open_set_split, random_split)
from arpl.data.transforms import Augment, to_size

__all__ = [
    "Augment", "Batches", "CorruptDataError", "DATASETS", "DataNotFoundError", "DatasetSource", "ImageSet",
    "OpenSetData", "OpenSetSplit", "authors_splits", "authors_unknown_splits", "dataset_source", "duplicate_splits",
    "ensure_fashion_mnist", "has_authors_splits", "load_image_folder", "load_image_set", "load_tinyimagenet",
    "make_open_set", "open_set_split", "per_class_subset", "prepare_tinyimagenet", "random_split", "register_dataset",
    "select_classes", "to_size", "verify_files",
]
