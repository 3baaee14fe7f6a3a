"""``python -m arpl check``: validate params.yaml and every data file the pipeline will read, run nothing."""

from __future__ import annotations

from pathlib import Path

from arpl.config import load_params
from arpl.data.checksums import DataNotFoundError, verify_files
from arpl.data.sources import ensure_fashion_mnist
from arpl.experiment import CIFAR_PLUS, base_dataset

VERIFIABLE = ("fashion-mnist", "mnist", "kmnist", "svhn", "cifar10", "cifar100")
FOLDER_SETS = ("domainnet-", "imagenet-")
OPTIONAL_OOD = ("mnist", "kmnist")


def check_data(params: dict) -> list[str]:
    """Verify the raw files of the training dataset (required) and of the OOD sets (MNIST/KMNIST are
    optional: skipped with a note when absent). Raises on missing or corrupt required data."""
    root = Path(params["run"]["data_root"])
    lines = []
    required = [base_dataset(params)] + (["cifar100"] if params["data"]["dataset"] in CIFAR_PLUS else [])
    for name in required:
        if name == "fashion-mnist":
            ensure_fashion_mnist(root, download=params["data"]["download"])
        elif name in VERIFIABLE:
            verify_files(name, root)
        elif name.startswith(FOLDER_SETS):
            check_folder_set(name, root, params["data"]["download"])
        lines.append(f"ok  {name}: files present and verified under {root}")
    for name in params["ood"]["sets"]:
        if name in required:
            continue
        if name.startswith(FOLDER_SETS):
            check_folder_set(name, root, params["data"]["download"])
            lines.append(f"ok  {name} (OOD): folders and lists present")
            continue
        if name not in VERIFIABLE:
            continue
        try:
            verify_files(name, root)
            lines.append(f"ok  {name} (OOD): present and verified")
        except DataNotFoundError:
            if name not in OPTIONAL_OOD:
                raise
            lines.append(f"--  {name} (OOD): not present under {root}, left out of the OOD stage")
    return lines


def check_folder_set(name: str, root: Path, download: bool) -> None:
    """Raise :class:`DataNotFoundError` (with the fix) unless the folders and lists of a DomainNet or ImageNet
    set exist; cheap, unlike loading them."""
    if name.startswith("domainnet-"):
        from arpl.data import domainnet

        domain, _ = domainnet.parse_name(name)
        classes = domainnet.domain_classes(root / domainnet.FOLDER, domain)
        for part in ("train", "test"):
            domainnet.read_list(root / domainnet.FOLDER / f"{domain}_{part}.txt", classes)
    elif name == "imagenet-o" and not download:
        from arpl.data.imagenet import imagenet_o_folder

        imagenet_o_folder(root)
    elif name == "imagenet-1k":
        from arpl.data.imagenet import imagenet_folder

        imagenet_folder(root)


def check_everything(params_path: str | Path = "params.yaml") -> list[str]:
    """Validate ``params_path`` against the schema, then the data; returns a report, raises on a problem."""
    params = load_params(params_path)
    return [f"ok  {params_path}: valid (profile {params['profile']!r})", *check_data(params)]


def available_ood_sets(params: dict) -> list[str]:
    """The OOD sets of ``ood.sets`` that can be used: generated and packaged sets always, MNIST/KMNIST only
    when their files are present (their absence is not an error)."""
    root = Path(params["run"]["data_root"])
    available = []
    for name in params["ood"]["sets"]:
        if name in OPTIONAL_OOD:
            try:
                verify_files(name, root)
            except DataNotFoundError:
                continue
        available.append(name)
    return available
