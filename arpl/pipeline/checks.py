"""``python -m arpl check``: validate params.yaml and every data file the pipeline will read, run nothing."""

from __future__ import annotations

from pathlib import Path

from arpl.data import DataNotFoundError, dataset_source
from arpl.data.checksums import CorruptDataError
from arpl.pipeline.params import Params, load_params
from arpl.pipeline.runs.images import OPTIONAL_OOD, training_datasets


def check_data(params: Params) -> list[str]:
    """Verify the raw files of the training datasets and of the OOD sets, with each source's own check
    (:class:`~arpl.data.registry.DatasetSource`), without loading them. Returns one line per dataset.

    MNIST/KMNIST as OOD sets are optional (a note when absent); with ``data.download: true`` a dataset that the
    download stage can fetch is noted as to be downloaded. Every other missing or damaged dataset is an error:
    one :class:`DataNotFoundError` names all of them, each with its fix."""
    root, download = Path(params.run.data_root), params.data.download
    required = training_datasets(params)
    lines, problems = [], []
    for name in dict.fromkeys(required + list(params.ood.sets)):
        role = "" if name in required else " (OOD)"
        source = dataset_source(name)
        if source.check is None:
            lines.append(f"ok  {name}{role}: no files to check in advance (its loader reads them)")
            continue
        try:
            source.check(root, False)
        except DataNotFoundError as error:
            if role and name in OPTIONAL_OOD:
                lines.append(f"--  {name}{role}: not present under {root}, left out of the OOD stage")
            elif download and not source.prepared_by_hand:
                lines.append(f"--  {name}{role}: not under {root} yet; the download stage fetches it "
                             f"(data.download: true)")
            else:
                problems.append(f"{name}{role}: {str(error).removeprefix(f'{name}: ')}")
            continue
        except CorruptDataError as error:
            problems.append(f"{name}{role}: {str(error).removeprefix(f'{name}: ')}")
            continue
        lines.append(f"ok  {name}{role}: files present and verified under {root}")
    if problems:
        raise DataNotFoundError(f"{len(problems)} dataset(s) of profile {params.profile!r} cannot be read:\n"
                                + "\n".join(f"- {problem}" for problem in problems))
    return lines


def check_everything(params_path: str | Path = "params.yaml") -> list[str]:
    """Validate ``params_path`` against the schema, then the data; returns a report, raises on a problem."""
    params = load_params(params_path)
    return [f"ok  {params_path}: valid (profile {params.profile!r})", *check_data(params)]
