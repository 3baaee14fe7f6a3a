"""Every paper profile's quick run through the real pipeline (``scripts/quick_run.py``): a temporary copy of the
repository, the profile written by ``python -m arpl profile NAME --quick``, synthetic data in the exact on-disk
layout of the real source (``tests/fake_data.py``), downloads off, then ``dvc repro`` on the CPU.

Checked for each profile: every stage the profile switches on ran and wrote its outputs, every stage it
switches off says so; the report's front page opens with the quick-run warning; the paper's tables for the
profile's dataset stand beside our numbers; the out-of-distribution sets the profile names are on the ood page;
a second ``dvc repro`` has nothing to do. Each profile is one test, so ``pytest -n 2`` runs two at a time, each
in one thread (``run.workers: 1``, ``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from arpl.pipeline.notebook import param_value
from arpl.pipeline.params import Params
from arpl.pipeline.params.profiles import profile_names, profile_params
from tests.fake_data import MD5_FILE, fake_environment

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# Longest first (as measured in the suite at 258c525: 85 and 75 s, the others 48-70), so that `pytest -n 2` does not
# end on a long one (tests/conftest.py)
LONGEST = ("fashion-mnist-anchor", "tinyimagenet")
PAPER_PROFILES = sorted((name for name in profile_names() if name not in ("cpu-default", "smoke")),
                        key=lambda name: LONGEST.index(name) if name in LONGEST else len(LONGEST))
OSR_TABLE_DATASETS = {"mnist", "svhn", "cifar10", "cifar+10", "cifar+50", "tinyimagenet"}  # Tables 1-2
# Where a quick run is larger than CI's two cores need, the test trims what other tests cover already. The three
# ARPL+CS variants differ only in two switches (auxiliary BN, focus training) of the same code, which the cifar10
# profile's quick run, tests/test_training.py and the smoke run exercise: the other profiles keep one variant. The
# ResNet profiles pay for every image they train on and predict (even at a quick run's width of 16, a ResNet-34 at 32
# px trains at about 118 images/s on a core, classifier32 at 550), so they keep what is their own and leave out what
# the classifier32 profiles run through the same code:
# - ImageNet's 1,000 classes train at 64 px (the strided stem; ImageNet's own stem from 128 px is in
#   tests/test_models.py) with ARPL only (Softmax is the same code on every profile): 43 s of `dvc repro` instead of
#   245 s at 224 px with every method;
# - CIFAR100 (a ResNet-34 on 100 classes) with Softmax and ARPL (GCPL and RPL are the cifar10 profile's code on
#   another class count), no ARPL+CS and one lambda in Fig. 8 (its own figures are Fig. 11 and 13);
# - DomainNet with no ARPL+CS and two of its five OOD sets (another domain, and the other half of the classes: one
#   reader reads all five);
# - TinyImageNet (64 px) and DomainNet (80 px) at 32 px, the size of every other profile (docs/paper_scale.md has both
#   sizes' times). Their data sources resize to the profile's size as ImageNet's do.
# ARPL+CS with the ResNet-34 and the GANs of 32 and 80 px, and classifier32's at 64 px, train in
# tests/test_training.py. Everything else is the quick run as a user gets it.
ALL_VARIANTS = "cifar10"
CPU_TEST_CHANGES = {
    "imagenet": {"data": {"image_size": 64}, "train": {"methods": ["ARPL"]}},
    "cifar100": {"train": {"methods": ["Softmax", "ARPL"]}, "confusing": {"variants": []},
                 "figures": {"lambdas": [0.1]}},
    "tinyimagenet": {"data": {"image_size": 32}},
    "domainnet": {"data": {"image_size": 32}, "confusing": {"variants": []},
                  "ood": {"sets": ["domainnet-real-B", "domainnet-quickdraw-A"]}},
}


def cpu_test_changes(profile: str) -> dict:
    """What this test changes in the quick run of ``profile`` ({section: {key: value}}), as said above."""
    changes = {"run": {"workers": 1}, **CPU_TEST_CHANGES.get(profile, {})}
    variants = profile_params(profile).confusing.variants
    if profile != ALL_VARIANTS and len(variants) > 1 and "confusing" not in changes:
        changes["confusing"] = {"variants": variants[:1]}
    return changes

pytestmark = pytest.mark.integration


def _load_quick_run():
    """``scripts/quick_run.py``, the runner that step 4 of ``scripts/gpu_check.sh`` uses on CUDA."""
    spec = importlib.util.spec_from_file_location("quick_run", ROOT / "scripts" / "quick_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stages(repo: Path) -> dict[str, dict]:
    return yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]


def _switch(cmd: str) -> str | None:
    """The params key after ``--when`` in a stage's command, if any."""
    words = cmd.split()
    return words[words.index("--when") + 1] if "--when" in words else None


def _out_paths(stage: dict) -> list[str]:
    return [next(iter(out)) if isinstance(out, dict) else out for out in stage.get("outs", [])]


