"""The train stage (Sec. 3, Algorithm 1): what it shows about the runs :func:`arpl.pipeline.runs.trained.train_stage`
trains (the confusing stage shows the same for its variants)."""

from __future__ import annotations

import pandas as pd

from arpl.pipeline.params import Params
from arpl.pipeline.runs import ALL_CLASSES, checkpoint_path, stage_runs
from arpl.training.checkpoint import read_checkpoint


def margin_history(params: Params, stage: str, name: str) -> pd.DataFrame:
    """ARPL's margin ``R`` and the share of known test images whose margin term is active (Eq. 12), per epoch
    (rows) and split (columns), from the training histories of the open-set runs of ``name``."""
    rows = [{"split": run, "epoch": row["epoch"], "R": row["R"], "active share": row["margin_active"]}
            for run in stage_runs(params) if run != ALL_CLASSES
            for row in read_checkpoint(checkpoint_path(stage, name, run))["history"]]
    return pd.DataFrame(rows).pivot(index="epoch", columns="split", values=["R", "active share"])


def last_epoch_view(summary: pd.DataFrame, name: str) -> pd.DataFrame:
    """The last-epoch rows of a stage's runs as a reader sees them: ``name`` (method or variant), run, known-class
    accuracy, AUROC and OSCR in percent (as the paper prints them), then the training losses and the epoch's
    seconds."""
    percent = {"test_acc": "accuracy", "auroc": "AUROC", "oscr": "OSCR"}
    losses = [column for column in ("loss", "loss_d", "loss_g") if column in summary]
    view = summary[[name, "run", *[c for c in percent if c in summary], *losses, "seconds"]].copy()
    for column in (c for c in percent if c in view):
        view[column] = 100 * view[column]
    return view.rename(columns={**percent, "seconds": "seconds (last epoch)"})


def margin_view(params: Params, stage: str, name: str) -> pd.DataFrame:
    """:func:`margin_history` as a table: one row per epoch, for each split its margin ``R`` and its active share
    in percent."""
    history = margin_history(params, stage, name)
    view = pd.DataFrame({"epoch": history.index})
    for split in history["R"].columns:
        view[f"R, {split}"] = history["R"][split].to_numpy()
        view[f"active %, {split}"] = 100 * history["active share"][split].to_numpy()
    return view


def headline(row: dict) -> dict:
    """The metrics of a run's last epoch worth tracking with ``dvc metrics``."""
    return {key: round(row[key], 4) for key in ("test_acc", "auroc", "oscr", "loss") if key in row}
