"""The paper's tables and the authors'-code anchors as data (arpl/paper.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from arpl import paper


def test_table1_arpl_cifar10_auroc_is_90_1_plus_minus_0_5():
    rows = paper.paper_results("table1", dataset="cifar10", metric="AUROC")
    arpl = rows[rows["method"] == "ARPL"].iloc[0]
    assert (arpl["mean"], arpl["std"]) == (90.1, 0.5)
    assert set(rows["table"]) == {"table1"} and set(rows["dataset"]) == {"cifar10"}


def test_table2_arpl_cs_tinyimagenet_oscr_is_65_9():
    rows = paper.paper_results(2, dataset="tinyimagenet", metric="OSCR")
    assert rows.loc[rows["method"] == "ARPL+CS", "mean"].item() == 65.9


def test_filters_are_optional_and_cover_all_six_tables():
    everything = paper.paper_results()
    assert sorted(everything["table"].unique()) == [f"table{i}" for i in range(1, 7)]
    assert len(paper.paper_results(table="Table 3")) == 80
    assert math.isnan(paper.paper_results("table1", "cifar+10", "AUROC").query("method == 'Softmax'")["std"].item())


@pytest.mark.parametrize("kwargs", [{"table": "table9"}, {"table": 1, "dataset": "fashion-mnist"},
                                    {"table": 1, "metric": "OSCR"}])
def test_unknown_filter_values_raise_value_error(kwargs):
    with pytest.raises(ValueError, match="use one of"):
        paper.paper_results(**kwargs)


def test_paper_vs_ours_differences_and_cross_entropy_alias():
    ours = pd.DataFrame({"method": ["Softmax", "ARPL+CS (w/o ABN)", "MyMethod"], "metric": ["AUROC"] * 3,
                         "mean": [88.6, 91.9, 50.0], "std": [1.0, 0.5, 2.0]})
    table = paper.paper_vs_ours(ours, "table3", dataset="cifar10", out_dataset="svhn")
    assert list(table.columns) == ["table", "method", "metric", "paper_mean", "paper_std", "ours_mean", "ours_std",
                                   "difference", "note"]
    softmax, cs, mine = (table.iloc[i] for i in range(3))
    assert softmax["paper_mean"] == 90.6 and softmax["difference"] == pytest.approx(-2.0)
    assert "Cross Entropy" in softmax["note"]
    assert cs["paper_mean"] == 90.9
    assert cs["difference"] == pytest.approx(1.0) and cs["note"] == ""
    assert math.isnan(mine["paper_mean"]) and math.isnan(mine["difference"]) and mine["ours_mean"] == 50.0
    assert "no MyMethod AUROC entry" in mine["note"]


def test_paper_vs_ours_keeps_softmax_name_outside_table3_and_reads_per_row_keys():
    ours = pd.DataFrame({"method": ["Softmax", "ARPL"], "metric": ["OSCR", "OSCR"], "mean": [99.0, 99.5],
                         "dataset": ["mnist", "svhn"]})
    table = paper.paper_vs_ours(ours, 2)
    assert list(table["paper_mean"]) == [99.2, 94.0]
    assert table["difference"].tolist() == pytest.approx([-0.2, 5.5])
    assert table["ours_std"].isna().all() and list(table["dataset"]) == ["mnist", "svhn"]


def test_paper_vs_ours_rejects_ambiguous_or_bad_input():
    ours = pd.DataFrame({"method": ["ARPL"], "metric": ["AUROC"], "mean": [90.0]})
    with pytest.raises(ValueError, match="out_dataset"):
        paper.paper_vs_ours(ours, "table3", dataset="cifar10")
    with pytest.raises(ValueError, match="pass dataset"):
        paper.paper_vs_ours(ours, "table1")
    with pytest.raises(ValueError, match="fractions"):
        paper.paper_vs_ours(ours.assign(mean=0.9), "table1", dataset="mnist")
    with pytest.raises(ValueError, match="lacks columns"):
        paper.paper_vs_ours(ours.drop(columns="mean"), "table1", dataset="mnist")


def test_anchors_hold_three_splits_of_softmax_and_arpl():
    table = paper.anchors()
    assert len(table) == 6
    assert set(table["method"]) == {"ARPL", "Softmax"} and sorted(set(table["split"])) == [0, 1, 2]
    arpl0 = table[(table["method"] == "ARPL") & (table["split"] == 0)].iloc[0]
    assert (arpl0["AUROC"], arpl0["OSCR"], arpl0["known"], arpl0["epochs"]) == (84.88, 83.58, "2 4 5 9 8 3", 40)


def test_anchors_vs_ours_split_by_split_differences():
    ours = pd.DataFrame({"method": ["ARPL", "Softmax", "GCPL"], "split": [2, 0, 0], "AUROC": [70.05, 80.69, 75.0],
                         "ACC": [90.45, 96.97, 95.0], "epochs": [40, 8, 8]})
    table = paper.anchors_vs_ours(ours)
    assert list(table.columns) == ["method", "split", "metric", "anchor", "ours", "difference", "note"]
    arpl = table[table["method"] == "ARPL"].set_index("metric")
    assert arpl.loc["AUROC", "anchor"] == 67.05 and arpl.loc["AUROC", "difference"] == pytest.approx(3.0)
    assert arpl.loc["ACC", "difference"] == pytest.approx(-3.0) and arpl.loc["ACC", "note"] == ""
    softmax = table[table["method"] == "Softmax"].set_index("metric")
    assert softmax.loc["AUROC", "difference"] == pytest.approx(-3.0) and "40 epochs" in softmax.loc["AUROC", "note"]
    gcpl = table[table["method"] == "GCPL"]
    assert gcpl["anchor"].isna().all() and len(gcpl) == 2


def test_anchors_vs_ours_needs_a_metric_in_percent():
    with pytest.raises(ValueError, match="none of the anchor metrics"):
        paper.anchors_vs_ours(pd.DataFrame({"method": ["ARPL"], "split": [0], "loss": [1.0]}))
    with pytest.raises(ValueError, match="fractions"):
        paper.anchors_vs_ours(pd.DataFrame({"method": ["ARPL"], "split": [0], "AUROC": [0.85]}))


def test_reference_notes_separate_targets_from_nearest_references():
    note = paper.reference_note("fashion-mnist")
    assert note == paper.FASHION_MNIST_NOTE
    assert "not in the paper" in note and "MNIST" in note and "anchor" in note and "not as a target" in note
    assert paper.nearest_paper_dataset("fashion-mnist") == "mnist"
    assert paper.nearest_paper_dataset("cifar10") == "cifar10"
    assert "target" in paper.reference_note("cifar10") and "Table 1" in paper.reference_note("cifar10")
    assert "nearest published reference" in paper.reference_note("kmnist")
    assert "no published reference" in paper.reference_note("digits")
    assert paper.paper_method_name("Softmax", 3) == "Cross Entropy"
    assert paper.paper_method_name("Softmax", 1) == "Softmax"


def test_paper_vs_ours_gives_no_difference_where_not_like_for_like():
    """A row the paper quotes from earlier work, or any row under another network, keeps both numbers and says why."""
    ours = pd.DataFrame({"method": ["Softmax", "ARPL", "RPL"], "metric": ["AUROC"] * 3, "mean": [86.0, 90.0, 85.0],
                         "definition": [86.5, 90.0, 85.0], "convention": ["authors' metric_ood"] * 3})
    table = paper.paper_vs_ours(ours, 1, dataset="cifar10").set_index("method")
    assert math.isnan(table.loc["Softmax", "difference"]) and "quoted from earlier work" in table.loc["Softmax", "note"]
    assert math.isnan(table.loc["RPL", "difference"]) and "RPL paper" in table.loc["RPL", "note"]
    assert table.loc["ARPL", "difference"] == pytest.approx(-0.1) and table.loc["ARPL", "note"] == ""
    assert table.loc["Softmax", "ours_definition"] == 86.5 and table.loc["ARPL", "convention"] == "authors' metric_ood"
    other = paper.paper_vs_ours(ours, 1, dataset="cifar10", not_comparable="another backbone")
    assert other.difference.isna().all() and other.paper_mean.notna().all() and other.ours_mean.notna().all()
    assert other.note.str.contains("not comparable: another backbone").all()
