"""Data of the paper's experiments (Sec. 5.1-5.3): sources, integrity checks, open-set splits,
transforms and on-device mini-batches. Images are uint8 [N, C, H, W]; batches are float32 in [0, 1]."""

from arpl.data.batches import Batches
from arpl.data.checksums import CorruptDataError, DataNotFoundError, verify_files
from arpl.data.folders import load_image_folder, load_tinyimagenet, prepare_tinyimagenet
from arpl.data.openset import OpenSetData, make_open_set, per_class_subset, select_classes
from arpl.data.sources import DATASETS, DatasetInfo, ImageSet, ensure_fashion_mnist, load_image_set
from arpl.data.splits import (OpenSetSplit, authors_splits, authors_unknown_splits, duplicate_splits,
                              open_set_split, random_split)
from arpl.data.transforms import AUGMENTATION, Augment, augment_for, to_size

__all__ = [
    "AUGMENTATION", "Augment", "Batches", "CorruptDataError", "DATASETS", "DataNotFoundError", "DatasetInfo",
    "ImageSet", "OpenSetData", "OpenSetSplit", "augment_for", "authors_splits", "authors_unknown_splits",
    "duplicate_splits", "ensure_fashion_mnist", "load_image_folder", "load_image_set", "load_tinyimagenet",
    "make_open_set", "open_set_split", "per_class_subset", "prepare_tinyimagenet", "random_split",
    "select_classes", "to_size", "verify_files",
]
