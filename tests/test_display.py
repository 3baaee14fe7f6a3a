"""What a stage page shows of a table: one decimal, no index, empty missing cells, a caption; notes as prose;
long per-split tables as method x split grids."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from arpl.pipeline.report.display import Note, Table, by_split, plus_minus


def test_a_table_shows_one_decimal_no_index_and_empty_missing_cells():
    frame = pd.DataFrame({"method": ["ARPL", "Softmax"], "AUROC": [84.8751, math.nan]}, index=[7, 8])
    html = Table(frame, "One row per method: AUROC in percent.")._repr_html_()
    assert "One row per method: AUROC in percent." in html
    assert ">84.9<" in html and "84.88" not in html and "NaN" not in html and "nan" not in html
    assert "<td class=\"num\"></td>" in html
    assert ">7<" not in html and ">8<" not in html  # the index is not shown


def test_a_named_index_becomes_a_column_and_the_text_form_reads_too():
    frame = pd.DataFrame({"AUROC": [84.88, 70.0]}, index=pd.Index(["ARPL", "GCPL"], name="method"))
    table = Table(frame, "caption", decimals=2)
    assert list(table.frame.columns) == ["method", "AUROC"] and ">84.88<" in table._repr_html_()
    assert repr(table).splitlines()[0] == "caption" and "NaN" not in repr(Table(frame.assign(x=math.nan), "c"))
    with pytest.raises(ValueError, match="DataFrame"):
        Table([1, 2], "not a frame")


def test_a_note_is_markdown():
    assert Note("**Beside the paper**: ours minus theirs.")._repr_markdown_() == "**Beside the paper**: ours minus theirs."


def test_by_split_pivots_a_long_table_into_a_method_by_split_grid_with_the_mean():
    long = pd.DataFrame({"method": ["ARPL", "ARPL", "Softmax", "Softmax", "ARPL+CS"],
                         "score": ["own"] * 5, "split": [0, 1, 0, 1, 0], "AUROC": [80.0, 70.0, 60.0, 50.0, 90.0]})
    grid = by_split(long, "AUROC", ["method", "score"])
    assert list(grid.columns) == ["method", "score", "split 0", "split 1", "mean"]
    assert list(grid.method) == ["ARPL", "Softmax", "ARPL+CS"]
    assert grid.loc[0, "mean"] == 75.0 and math.isnan(grid.loc[2, "split 1"]) and grid.loc[2, "mean"] == 90.0


def test_mean_and_std_columns_read_as_the_paper_prints_them_and_multi_level_headers_flatten():
    frame = pd.DataFrame({"method": ["ARPL", "ARPL+CS"], "AUROC_mean": [84.875, 80.0], "AUROC_std": [1.25, math.nan],
                          "paper_mean": [math.nan, 90.0]})
    shown = plus_minus(frame)
    assert list(shown.columns) == ["method", "AUROC", "paper"]
    assert list(shown.AUROC) == ["84.9 ± 1.2", "80.0"] and list(shown.paper) == ["", "90.0"]
    wide = pd.DataFrame([[1.0, 2.0]], columns=pd.MultiIndex.from_tuples([("CIFAR100", "AUROC"), ("SVHN", "AUROC")]),
                        index=pd.Index(["ARPL"], name="method"))
    assert list(Table(wide, "c").frame.columns) == ["method", "CIFAR100 AUROC", "SVHN AUROC"]
