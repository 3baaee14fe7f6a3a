"""The report's front page: ours beside the authors'-code anchors split by split, and the time per stage."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from arpl.figures.bars import anchor_bars
from arpl.paper import _anchor_table
from arpl.stages import report


def _per_split(path, rows):
    columns = ["method", "split", "score", "ACC", "AUROC", "AUROC_authors", "OSCR", "OSCR_authors"]
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


@pytest.fixture
def per_split(tmp_path):
    return _per_split(tmp_path / "per_split.csv", [
        ("Softmax", 0, "own", 95.0, 80.0, 79.0, 78.0, 77.5), ("Softmax", 0, "max_logit", 95.0, 82.0, 82.0, 79.0, 78.5),
        ("Softmax", 1, "own", 88.0, 70.0, 66.0, 65.0, 64.0), ("GCPL", 0, "own", 94.0, 79.0, 79.0, 76.0, 75.0),
        ("GCPL", 1, "own", 87.0, 69.0, 69.0, 64.0, 63.0)])


def test_anchor_comparison_sets_each_method_and_split_beside_the_authors_code(smoke_params, per_split):
    table = report.anchor_comparison(smoke_params, per_split)
    anchors = _anchor_table()
    softmax0 = anchors[(anchors.method == "Softmax") & (anchors.split == 0)].iloc[0]
    row = table[(table.method == "Softmax") & (table.split == 0)].iloc[0]
    assert row["AUROC"] == 79.0, "the anchors' AUROC is the authors' metric_ood (ties against): the same convention"
    assert row["AUROC anchor"] == pytest.approx(softmax0.AUROC) and row["AUROC (ties 1/2)"] == 80.0
    assert row["AUROC difference"] == pytest.approx(79.0 - softmax0.AUROC)
    assert row["OSCR"] == 77.5, "the anchors' OSCR is the authors' compute_oscr: compare with the same variant"
    assert list(table.method) == ["Softmax", "Softmax", "GCPL", "GCPL"], "own score only, every method"
    gcpl = table[table.method == "GCPL"]
    assert gcpl["AUROC anchor"].isna().all() and gcpl["AUROC"].tolist() == [79.0, 69.0]


def test_convention_gaps_on_open_set_splits_and_out_sets(per_split, tmp_path):
    ood = pd.DataFrame({"method": ["Softmax"], "out": ["digits"], "AUROC": [90.0], "AUROC_authors": [85.5]})
    ood.to_csv(tmp_path / "table3.csv", index=False)
    gaps = report.convention_gaps(per_split, tmp_path / "table3.csv")
    assert gaps.on.tolist() == ["split 0", "split 1", "split 0", "split 1", "digits"], "own score only"
    assert gaps.gap.tolist() == pytest.approx([1.0, 4.0, 0.0, 0.0, 4.5])
    note = report.convention_note(gaps)
    assert "at most 4.500 (Softmax, digits)" in note and "1.000 points at the median" in note
    assert report.convention_note(report.convention_gaps(tmp_path / "none.csv", tmp_path / "none.csv")) == ""
    for rounding in (1e-13, -1e-13):  # float rounding of the same count: no gap, and never a negative one
        ood.assign(AUROC_authors=90.0 + rounding).to_csv(tmp_path / "table3.csv", index=False)
        gaps = report.convention_gaps(tmp_path / "none.csv", tmp_path / "table3.csv")
        assert str(gaps.gap.tolist()) == "[0.0]" and "they agree" in report.convention_note(gaps)


def test_anchor_comparison_only_on_fashion_mnist(smoke_params, per_split):
    other = smoke_params.replace("data", dataset="mnist")
    assert report.anchor_comparison(other, per_split) is None
    assert report.anchor_comparison(smoke_params, per_split.parent / "missing.csv") is None


def test_anchor_plot_draws_one_bar_per_method_and_split_and_a_tick_per_anchor(smoke_params, per_split):
    table = report.anchor_comparison(smoke_params, per_split)
    figure = anchor_bars(table)
    ax = figure.axes[0]
    assert sum(len(bars) for bars in ax.containers) == 4
    ticks = [line for line in ax.lines if len(line.get_xdata()) == 2 and line.get_color() == "black"]
    assert len(ticks) == 2  # Softmax on splits 0 and 1; GCPL has no anchor
    assert {round(line.get_ydata()[0], 2) for line in ticks} == set(
        np.round(table[table.method == "Softmax"]["AUROC anchor"], 2))


def test_stage_times_read_papermill_durations_in_pipeline_order(tmp_path):
    for stem, seconds in (("04_osr", 30.4), ("01_data", 12.2), ("02_train", 100.0)):
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["papermill"] = {"duration": seconds}
        nbformat.write(notebook, tmp_path / f"{stem}.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "09_ablations.ipynb")  # switched off: no record
    times = report.stage_times(tmp_path)
    assert times.stage.tolist() == ["01_data", "02_train", "04_osr", "09_ablations", "total"]
    assert times.seconds.tolist() == [12, 100, 30, 0, 143]
    assert json.loads(times.to_json())  # plain numbers, ready for the page


def test_the_commit_is_clean_after_a_run_that_rewrote_dvc_lock_and_metrics(tmp_path, monkeypatch):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "metrics").mkdir()
    for name in ("dvc.lock", "metrics/osr.json", "params.yaml"):
        (tmp_path / name).write_text("a\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text("b\n")
    (tmp_path / "metrics" / "osr.json").write_text("b\n")
    assert "uncommitted" not in report._git_commit()
    (tmp_path / "params.yaml").write_text("b\n")
    assert report._git_commit().endswith("(with uncommitted changes)")


def test_headline_gives_mean_and_spread_over_splits_and_a_single_split_as_its_value(tmp_path):
    rows = [{"method": "ARPL", "score": "own", "splits": 3, "ACC_mean": 91.77, "ACC_std": 4.1, "AUROC_mean": 75.2,
             "AUROC_std": 13.5, "OSCR_mean": 71.66, "OSCR_std": 12.7},
            {"method": "ARPL+CS (w/o FT)", "score": "own", "splits": 1, "ACC_mean": 96.2, "ACC_std": 0.0,
             "AUROC_mean": 83.43, "AUROC_std": 0.0, "OSCR_mean": 81.84, "OSCR_std": 0.0}]
    pd.DataFrame(rows).to_csv(tmp_path / "summary.csv", index=False)
    table = report.headline_table(tmp_path / "summary.csv", tmp_path / "none.json").set_index("method")
    assert table.loc["ARPL", "AUROC"] == "75.2 ± 13.5" and table.loc["ARPL", "splits"] == 3
    assert table.loc["ARPL+CS (w/o FT)", "AUROC"] == "83.4" and table.loc["ARPL+CS (w/o FT)", "OSCR"] == "81.8"
