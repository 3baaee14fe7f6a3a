"""The measured seed spread (arpl/pipeline/report/spread.py) and the reproduce check (arpl/pipeline/report/reproduce.py,
`python -m arpl reproduce`) on small fabricated metric files and spread tables."""

from __future__ import annotations

import copy
import json
import math
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from arpl.__main__ import main
from arpl.pipeline.report import reproduce, spread
from arpl.pipeline.params import Params
from arpl.pipeline.params.profiles import profile_params, profile_text

BASELINE = {
    "osr": {"ARPL": {"AUROC": 75.2, "OSCR": 71.66, "ACC": 91.77, "splits": 3},
            "Softmax": {"AUROC": 68.43, "OSCR": 66.25, "ACC": 91.88, "splits": 3}},
    "ood_auroc": {"ARPL": {"gaussian-noise": 98.19}, "Softmax": {"gaussian-noise": 88.14}},
    "incremental": {"ARPL": {"final_accuracy": 58.28}},
}


def _spread_rows(params: Params, sigmas: dict[tuple[str, str, str], float], seeds=(0, 1, 2, 3)) -> pd.DataFrame:
    """Rows as benchmarks/seed_spread.py writes them, with values ``+-sigma`` around 50 so that their sample
    standard deviation is exactly ``sigma`` (four seeds: -a, -a, +a, +a with a = sigma * sqrt(3) / 2)."""
    rows = []
    for (file, method, metric), sigma in sigmas.items():
        a = sigma * math.sqrt(3) / 2
        for seed, sign in zip(seeds, (-1, -1, 1, 1)):
            rows.append({"profile": params.profile, "fingerprint": spread.params_fingerprint(params, file),
                         "torch": "x", "cpu_capability": "AVX2", "portable": False, "split": 1, "seed": seed,
                         "file": file, "method": method, "metric": metric, "value": 50 + sign * a})
    return pd.DataFrame(rows, columns=spread.COLUMNS)


@pytest.fixture
def params() -> Params:
    return profile_params("smoke")


def test_the_fingerprint_ignores_seed_splits_and_workers_but_not_the_budget(params):
    other = params.model_copy(deep=True)
    other.run.seed, other.data.splits, other.run.workers = 7, [1, 2], 2
    assert spread.params_fingerprint(other) == spread.params_fingerprint(params)
    other.train.epochs += 1
    assert spread.params_fingerprint(other) != spread.params_fingerprint(params)


def test_each_file_is_fingerprinted_by_what_shapes_its_numbers(params):
    """The OOD numbers depend on the OOD sets and the noise count, the open- and closed-set numbers do not; none
    depends on the figures, the ablations, the class-incremental stage or the bootstrap resamples."""
    other = params.model_copy(deep=True)
    other.ood.noise_count += 1
    assert spread.params_fingerprint(other, "ood_auroc") != spread.params_fingerprint(params, "ood_auroc")
    for file in ("osr", "closed_set"):
        assert spread.params_fingerprint(other, file) == spread.params_fingerprint(params, file)
    other = params.model_copy(deep=True)
    other.figures.epochs += 1
    other.incremental.orders += 1
    other.osr.bootstrap += 1
    for file in ("osr", "closed_set", "ood_auroc"):
        assert spread.params_fingerprint(other, file) == spread.params_fingerprint(params, file)


def test_the_committed_spread_is_found_for_the_cpu_default():
    """The rows of benchmarks/seed_spread.csv measured under the CPU default are read for its settings."""
    measured = spread.load_spread(spread.all_settings(profile_params("cpu-default")),
                                  Path(__file__).resolve().parents[1] / "benchmarks" / "seed_spread.csv")
    assert measured is not None and measured.seeds >= 5
    assert {"osr", "ood_auroc", "closed_set"} <= set(measured.table.file)


def test_the_spread_is_read_for_the_current_settings_only(params, tmp_path):
    path = tmp_path / "spread.csv"
    _spread_rows(params, {("osr", "ARPL", "AUROC"): 1.5}).to_csv(path, index=False)
    measured = spread.load_spread(spread.all_settings(params), path)
    assert measured.split == 1 and measured.seeds == 4
    assert measured.sigma("osr", "ARPL", "AUROC") == pytest.approx(1.5)
    assert measured.sigma("osr", "Softmax", "AUROC") is None
    other = params.model_copy(deep=True)
    other.train.epochs += 1
    assert spread.load_spread(spread.all_settings(other), path) is None
    assert spread.load_spread(spread.all_settings(params), tmp_path / "absent.csv") is None


