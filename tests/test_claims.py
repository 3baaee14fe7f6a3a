"""The claims page (arpl/pipeline/report/claims.py): every number of the paper's Tables 1-6 and each figure, one claim each,
for every profile; each status with its reason; the profile a claim names does run it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from arpl import paper, paper_facts, paper_figures
from arpl.pipeline.report import claims
from arpl.pipeline.notebook import param_value
from arpl.pipeline.params import Params
from arpl.pipeline.params.profiles import profile_names, profile_params
from arpl.pipeline.params.quick import quick_changes
from arpl.stages import closed_set, ood, osr

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
EMPTY = pd.DataFrame(columns=["table", "dataset", "out_dataset", "method", "metric", "ours_mean", "ours_definition",
                              "difference", "note"])


def stages_run(params: Params) -> set[str]:
    """The stages ``params`` switch on (the ``--when`` key of each stage's command in dvc.yaml)."""
    run = set()
    for name, stage in STAGES.items():
        words = stage["cmd"].split()
        if "--when" not in words or param_value(params, words[words.index("--when") + 1]):
            run.add(name)
    return run


def quick(params: Params) -> Params:
    for section, values in quick_changes(params).items():
        params = params.replace(section, **values)
    return params


def _row_keys(frame: pd.DataFrame) -> list[tuple]:
    return [(t, d, None if pd.isna(o) else o, m, k) for t, d, o, m, k in
            zip(frame["table"], frame["dataset"], frame["out_dataset"], frame["method"], frame["metric"])]


@pytest.mark.parametrize("name", profile_names())
@pytest.mark.parametrize("quick_run", [False, True])
def test_claims_cover_every_paper_row_and_figure_exactly_once_for_every_profile(name, quick_run):
    params = quick(profile_params(name)) if quick_run else profile_params(name)
    table = claims.claims(params, EMPTY, stages_run(params), None)
    numbers = table[table.item.str.startswith("Table")]
    keys = _row_keys(numbers.assign(table=numbers.item.str.replace("Table ", "table")))
    assert sorted(keys, key=str) == sorted(_row_keys(paper.paper_results()), key=str)
    assert len(set(keys)) == len(keys) == len(paper.paper_results())
    figures = table[table.item.str.startswith("Fig")]
    assert figures.item.tolist() == paper_figures.paper_figures().figure.tolist()
    assert set(table.status) <= set(claims.STATUSES) and table.detail.str.len().gt(0).all(), "every status says why"
    counts = claims.status_counts(table).set_index("status").claims
    assert counts["total"] == len(table) == len(paper.paper_results()) + len(figures)


def test_the_profile_a_claim_names_runs_it_with_the_papers_network():
    for _, row in paper.paper_results().drop_duplicates(["table", "dataset", "out_dataset"]).iterrows():
        if paper_facts.row_origin(row["table"], "ARPL", row["dataset"]):  # Air-300: no loader, no profile
            assert claims.table_profile(row["table"], row["dataset"]) is None
            continue
        runner = claims.table_profile(row["table"], row["dataset"])
        params = profile_params(runner)
        out = None if pd.isna(row["out_dataset"]) else row["out_dataset"]
        assert claims.produces(params, row["table"], row["dataset"], out), (row["table"], row["dataset"], out)
        assert params.model.backbone == paper_facts.TABLE_BACKBONES[row["table"]], runner
    for _, figure in paper_figures.paper_figures().iterrows():
        if figure["stage"]:
            params = profile_params(figure["profile"])
            assert figure["stage"] in stages_run(params) and params.data.dataset == figure["dataset"]


def test_the_default_claims_nothing_of_the_paper_and_says_why():
    params = profile_params("cpu-default")
    table = claims.claims(params, EMPTY, stages_run(params), None).set_index("item")
    counts = claims.status_counts(table.reset_index()).set_index("status").claims.to_dict()
    assert counts == {"reproduced here": 0, "not run by this profile": 168, "not implemented": 47,
                      "not comparable": 26, "total": 241}
    rows = table.loc["Table 1"].set_index(["dataset", "method"])
    assert rows.loc[("mnist", "ARPL"), "detail"] == "the mnist profile runs it"
    assert rows.loc[("cifar10", "OpenMax"), "status"] == "not implemented"
    assert "quoted from earlier work" in rows.loc[("cifar10", "Softmax"), "detail"]
    assert "drawn on fashion-mnist here" in table.loc["Fig. 9", "detail"]
    assert table.loc["Fig. 2", "detail"].startswith("a diagram")


def _cifar10_comparisons(backbone: str) -> pd.DataFrame:
    """What the osr, ood and closed-set stages of a CIFAR10 run with ``backbone`` write beside the paper."""
    methods = ["Softmax", "GCPL", "RPL", "ARPL", "ARPL+CS"]
    summary = pd.DataFrame({"method": methods, "score": "own", **{f"{c}_{s}": 80.0 if s == "mean" else 1.0
                            for c in osr.SUMMARY_COLUMNS for s in ("mean", "std")}})
    ood_rows = pd.DataFrame([{"method": m, "out": out, **{f"{k}{a}": 70.0 for k in ("TNR", "AUROC", "DTACC", "AUIN",
                                                                                   "AUOUT", "OSCR")
                                                       for a in ("", "_authors")}}
                             for m in methods for out in ("cifar100", "svhn")])
    accuracy = pd.DataFrame({"method": methods, "ACC": 90.0})
    return pd.concat([osr.paper_comparison(summary, "cifar10", backbone),
                      ood.paper_comparison(ood_rows, "cifar10", backbone),
                      closed_set.paper_comparison(accuracy, "cifar10", backbone)], ignore_index=True)


def test_a_cifar10_run_reproduces_tables_1_2_and_says_why_not_tables_3_4():
    params = profile_params("cifar10")
    table = claims.claims(params, _cifar10_comparisons("classifier32"), stages_run(params), None)
    cifar10 = table[table.dataset == "cifar10"].set_index(["item", "method", "metric", "out_dataset"], drop=False)
    arpl = cifar10.loc[("Table 1", "ARPL", "AUROC", None)]
    assert arpl.status == "reproduced here" and arpl.ours == 80.0 and arpl.difference == pytest.approx(80.0 - 90.1)
    assert arpl.seed_spread == "not measured for these settings"
    assert cifar10.loc[("Table 1", "Softmax", "AUROC", None)].status == "not comparable"
    assert cifar10.loc[("Table 2", "Softmax", "OSCR", None)].status == "reproduced here"
    assert cifar10.loc[("Table 1", "OSRCI", "AUROC", None)].status == "not implemented"
    table4 = cifar10.loc[("Table 4", "ARPL", "ACC", None)]
    assert table4.status == "not comparable" and "another backbone" in table4.detail and "ood-cifar10" in table4.detail
    table3 = cifar10.loc[("Table 3", "ARPL", "AUROC", "svhn")]
    assert table3.status == "not comparable" and table3.ours == 70.0
    missing = cifar10.loc[("Table 3", "ARPL+CS (w/o ABN)", "AUROC", "svhn")]
    assert missing.status == "not run by this profile" and "ood-cifar10" in missing.detail
    assert cifar10.loc[("Table 3", "JCL", "AUROC", "svhn")].status == "not implemented"


def test_the_ood_profile_reproduces_table3_with_resnet34():
    params = profile_params("ood-cifar10")
    table = claims.claims(params, _cifar10_comparisons("resnet34"), stages_run(params), None)
    table3 = table[(table.item == "Table 3") & (table.method == "ARPL")]
    assert (table3.status == "reproduced here").all() and len(table3) == 10
    assert table[(table.item == "Table 1") & (table.dataset == "cifar10") & (table.method == "ARPL")].detail.item() \
        == "the cifar10 profile runs it"
    figures = table[table.item.str.startswith("Fig")].set_index("item")
    assert figures.loc["Fig. 8", "status"] == "not run by this profile", "ood-cifar10 leaves the figures to cifar10"


@pytest.mark.parametrize("name, reproduced", [("mnist", {"Fig. 6b", "Fig. 9", "Fig. 12"}),
                                              ("cifar100", {"Fig. 11", "Fig. 13"}), ("cifar10", set())])
def test_figures_are_reproduced_only_on_the_papers_data(name, reproduced):
    params = profile_params(name)
    figures = claims.claims(params, EMPTY, stages_run(params), None).query("item.str.startswith('Fig')")
    assert set(figures[figures.status == "reproduced here"].item) == reproduced
    assert figures.set_index("item").loc["Fig. 10", "status"] in ("not comparable", "not run by this profile")


def test_figure_requirements_name_what_the_run_lacks():
    params = profile_params("mnist")
    assert claims.figure_requirement("Fig. 9", params) == ""
    fewer = params.replace("ood", sets=["kmnist"])
    expected = "ood.sets lacks svhn, cifar100, which the paper draws it against"
    assert claims.figure_requirement("Fig. 9", fewer) == expected
    cifar100 = profile_params("cifar100")
    assert cifar100.incremental.orders == 5 and claims.figure_requirement("Fig. 13", cifar100) == ""
    other = cifar100.replace("incremental", base_classes=20)
    assert claims.figure_requirement("Fig. 13", other) == "20 base classes here, 50 in the paper"


def test_claims_page_counts_every_status_and_shows_the_convention_gaps():
    params = profile_params("cifar10")
    table = claims.claims(params, _cifar10_comparisons("classifier32"), stages_run(params), None)
    gaps = pd.DataFrame({"method": ["Softmax"], "on": ["split 0"], "AUROC": [80.0], "AUROC_authors": [78.0],
                         "gap": [2.0]})
    html = claims.page_body(table, gaps)
    for status in claims.STATUSES:
        assert f"<td>{status}</td>" in html
    assert "The two AUROC conventions on this run" in html and "<h2>Table 6</h2>" in html and "Fig. 13" in html


def test_imagenet_accuracy_auroc_and_oscr_are_reproduced_by_the_imagenet_profile():
    params = profile_params("imagenet")
    methods = ["Softmax", "GCPL", "RPL", "ARPL"]
    ood_rows = pd.DataFrame([{"method": m, "out": "imagenet-o", **{f"{k}{a}": 60.0 for k in ("TNR", "AUROC", "DTACC",
                                                                                          "AUIN", "AUOUT", "OSCR")
                                                                for a in ("", "_authors")}} for m in methods])
    comparisons = pd.concat([ood.paper_comparison(ood_rows, "imagenet-1k", "resnet18"),
                             closed_set.paper_comparison(pd.DataFrame({"method": methods, "ACC": 70.0}), "imagenet-1k",
                                                         "resnet18")], ignore_index=True)
    table6 = claims.claims(params, comparisons, stages_run(params), None).query("item == 'Table 6'")
    assert (table6.status == "reproduced here").all() and len(table6) == 12
    assert table6.set_index(["method", "metric"]).loc[("ARPL", "ACC"), "difference"] == pytest.approx(70.0 - 70.2)


def test_a_reproduced_number_is_judged_against_the_measured_seed_spread():
    from arpl.pipeline.report.spread import Spread, tolerance

    params = profile_params("cifar10")
    measured = pd.DataFrame({"file": ["osr", "osr"], "method": ["ARPL", "ARPL"], "metric": ["AUROC", "OSCR"],
                             "sigma": [1.0, 10.0], "seeds": [5, 5], "low": [0.0, 0.0], "high": [1.0, 1.0]})
    spread = Spread(table=measured, fingerprint="x", split=1, seeds=5)
    table = claims.claims(params, _cifar10_comparisons("classifier32"), stages_run(params), spread)
    arpl = table[(table.dataset == "cifar10") & (table.method == "ARPL")].set_index("item")
    assert arpl.loc["Table 1", "seed_spread"] == f"outside it (±{tolerance(1.0, 5):.1f})"  # 80.0 - 90.1
    assert arpl.loc["Table 2", "seed_spread"] == f"within it (±{tolerance(10.0, 5):.1f})"  # 80.0 - 86.6
    rpl = table[(table.item == "Table 2") & (table.dataset == "cifar10") & (table.method == "RPL")]
    assert rpl.seed_spread.item() == "not measured for these settings"
