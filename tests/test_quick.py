"""The quick run of a profile (``python -m arpl profile NAME --quick``, :mod:`arpl.pipeline.params.quick`) and what the report
and the paper comparisons make of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from arpl.__main__ import main
from arpl.models import backbone_entry
from arpl.pipeline.report import pages
from arpl.pipeline.params import validate
from arpl.pipeline.params.profiles import profile_names, profile_params
from arpl.pipeline.params.quick import IMAGES_PER_CLASS, QUICK_WIDTH, quick_profile_text
from arpl.stages import closed_set, ood, osr, report

KEPT = [("data", "dataset"), ("data", "image_size"), ("data", "channels"), ("data", "num_known"),
        ("model", "backbone"), ("model", "feat_dim"), ("train", "methods"), ("train", "optimizer"), ("train", "lr"),
        ("train", "batch_size"), ("train", "closed_set"), ("confusing", "variants"), ("confusing", "init"),
        ("ood", "sets"), ("incremental", "enabled"), ("incremental", "base_classes"), ("figures", "enabled"),
        ("figures", "backbone"), ("run", "device")]


@pytest.mark.parametrize("name", profile_names())
def test_quick_run_keeps_the_code_paths_and_shrinks_the_budget(name):
    real = profile_params(name)
    text = quick_profile_text(name)
    quick = validate(yaml.safe_load(text))
    assert text.startswith(f"# Quick run of profile {name}")
    for section, key in KEPT:
        assert getattr(getattr(quick, section), key) == getattr(getattr(real, section), key), (section, key)
    assert quick.run.quick is True and not real.run.quick
    assert quick.data.splits == real.data.splits[:1]
    assert quick.data.train_per_class == IMAGES_PER_CLASS and quick.train.epochs == 1
    assert quick.figures.lambdas == real.figures.lambdas[:2]
    assert quick.osr.bootstrap < real.osr.bootstrap or real.osr.bootstrap <= 20
    for section, key in (("confusing", "ngf"), ("confusing", "ndf"), ("model", "width")):  # narrower, never wider
        own = getattr(getattr(real, section), key) or 64
        assert getattr(getattr(quick, section), key) in (None, min(own, QUICK_WIDTH)), (section, key)
    assert (quick.model.width is not None) == backbone_entry(real.model.backbone).width


def test_profile_command_writes_the_quick_run(tmp_path, capsys):
    target = tmp_path / "params.yaml"
    assert main(["profile", "tinyimagenet", "--quick", "--output", str(target)]) == 0
    assert "quick run of profile 'tinyimagenet'" in capsys.readouterr().out
    params = validate(yaml.safe_load(target.read_text()))
    assert params.run.quick and params.data.image_size == 64
    assert "  quick: true" in target.read_text()


def test_front_page_opens_with_the_quick_warning(tmp_path):
    quick = validate(yaml.safe_load(quick_profile_text("cifar10")))
    warning = report.quick_warning(quick)
    assert warning.startswith("Quick run of profile cifar10: 1 epoch(s) on 4 images per class, the network 16 channels "
                              "wide.") and "mean nothing" in warning
    assert report.quick_warning(profile_params("cifar10")) == ""
    html = pages.index_html([], "<p>h</p>", {"profile": "cifar10"}, tmp_path, warning=warning)
    assert html.split("<body>", 1)[1].lstrip().startswith(f'<p class="warning">{warning}</p>')
    assert 'class="warning"' not in pages.index_html([], "", {}, tmp_path)


def _ood_table(outs: list[str]) -> pd.DataFrame:
    ours = {"TNR": 10.0, "AUROC": 60.0, "DTACC": 55.0, "AUIN": 50.0, "AUOUT": 40.0, "OSCR": 30.0}
    rows = [{"method": method, "out": out, **ours, **{f"{k}_authors": v - 1.0 for k, v in ours.items()}}
            for method in ("Softmax", "ARPL") for out in outs]
    return pd.DataFrame(rows)


def test_ood_table_beside_the_papers_table3_5_and_6():
    table3 = ood.paper_comparison(_ood_table(["cifar100", "svhn"]), "cifar10", "resnet34")
    cross_entropy = table3[(table3.method == "Softmax") & (table3.metric == "AUROC") & (table3.out_dataset == "svhn")]
    assert cross_entropy.paper_mean.item() == 90.6 and cross_entropy.difference.item() == pytest.approx(-31.6)
    assert cross_entropy.ours_mean.item() == 59.0 and cross_entropy.ours_definition.item() == 60.0, \
        "beside the paper: the authors' metric_ood value; ours by definition beside it"
    assert "ties" in cross_entropy.convention.item() or "tied" in cross_entropy.convention.item()
    assert set(table3.metric) == {"TNR", "AUROC", "DTACC", "AUIN", "AUOUT"}  # Table 3 reports no OSCR
    table5 = ood.paper_comparison(_ood_table(["domainnet-quickdraw-A"]), "domainnet-real-A", "resnet34")
    arpl = table5[(table5.method == "ARPL") & (table5.metric == "AUROC")]
    assert arpl.out_dataset.item() == "quickdraw-A" and arpl.paper_mean.item() == 86.1
    table6 = ood.paper_comparison(_ood_table(["imagenet-o"]), "imagenet-1k", "resnet18")
    assert set(table6.metric) == {"AUROC", "OSCR"} and table6.paper_mean.notna().all()
    assert table6.difference.notna().all()
    assert ood.paper_comparison(_ood_table(["digits"]), "fashion-mnist", "small") is None


def test_ood_comparison_with_another_backbone_keeps_both_numbers_but_no_difference():
    table3 = ood.paper_comparison(_ood_table(["cifar100"]), "cifar10", "classifier32")
    assert table3.paper_mean.notna().all() and table3.ours_mean.notna().all() and table3.difference.isna().all()
    assert table3.note.str.contains("not comparable: another backbone: classifier32 here, resnet34").all()


def test_closed_set_accuracy_beside_table4_and_table6():
    ours = pd.DataFrame({"method": ["Softmax", "ARPL"], "ACC": [90.0, 91.0]})
    table4 = closed_set.paper_comparison(ours, "cifar100", "resnet34")
    assert table4.paper_mean.tolist() == [70.8, 72.1] and table4.difference.tolist() == pytest.approx([19.2, 18.9])
    assert closed_set.paper_comparison(ours, "imagenet-1k", "resnet18").paper_mean.tolist() == [69.6, 70.2]
    assert closed_set.paper_comparison(ours, "svhn", "classifier32") is None
    tiny = pd.DataFrame({"method": ["Softmax", "ARPL"], "ACC": [1.0, 0.0]})  # 1 % of 100 classes: a quick run
    assert closed_set.paper_comparison(tiny, "cifar100", "resnet34").ours_mean.tolist() == [1.0, 0.0]
    other = closed_set.paper_comparison(ours, "cifar10", "classifier32")  # the cifar10 profile's all-class models
    assert other.difference.isna().all() and other.note.str.contains("another backbone").all()


def test_osr_comparison_only_where_tables_1_2_have_the_dataset():
    summary_table = pd.DataFrame({"method": ["ARPL"], "score": ["own"], "AUROC_mean": [80.0], "AUROC_std": [1.0],
                                  "OSCR_mean": [70.0], "OSCR_std": [1.0], "AUROC_authors_mean": [79.5],
                                  "AUROC_authors_std": [1.0], "OSCR_authors_mean": [69.0], "OSCR_authors_std": [1.0]})
    assert osr.paper_comparison(summary_table, "cifar100", "classifier32") is None
    compared = osr.paper_comparison(summary_table, "cifar10", "classifier32")
    assert compared[["metric", "paper_mean", "ours_mean", "ours_definition"]].values.tolist() == [
        ["AUROC", 90.1, 79.5, 80.0], ["OSCR", 86.6, 69.0, 70.0]]
    assert compared.difference.tolist() == pytest.approx([79.5 - 90.1, 69.0 - 86.6])
    nearest = osr.paper_comparison(summary_table, "fashion-mnist", "small")  # MNIST only as a reference
    assert nearest.difference.isna().all() and nearest.note.str.contains("another dataset").all()


def test_ood_test_per_class_takes_a_stratified_subset_of_a_real_set_and_leaves_noise_to_noise_count(smoke_params):
    smoke_params.ood.test_per_class = 3
    sets = ood.out_sets(smoke_params)
    digits = sets["digits"]
    assert len(digits) == 30 and np.bincount(digits.labels.numpy()).tolist() == [3] * 10
    assert torch.equal(ood.out_sets(smoke_params)["digits"].images, digits.images)  # seeded
    assert len(sets["gaussian-noise"]) == smoke_params.ood.noise_count
    smoke_params.ood.test_per_class = None
    assert len(ood.out_sets(smoke_params)["digits"]) == 1797