def test_verdicts_identical_within_outside_and_unmeasured(params):
    measured = _load(params, _write(_spread_rows(params, {("osr", "ARPL", "AUROC"): 1.5,
                                                          ("osr", "Softmax", "AUROC"): 1.5,
                                                          ("ood_auroc", "Softmax", "gaussian-noise"): 3.0})))
    current = copy.deepcopy(BASELINE)
    limit_3_splits = 2 * math.sqrt(2) * 1.5 / math.sqrt(3)  # 2.45
    current["osr"]["ARPL"]["AUROC"] += 2.0                   # within 2.45
    current["osr"]["Softmax"]["AUROC"] -= 3.0                # outside 2.45
    current["ood_auroc"]["Softmax"]["gaussian-noise"] -= 4.7  # one model: within 2 sqrt(2) 3 = 8.5
    current["osr"]["ARPL"]["OSCR"] += 0.5                     # no sigma measured for OSCR
    del current["incremental"]
    table = reproduce.compare(current, BASELINE, measured).set_index(["file", "method", "metric"]).verdict
    assert table["osr.json", "ARPL", "AUROC"] == reproduce.WITHIN
    assert table["osr.json", "Softmax", "AUROC"] == reproduce.OUTSIDE
    assert table["ood_auroc.json", "Softmax", "gaussian-noise"] == reproduce.WITHIN
    assert table["osr.json", "ARPL", "OSCR"] == reproduce.UNMEASURED
    assert table["osr.json", "ARPL", "ACC"] == reproduce.IDENTICAL
    assert table["osr.json", "ARPL", "splits"] == reproduce.IDENTICAL
    assert table["incremental.json", "ARPL", "final_accuracy"] == reproduce.MISSING
    rows = reproduce.compare(current, BASELINE, measured)
    assert rows.set_index(["file", "method", "metric"]).tolerance["osr.json", "ARPL", "AUROC"] == \
        pytest.approx(limit_3_splits, abs=0.01)
    assert "1 outside it" in reproduce.summary_line(rows, "HEAD")


def test_without_a_measured_spread_every_moved_number_says_so():
    current = copy.deepcopy(BASELINE)
    current["osr"]["ARPL"]["AUROC"] = 70.0
    table = reproduce.compare(current, BASELINE, None)
    assert set(table.verdict) == {reproduce.IDENTICAL, reproduce.UNMEASURED}


def test_method_differences_mark_the_ones_within_the_spread(params):
    measured = _load(params, _write(_spread_rows(params, {("osr", "ARPL", "AUROC"): 2.0,
                                                          ("osr", "GCPL", "AUROC"): 2.0,
                                                          ("osr", "Softmax", "AUROC"): 2.0})))
    # threshold for two methods over 3 splits: 2 sqrt(4/3 + 4/3) = 3.27
    table = spread.method_differences({"ARPL": (75.2, 3), "GCPL": (72.5, 3), "Softmax": (68.4, 3),
                                       "RPL": (65.8, 3)}, measured)
    assert table.loc["ARPL", "GCPL"] == "+2.7 (not meaningful)"
    assert table.loc["ARPL", "Softmax"] == "+6.8"
    assert table.loc["Softmax", "ARPL"] == "-6.8"
    assert table.loc["ARPL", "RPL"] == "+9.4 (no spread)"


