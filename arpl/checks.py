"""``python -m arpl check``: validate params.yaml and every data file the pipeline will read, run nothing."""

from __future__ import annotations

from pathlib import Path

from arpl.config import load_params
from arpl.data import DataNotFoundError, dataset_source
from arpl.profile_data import OPTIONAL_OOD, training_datasets


def check_data(params: dict) -> list[str]:
    """Verify the raw files of the training dataset (required) and of the OOD sets (MNIST/KMNIST are
    optional: skipped with a note when absent), with each source's own check
    (:class:`~arpl.data.registry.DatasetSource`). Raises on missing or corrupt required data."""
    root, download = Path(params["run"]["data_root"]), params["data"]["download"]
    lines = []
    required = training_datasets(params)
    for name in required:
        check = dataset_source(name).check
        if check is None:
            lines.append(f"ok  {name}: no files to check in advance (its loader reads them)")
            continue
        check(root, download)
        lines.append(f"ok  {name}: files present and verified under {root}")
    for name in params["ood"]["sets"]:
        check = dataset_source(name).check
        if name in required or check is None:
            continue
        try:
            check(root, download)
        except DataNotFoundError:
            if name not in OPTIONAL_OOD:
                raise
            lines.append(f"--  {name} (OOD): not present under {root}, left out of the OOD stage")
            continue
        lines.append(f"ok  {name} (OOD): present and verified")
    return lines


def check_everything(params_path: str | Path = "params.yaml") -> list[str]:
    """Validate ``params_path`` against the schema, then the data; returns a report, raises on a problem."""
    params = load_params(params_path)
    return [f"ok  {params_path}: valid (profile {params['profile']!r})", *check_data(params)]
