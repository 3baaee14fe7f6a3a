"""What the data stage shows: one row per open-set trial (known and unknown classes, image counts) and sample
images of each trial's known and unknown test sets (Sec. 5.1-5.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from arpl.data import dataset_source
from arpl.data.files import decode_all
from arpl.data.splits import duplicate_splits
from arpl.pipeline.params import Params
from arpl.pipeline.runs.images import all_classes, available_ood_sets, load_set, open_set, with_train_subset
from arpl.pipeline.runs import ALL_CLASSES

if TYPE_CHECKING:
    import pandas as pd


def describe_splits(params: Params) -> pd.DataFrame:
    """One row per trial: known and unknown classes (by name) and image counts; with ``train.closed_set``
    a last row ``all`` for the all-class model, whose unknowns are the OOD sets."""
    import pandas as pd

    duplicates = {i for pair in _safe_duplicates(params.data.dataset) for i in pair}
    rows = []
    for split in params.data.splits:
        data = open_set(params, split)
        rows.append({"split": split, "known": ", ".join(data.train_known.classes),
                     "unknown": ", ".join(data.test_unknown.classes), "train images": len(data.train_known),
                     "test known": len(data.test_known), "test unknown": len(data.test_unknown),
                     "repeats another split": split in duplicates})
    if params.train.closed_set:
        train, test = all_classes(with_train_subset(params, params.train.closed_set_per_class))
        outs = available_ood_sets(params)
        read = [name for name in outs if not dataset_source(name).synthetic]  # generated: sized on the OOD page
        rows.append({"split": ALL_CLASSES, "known": f"all {len(train.classes)} classes",
                     "unknown": "OOD sets: " + ", ".join(name if name in read else f"{name} (generated)"
                                                         for name in outs),
                     "train images": len(train), "test known": len(test),
                     "test unknown": sum(len(load_set(params, name, False)) for name in read),
                     "repeats another split": False})
    return pd.DataFrame(rows)


def _safe_duplicates(dataset: str) -> list[tuple[int, int]]:
    try:
        return duplicate_splits(dataset)
    except ValueError:  # random splits: no published lists to compare
        return []


def _samples_of(params: Params, name: str, count: int):
    """The test images of OOD set ``name``; of a generated one, ``count`` (the first of any larger draw)."""
    return load_set(params, name, False, count if dataset_source(name).synthetic else None)


def sample_rows(params: Params, per_row: int = 10) -> list[tuple[str, torch.Tensor]]:
    """For each trial, a row of known and a row of unknown test images (for the data stage's grid); without
    trials, a row of the all-class test images and one per OOD set."""
    sets = []
    for split in params.data.splits:
        data = open_set(params, split)
        sets += [(f"split {split} known", data.test_known), (f"split {split} unknown", data.test_unknown)]
    if not sets:
        sets = [("all classes", all_classes(params)[1])]
        sets += [(f"OOD {name}", _samples_of(params, name, per_row)) for name in available_ood_sets(params)]
    rows = []
    for title, images in sets:
        step = max(1, len(images) // per_row)
        picked = images.images[::step][:per_row]
        rows.append((title, picked if isinstance(picked, torch.Tensor) else decode_all(picked, workers=0)))
    return rows
