"""What a stage page shows: tables that read like a paper's and notes that read as prose.

:func:`dataframe_html` is the report's table (the front page and the claims page use it too). A stage notebook's
last expression is what its page shows. :class:`Table` renders a DataFrame as the paper
prints its tables: one decimal, no index column, an empty cell where a value is missing, and a caption saying
what a row is. :class:`Note` renders text as a paragraph. :func:`by_split` turns a long per-split table into the
method x split grid a reader compares at a glance. The CSV files under ``runs/`` keep every digit; only what a
reader sees is rounded.

The table's HTML is the jinja2 template ``templates/table.html.j2`` next to this module (package data, loaded with
a :class:`jinja2.PackageLoader`), with the report's other templates (see :mod:`.pages`).
"""

from __future__ import annotations

import math
import numbers
from html import escape

import pandas as pd
from jinja2 import Environment, PackageLoader

TABLE_CLASS = "arpl-table"
MISSING_VALUE = "—"
# The report's table (jinja2, every cell HTML-escaped); a numeric column, or a number in a text one, is class num.
_TABLE = Environment(loader=PackageLoader("arpl.pipeline.report", "templates"),
                     autoescape=True).get_template("table.html.j2")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and math.isnan(value)


def _format_cell(value, float_format: str, missing: str = MISSING_VALUE) -> str:
    if _is_missing(value):
        return missing
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if _is_number(value):
        return float_format.format(float(value))
    return str(value)


def _numeric_columns(df: pd.DataFrame) -> list[bool]:
    return [pd.api.types.is_numeric_dtype(df[column]) and not pd.api.types.is_bool_dtype(df[column])
            for column in df.columns]


def dataframe_html(df: pd.DataFrame, float_format: str = "{:.1f}", missing: str = MISSING_VALUE) -> str:
    """An HTML ``<table class="arpl-table">`` of ``df`` (index dropped), for the report's CSS.

    Floats use ``float_format``; missing values show as ``missing`` (an em dash); numeric columns carry class
    ``num`` (right-aligned); every cell and header is HTML-escaped (by the jinja2 template).
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"dataframe_html needs a pandas DataFrame, got {type(df).__name__}.")
    try:
        float_format.format(1.0)
    except (IndexError, KeyError, ValueError) as error:
        raise ValueError(f"float_format must be a str.format pattern for one float such as '{{:.1f}}', "
                         f"got {float_format!r} ({error}).") from error
    numeric = _numeric_columns(df)
    rows = [[(_format_cell(value, float_format, missing), is_num or _is_number(value))
             for value, is_num in zip(values, numeric)] for values in df.itertuples(index=False, name=None)]
    return _TABLE.render(table_class=TABLE_CLASS, header=zip(df.columns, numeric), rows=rows)


class Table:
    """A DataFrame shown with ``decimals`` decimals, no index (a named index becomes a column), one header line,
    missing values empty, every row (none elided), and ``caption`` above it."""

    def __init__(self, frame: pd.DataFrame, caption: str, decimals: int = 1):
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"Table needs a pandas DataFrame, got {type(frame).__name__}")
        named_index = any(name is not None for name in frame.index.names)
        frame = frame.reset_index() if named_index else frame.reset_index(drop=True)
        if isinstance(frame.columns, pd.MultiIndex):  # (out-set, metric) and the like: one header line
            frame.columns = [" ".join(str(part) for part in column if str(part)) for column in frame.columns]
        self.frame = frame
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


def plus_minus(frame: pd.DataFrame, decimals: int = 1) -> pd.DataFrame:
    """Each pair of columns ``X_mean`` / ``X_std`` as one column ``X`` reading "mean ± std", as the paper prints its
    tables (the mean alone where the std is missing, e.g. over one split; empty where the mean is)."""
    frame = frame.copy()
    for mean in [column for column in frame.columns if column.endswith("_mean")]:
        name, std = mean[: -len("_mean")], mean[: -len("_mean")] + "_std"
        stds = frame[std] if std in frame else pd.Series(float("nan"), index=frame.index)
        frame[mean] = [_mean_std_text(m, s, decimals) for m, s in zip(frame[mean], stds)]
        frame = frame.drop(columns=[std] if std in frame else []).rename(columns={mean: name})
    return frame


def _mean_std_text(mean, std, decimals: int) -> str:
    if _is_missing(mean):
        return ""
    return f"{mean:.{decimals}f}" if _is_missing(std) else f"{mean:.{decimals}f} ± {std:.{decimals}f}"