@pytest.mark.parametrize("profile", PAPER_PROFILES)
def test_quick_run_of_paper_profile(profile, tmp_path):
    changes = cpu_test_changes(profile)
    env = {"OMP_NUM_THREADS": "1"}
    try:
        repo, params, seconds = _load_quick_run().quick_run(profile, tmp_path, fake_data=True, changes=changes,
                                                            extra_env=env)
    except subprocess.CalledProcessError:
        pytest.fail((tmp_path / profile / "repro.log").read_text()[-8000:])
    print(f"quick run of {profile}: dvc repro {seconds:.0f} s")

    for name, stage in _stages(repo).items():
        key = _switch(stage["cmd"])
        switched_on = key is None or bool(param_value(params, key))
        notebook = next((repo / out for out in _out_paths(stage) if out.endswith(".ipynb")), None)
        if notebook is not None:
            assert ("switched off" in notebook.read_text()) == (not switched_on), f"{name}: {key}"
        for out in _out_paths(stage):  # a switched-off stage leaves its outputs empty
            path = repo / out
            assert path.exists(), f"{name}: {out} is missing"
            assert not switched_on or path.is_file() or any(path.iterdir()), f"{name}: {out} is empty"

    index = (repo / "reports" / "index.html").read_text()
    body = index.split("<body>", 1)[1].lstrip()
    assert body.startswith('<p class="warning">Quick run of profile'), body[:300]
    _check_paper_tables(repo, params)
    _check_claims(repo, params, profile)
    if not params.data.splits:  # DomainNet, ImageNet: the all-class model's OOD sets are the headline
        assert json.loads((repo / "metrics" / "osr.json").read_text()) == {}
        assert "switched off in this profile (data.splits)" in index
        assert f"{params.ood.sets[0]} AUROC / OSCR" in index
    ood_page = (repo / "reports" / "05_ood.html").read_text()
    for name in params.ood.sets:
        assert name in set(pd.read_csv(repo / "runs" / "ood" / "table3.csv").out), name
        assert name in ood_page, name
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", **env,
           **fake_environment(repo / params.run.data_root / MD5_FILE)}
    again = subprocess.run(["dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True, check=True)
    assert "Running stage" not in again.stdout, again.stdout
    shutil.rmtree(repo.parent)  # checkpoints and DVC cache: 0.5-3.7 GB a profile; a failed run stays to look at


def _check_paper_tables(repo: Path, params: Params) -> None:
    """The paper's tables for the profile's dataset stand beside ours, with numbers on both sides."""
    dataset = params.data.dataset
    expected = []
    if dataset in OSR_TABLE_DATASETS and params.data.splits:  # ood-cifar10: all-class models only
        expected.append(("runs/osr/paper_vs_ours.csv", "04_osr.html"))
    if dataset in ("cifar10", "cifar100", "imagenet-1k"):
        expected.append(("runs/closed_set/paper_vs_ours.csv", "06_closed_set.html"))
    if dataset in ("cifar10", "domainnet-real-A", "imagenet-1k"):
        expected.append(("runs/ood/paper_vs_ours.csv", "05_ood.html"))
    if dataset == "fashion-mnist":
        assert "Split by split: ours vs the authors" in (repo / "reports" / "index.html").read_text()
    assert expected or dataset == "fashion-mnist", f"no paper table is expected for {dataset}"
    for table, page in expected:
        comparison = pd.read_csv(repo / table)
        both = comparison.dropna(subset=["paper_mean", "ours_mean"])
        assert {"Softmax", "ARPL"} & set(params.train.methods) <= set(both.method), (table, comparison)
        html = (repo / "reports" / page).read_text()
        assert re.search(r"<th[^>]*>paper</th>", html) and re.search(r"<th[^>]*>ours</th>", html), page
        for row in both.itertuples():  # each number as the page prints it: one decimal, as the paper
            assert f"{row.paper_mean:.1f}" in html and f"{row.ours_mean:.1f}" in html, (page, row)


def _check_claims(repo: Path, params: Params, profile: str) -> None:
    """The claims page: every number of Tables 1-6 and each figure once; this profile's own numbers (of the methods
    it trained, on the OOD sets it ran) reproduced here, with ours and the difference; nothing else; the front page
    links the page."""
    from arpl.paper import paper_method_name, paper_results
    from arpl.paper_facts import row_origin
    from arpl.paper_figures import paper_figures
    from arpl.pipeline.report.claims import table_profile
    from arpl.pipeline.runs import method_name

    table = pd.read_csv(repo / "metrics" / "claims.csv", dtype={"out_dataset": "object"})
    numbers = table[table["item"].str.startswith("Table")]
    numbers = numbers.assign(table=numbers["item"].str.replace("Table ", "table"))
    assert len(numbers) == len(paper_results()) and len(table) == len(numbers) + len(paper_figures())
    trained = {*params.train.methods, *map(method_name, params.confusing.variants)}
    for row in numbers.itertuples():
        origin = row_origin(row.table, row.method, row.dataset)
        out, sets = row.out_dataset, params.ood.sets  # DomainNet's sets are named without "domainnet-"
        out_set_ran = pd.isna(out) or out in sets or f"domainnet-{out}" in sets
        own = table_profile(row.table, row.dataset) == profile and origin is None and out_set_ran
        ours_trained = any(paper_method_name(m, row.table) == row.method for m in trained)
        if own and ours_trained:
            assert row.status == "reproduced here", row
            assert pd.notna(row.ours) and pd.notna(row.difference), row
        else:
            assert row.status != "reproduced here", row
    figures = table[table["item"].str.startswith("Fig")].merge(paper_figures(), left_on="item", right_on="figure")
    assert (figures[figures.status == "reproduced here"].profile == profile).all()
    page = (repo / "reports" / "claims.html").read_text()
    for status in ("reproduced here", "not run by this profile", "not implemented", "not comparable"):
        assert f"<td>{status}</td>" in page, status
    assert 'href="claims.html"' in (repo / "reports" / "index.html").read_text()
