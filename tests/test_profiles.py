"""Profiles: each is a valid, complete parameter set, `python -m arpl profile NAME` installs it, and
switching profile changes what the pipeline runs (resolved by DVC without running anything)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from arpl.pipeline.params import validate
from arpl.pipeline.params.profiles import profile_names, profile_params, profile_text

ROOT = Path(__file__).resolve().parents[1]
PAPER_PROFILES = {"mnist": "mnist", "svhn": "svhn", "cifar10": "cifar10", "cifar+10": "cifar+10",
                  "cifar+50": "cifar+50", "tinyimagenet": "tinyimagenet", "ood-cifar10": "cifar10",
                  "cifar100": "cifar100", "fashion-mnist-anchor": "fashion-mnist", "domainnet": "domainnet-real-A",
                  "imagenet": "imagenet-1k"}


@pytest.mark.parametrize("name, dataset", PAPER_PROFILES.items())
def test_paper_profiles_follow_the_authors_protocol(name, dataset):
    params = profile_params(name)
    assert params.data.dataset == dataset and params.data.train_per_class is None
    if name == "domainnet":  # Sec. 5.5.2: ResNet-34, 80 px, SGD lr 0.01 / 10 every 30 epochs, batch 128
        assert (params.model.backbone, params.data.image_size, params.train.lr) == ("resnet34", 80, 0.01)
        assert params.train.milestones == [30, 60, 90] and params.train.batch_size == 128
        assert params.confusing.variants == ["cs"] and len(params.ood.sets) == 5
    elif name == "imagenet":  # Sec. 5.5.3: ResNet-18; ImageNet-O out
        assert (params.model.backbone, params.data.image_size) == ("resnet18", 224)
        assert params.ood.sets == ["imagenet-o"] and params.confusing.variants == []
    else:
        assert params.train.milestones == [30, 60, 90, 120] and params.train.batch_size in (64, 128)
    if name in ("domainnet", "imagenet"):
        assert params.data.splits == [] and params.run.data_root == "data/external"
        assert not params.figures.enabled and not params.incremental.enabled
    elif name == "ood-cifar10":
        assert (params.model.backbone, params.train.optimizer, params.train.lr) == ("resnet34", "adam", 0.0001)
        assert params.ood.sets == ["cifar100", "svhn"]
    elif name == "tinyimagenet":
        assert (params.data.image_size, params.train.optimizer, params.train.lr) == (64, "adam", 0.001)
    elif name != "cifar100":
        assert (params.model.backbone, params.train.optimizer, params.train.lr) == ("classifier32", "sgd", 0.1)
    if name == "fashion-mnist-anchor":
        from arpl.stages.report import is_anchor_profile

        assert is_anchor_profile(params) and params.train.epochs == 40 and params.data.splits == [0, 1, 2]


@pytest.mark.parametrize("name", profile_names())
def test_adam_profiles_have_no_weight_decay_unless_set(name):
    """The authors' Adam (TinyImageNet in osr.py, ood.py) has no weight decay; their 1e-4 belongs to SGD."""
    params = profile_params(name)
    expected = 0.0 if params.train.optimizer == "adam" else 0.0001
    assert params.train.weight_decay == expected, name
    if params.train.optimizer == "adam":
        changed = yaml.safe_load(profile_text(name))
        changed["train"]["weight_decay"] = 0.0005  # a user's own setting stays
        assert validate(changed).train.weight_decay == 0.0005


def test_profiles_train_only_what_a_table_or_figure_of_the_paper_uses():
    """No table of the paper has open-set trials of the OOD set-up or of CIFAR100: those profiles train the
    all-class models only (Tables 3-4), and Fig. 13 averages five class orders, Fig. 9 runs MNIST against
    KMNIST, SVHN and CIFAR100."""
    ood, cifar100, mnist = (profile_params(name) for name in ("ood-cifar10", "cifar100", "mnist"))
    assert ood.data.splits == [] and not ood.figures.enabled and not ood.incremental.enabled
    assert cifar100.data.splits == [] and cifar100.figures.enabled and cifar100.incremental.enabled
    assert (cifar100.incremental.orders, cifar100.incremental.base_classes) == (5, 50)
    assert mnist.ood.sets == ["kmnist", "svhn", "cifar100"]


def test_profile_command_lists_and_installs(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "arpl", "profile"], capture_output=True, text=True, cwd=ROOT)
    assert "cifar+50" in listed.stdout and "smoke" in listed.stdout
    target = tmp_path / "params.yaml"
    subprocess.run([sys.executable, "-m", "arpl", "profile", "svhn", "--output", str(target)], check=True, cwd=ROOT,
                   capture_output=True)
    assert yaml.safe_load(target.read_text())["data"]["dataset"] == "svhn"
    unknown = subprocess.run([sys.executable, "-m", "arpl", "profile", "cifar11"], capture_output=True, text=True,
                             cwd=ROOT)
    assert unknown.returncode == 1 and "unknown profile 'cifar11'" in unknown.stderr


def _resolved_stages(profile: str, tmp_path: Path) -> dict:
    """The pipeline DVC would run with ``profile`` as params.yaml: stage name -> (cmd, deps)."""
    repo = tmp_path / profile
    repo.mkdir()
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    (repo / "params.yaml").write_text(profile_text(profile))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, check=True)
    code = ("from dvc.repo import Repo; import json; r = Repo('.'); "
            "print(json.dumps({s.addressing: [s.cmd, [str(d.def_path) for d in s.deps]] for s in r.index.stages}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True).stdout
    return yaml.safe_load(out)


def test_profile_switch_changes_what_the_pipeline_runs(tmp_path):
    default = _resolved_stages("cpu-default", tmp_path)
    mnist = _resolved_stages("mnist", tmp_path)
    assert {"train", "confusing", "osr", "report"} <= set(default)
    assert "data/raw" in default["data"][1] and "data/downloads" in mnist["data"][1]
    assert default["train"][0].endswith("notebooks/02_train.py runs/notebooks/02_train.ipynb")


def test_profile_without_trials_switches_stages_off(tmp_path):
    stages = _resolved_stages("domainnet", tmp_path)
    assert "--when data.splits" in stages["osr"][0] and "--when figures.enabled" in stages["figures"][0]
    assert "data/external" in stages["data"][1] and "train" in stages
