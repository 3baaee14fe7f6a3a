"""``python -m arpl download``: fetch the datasets a profile needs into ``data/downloads`` (a DVC stage).

Only what torchvision can fetch is fetched (MNIST, KMNIST, Fashion-MNIST, SVHN, CIFAR10/100, TinyImageNet's
archive, ImageNet-O); DomainNet and ImageNet-1K need manual steps (README, "Paper-scale data"); the default
Fashion-MNIST comes with the set-up instead (data.dvc). Without ``data.download: true``
nothing is fetched: the stage lists what is present and what is missing, and the data stage then stops with
the loader's message (what was tried, how to fix it). Data prepared by hand in another ``run.data_root``
(DomainNet, ImageNet-1K) is checked here, so a missing folder stops the pipeline at its first stage with
the fix.
"""

from __future__ import annotations

from pathlib import Path

from arpl.data import DataNotFoundError, dataset_source, load_image_set
from arpl.io import save_json
from arpl.profile_data import training_datasets

DOWNLOADS = Path("data/downloads")


def needed_datasets(params: dict) -> list[str]:
    """Datasets with files that the profile reads: the training set, CIFAR100 for CIFAR+N, the OOD sets with files
    to check (torchvision's, DomainNet's, ImageNet-O)."""
    with_files = [name for name in params["ood"]["sets"] if dataset_source(name).check is not None]
    names = training_datasets(params) + with_files
    return list(dict.fromkeys(names))


def download(params: dict, target: Path = DOWNLOADS) -> dict[str, str]:
    """Fetch (``data.download: true``) or just look for each needed dataset under ``target``; return a
    manifest ``{dataset: status}`` that is also written to ``target/manifest.json``."""
    target.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name in needed_datasets(params):
        root = Path(params["run"]["data_root"])
        if root.resolve() != target.resolve():
            source = dataset_source(name)
            if source.prepared_by_hand:  # stop here, with the fix, if it is not there
                source.check(root, params["data"]["download"])
            manifest[name] = f"read from {root} (run.data_root), not downloaded here"
            continue
        try:
            for train in (True, False):
                load_image_set(name, target, train=train, download=params["data"]["download"])
            manifest[name] = "present"
        except DataNotFoundError as error:
            manifest[name] = f"missing: {str(error).splitlines()[0]}"
    save_json(manifest, target / "manifest.json")
    return manifest
