"""The train stage (Sec. 3, Algorithm 1): what it shows about the runs :func:`arpl.pipeline.trained.train_stage`
trains (the confusing stage shows the same for its variants)."""

from __future__ import annotations

import pandas as pd

from arpl.pipeline.runs import ALL_CLASSES, checkpoint_path, stage_runs
from arpl.training.checkpoint import read_checkpoint


def margin_history(params: dict, stage: str, name: str) -> pd.DataFrame:
    """ARPL's margin ``R`` and the share of known test images whose margin term is active (Eq. 12), per epoch
    (rows) and split (columns), from the training histories of the open-set runs of ``name``."""
    rows = [{"split": run, "epoch": row["epoch"], "R": row["R"], "active share": row["margin_active"]}
            for run in stage_runs(params) if run != ALL_CLASSES
            for row in read_checkpoint(checkpoint_path(stage, name, run))["history"]]
    return pd.DataFrame(rows).pivot(index="epoch", columns="split", values=["R", "active share"])


def headline(row: dict) -> dict:
    """The metrics of a run's last epoch worth tracking with ``dvc metrics``."""
    return {key: round(row[key], 4) for key in ("test_acc", "auroc", "oscr", "loss") if key in row}
