"""The paper's figures as data (``paper_figures.csv``): what each one shows, what data the paper draws it on,
which stage of this pipeline draws ours, and which profile draws it on the paper's data (or the nearest to it).
The claims page (:mod:`arpl.pipeline.report.claims`) reads it."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

FIGURES_FILE = "paper_figures.csv"


@lru_cache(maxsize=1)
def _figure_table() -> pd.DataFrame:
    with resources.files("arpl").joinpath(FIGURES_FILE).open("r", encoding="utf-8") as stream:
        return pd.read_csv(stream, dtype=str, keep_default_na=False)


def paper_figures() -> pd.DataFrame:
    """The paper's figures, one row per figure (Fig. 6 per panel: they draw on different data).

    Columns: figure, shows, paper_data (what the paper draws on), stage (the stage that draws ours; empty for a
    diagram), dataset (the dataset a profile needs to draw it on the paper's data), profile (the profile that
    draws the nearest version), difference (what still differs on that profile; empty: the same data).
    """
    return _figure_table().copy()
