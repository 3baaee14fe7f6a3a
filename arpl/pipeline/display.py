"""What a stage page shows: tables that read like a paper's and notes that read as prose.

A stage notebook's last expression is what its page shows. :class:`Table` renders a DataFrame as the paper
prints its tables: one decimal, no index column, an empty cell where a value is missing, and a caption saying
what a row is. :class:`Note` renders text as a paragraph. :func:`by_split` turns a long per-split table into the
method x split grid a reader compares at a glance. The CSV files under ``runs/`` keep every digit; only what a
reader sees is rounded.
"""

from __future__ import annotations

from html import escape

import pandas as pd

from arpl.pipeline.pages import dataframe_html


class Table:
    """A DataFrame shown with ``decimals`` decimals, no index (a named index becomes a column), missing values
    empty, and ``caption`` above it."""

    def __init__(self, frame: pd.DataFrame, caption: str, decimals: int = 1):
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"Table needs a pandas DataFrame, got {type(frame).__name__}")
        named_index = any(name is not None for name in frame.index.names)
        self.frame = frame.reset_index() if named_index else frame.reset_index(drop=True)
        self.caption, self.decimals = caption, decimals

    def _repr_html_(self) -> str:
        table = dataframe_html(self.frame, float_format=f"{{:.{self.decimals}f}}", missing="")
        return f'<p class="caption"><em>{escape(self.caption)}</em></p>\n{table}'

    def __repr__(self) -> str:
        text = self.frame.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.{self.decimals}f}")
        return f"{self.caption}\n{text}"


class Note:
    """Text shown as a paragraph of the page (markdown), not as program output."""

    def __init__(self, text: str):
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def by_split(frame: pd.DataFrame, value: str, rows: list[str], split: str = "split") -> pd.DataFrame:
    """``value`` of a long per-split table as a grid: one row per combination of ``rows`` (in their first order),
    one column per split (``split 0``, ``split 1``, ...), and the mean over the splits a row has."""
    grid = frame.pivot_table(index=rows, columns=split, values=value, aggfunc="first", sort=False)
    grid.columns = [f"split {column}" for column in grid.columns]
    grid["mean"] = grid.mean(axis=1)
    return grid.reset_index()
