"""``python -m arpl download``: fetch the datasets a profile needs into ``data/downloads`` (a DVC stage).

Only what torchvision can fetch is fetched (MNIST, KMNIST, Fashion-MNIST, SVHN, CIFAR10/100, TinyImageNet's
archive, ImageNet-O); DomainNet and ImageNet-1K need manual steps (README, "Paper-scale data"); the default
Fashion-MNIST comes with the set-up instead (data.dvc). Without ``data.download: true`` nothing is fetched.
Whatever is still missing afterwards (a failed download, ``download: false``, data prepared by hand in another
``run.data_root``) stops the pipeline here, in its first stage, with every missing dataset named beside its
fix; MNIST/KMNIST as optional OOD sets are only recorded as missing in ``manifest.json``.
"""

from __future__ import annotations

from pathlib import Path

from arpl.data import DataNotFoundError, dataset_source, load_image_set
from arpl.atomic import save_json
from arpl.pipeline.params import Params
from arpl.pipeline.runs.images import OPTIONAL_OOD, training_datasets

DOWNLOADS = Path("data/downloads")


def needed_datasets(params: Params) -> list[str]:
    """Datasets with files that the profile reads: the training set, CIFAR100 for CIFAR+N, the OOD sets with files
    to check (torchvision's, DomainNet's, ImageNet-O)."""
    with_files = [name for name in params.ood.sets if dataset_source(name).check is not None]
    names = training_datasets(params) + with_files
    return list(dict.fromkeys(names))


def download(params: Params, target: Path = DOWNLOADS) -> dict[str, str]:
    """Fetch (``data.download: true``) or just look for each needed dataset under ``target``; return a
    manifest ``{dataset: status}`` that is also written to ``target/manifest.json``."""
    target.mkdir(parents=True, exist_ok=True)
    root, fetch, profile = Path(params.run.data_root), params.data.download, params.profile
    manifest, problems = {}, []
    for name in needed_datasets(params):
        try:
            manifest[name] = _fetch(name, fetch, root, target)
        except DataNotFoundError as error:
            manifest[name] = f"missing: {str(error).splitlines()[0]}"
            if name in training_datasets(params) or name not in OPTIONAL_OOD:
                problems.append(f"- {name}: {error}")
    save_json(manifest, target / "manifest.json")
    if problems:
        raise DataNotFoundError(f"{len(problems)} dataset(s) of profile {profile!r} are missing; nothing "
                                f"was trained:\n" + "\n".join(problems))
    return manifest


def _fetch(name: str, fetch: bool, root: Path, target: Path) -> str:
    """Fetch (or find) dataset ``name``; its manifest entry. Data read from another ``run.data_root`` is only
    checked here if it is prepared by hand (DomainNet, ImageNet-1K), so that its absence stops the first stage."""
    if root.resolve() != target.resolve():
        source = dataset_source(name)
        if source.prepared_by_hand:
            source.check(root, fetch)
        return f"read from {root} (run.data_root), not downloaded here"
    for train in (True, False):
        load_image_set(name, target, train=train, download=fetch)
    return "present"