def test_the_command_compares_with_a_committed_revision(tmp_path, monkeypatch, capsys):
    params = profile_params("smoke")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "params.yaml").write_text(profile_text("smoke"))
    (tmp_path / "metrics").mkdir()
    for name, tree in BASELINE.items():
        (tmp_path / "metrics" / f"{name}.json").write_text(json.dumps(tree))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "baseline"], cwd=tmp_path, check=True)
    _spread_rows(params, {("osr", "ARPL", "AUROC"): 1.5}).to_csv(tmp_path / "spread.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "--spread", "spread.csv"]) == 0
    assert "11 numbers against HEAD: 11 identical" in capsys.readouterr().out
    moved = copy.deepcopy(BASELINE)
    moved["osr"]["ARPL"]["AUROC"] = 80.0
    (tmp_path / "metrics" / "osr.json").write_text(json.dumps(moved["osr"]))
    assert main(["reproduce", "--spread", "spread.csv"]) == 1
    out = capsys.readouterr().out
    assert "outside it" in out and "80.0" in out and "4 seeds on split 1" in out
    assert main(["reproduce", "--baseline", "no-such-rev"]) == 1
    assert "no-such-rev" in capsys.readouterr().err


def _load(params: Params, path: Path) -> spread.Spread | None:
    return spread.load_spread(spread.all_settings(params), path)


def _write(rows: pd.DataFrame) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "spread.csv"
    rows.to_csv(path, index=False)
    return path


def test_the_headline_column_marks_methods_within_the_spread_of_the_best(params):
    measured = _load(params, _write(_spread_rows(params, {("osr", "ARPL", "AUROC"): 2.0,
                                                          ("osr", "GCPL", "AUROC"): 2.0,
                                                          ("osr", "Softmax", "AUROC"): 2.0})))
    column = spread.versus_best({"ARPL": (75.2, 3), "GCPL": (72.5, 3), "Softmax": (68.4, 3), "RPL": (65.8, 3)},
                                measured)
    assert column == {"ARPL": "best", "GCPL": "-2.7 (not meaningful)", "Softmax": "-6.8",
                      "RPL": "-9.4 (no measured spread)"}
    assert spread.versus_best({"ARPL": (75.2, 3), "GCPL": (72.5, 3)}, None)["GCPL"] == "-2.7 (no measured spread)"


def test_the_front_page_says_whether_the_spread_was_measured(params):
    assert "not measured for these settings" in spread.spread_note(spread.all_settings(params), None)
    measured = _load(params, _write(_spread_rows(params, {("osr", "ARPL", "AUROC"): 2.0,
                                                          ("ood_auroc", "ARPL", "digits"): 4.0})))
    assert "4 seeds on split 1" in spread.spread_note(spread.all_settings(params), measured)
    per_split = pd.DataFrame({"method": ["ARPL"] * 3, "AUROC": [60.0, 70.0, 80.0]})
    table = spread.spread_table(measured, per_split).set_index("method")
    assert table.loc["ARPL", "AUROC split 1: sigma over seeds"] == 2.0
    assert table.loc["ARPL", "AUROC: sigma over splits"] == 10.0
    assert table.loc["ARPL", "OOD AUROC digits: sigma"] == 4.0


def test_the_front_page_reads_the_own_score_means_and_splits(tmp_path):
    from arpl.stages import report

    pd.DataFrame({"method": ["ARPL", "ARPL", "Softmax"], "score": ["own", "msp", "own"], "splits": [3, 3, 1],
                  "AUROC_mean": [75.2, 70.0, 68.4]}).to_csv(tmp_path / "summary.csv", index=False)
    assert report.auroc_means(tmp_path / "summary.csv") == {"ARPL": (75.2, 3), "Softmax": (68.4, 1)}
    assert report.auroc_means(tmp_path / "absent.csv") == {}
    pd.DataFrame({"method": ["ARPL", "ARPL"], "score": ["own", "msp"], "AUROC": [80.0, 81.0]}).to_csv(
        tmp_path / "per_split.csv", index=False)
    assert report.own_per_split(tmp_path / "per_split.csv").AUROC.tolist() == [80.0]


def test_tables_mark_differences_within_the_spread_per_out_set(params, tmp_path):
    """The OOD and closed-set tables carry each number's sigma and "not meaningful" where a method lies within
    the spread of the best one on that set (threshold 2 sqrt(sa^2 + sb^2) for one model each)."""
    path = tmp_path / "spread.csv"
    _spread_rows(params, {("ood_auroc", "ARPL", "digits"): 1.0, ("ood_auroc", "Softmax", "digits"): 1.0,
                          ("ood_auroc", "ARPL", "noise"): 8.0, ("ood_auroc", "Softmax", "noise"): 6.0}).to_csv(path)
    measured = spread.load_spread(spread.all_settings(params), path)
    table = pd.DataFrame({"method": ["ARPL", "Softmax", "ARPL", "Softmax"],
                          "out": ["digits", "digits", "noise", "noise"], "AUROC": [97.0, 91.0, 95.0, 80.0]})
    marked = spread.with_spread(table, measured, "ood_auroc", "AUROC", by="out").set_index(["out", "method"])
    assert marked.loc[("digits", "ARPL"), "vs best"] == "best"
    assert marked.loc[("digits", "Softmax"), "vs best"] == "-6.0"                    # 6 > 2 sqrt(2) = 2.8
    assert marked.loc[("noise", "Softmax"), "vs best"] == "-15.0 (not meaningful)"   # 15 < 2 * 10
    assert marked.loc[("noise", "ARPL"), "sigma over seeds"] == pytest.approx(8.0)
    unmeasured = spread.with_spread(table[table.out == "digits"], None, "closed_set", "AUROC")
    assert list(unmeasured["vs best"]) == ["best", "-6.0 (no measured spread)"]


def test_a_number_over_fewer_splits_is_compared_with_none(params, tmp_path):
    """An ablation trained on split 0 only (w/o ABN, w/o FT) is no candidate for "best" and stays out of the
    differences between methods: its number stands on other splits than the three-split means."""
    path = tmp_path / "spread.csv"
    _spread_rows(params, {("osr", "ARPL", "AUROC"): 1.0, ("osr", "Softmax", "AUROC"): 1.8}).to_csv(path, index=False)
    measured = spread.load_spread(spread.all_settings(params), path)
    means = {"ARPL": (75.2, 3), "Softmax": (68.4, 3), "ARPL+CS (w/o FT)": (83.4, 1)}
    column = spread.versus_best(means, measured)
    assert column["ARPL"] == "best" and column["Softmax"] == "-6.8"
    assert column["ARPL+CS (w/o FT)"] == "not compared (1 split only)"
    assert list(spread.method_differences(means, measured).columns) == ["ARPL", "Softmax"]
