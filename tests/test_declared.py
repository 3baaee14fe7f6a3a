"""A stage reads exactly the params it declares in dvc.yaml (arpl/pipeline/params/declared.py): reading another key raises
at once, naming the key, the stage and the line to add; every key a stage reads is recorded when asked; your own
module outside the stage's deps stops it before it starts. That every declaration is complete is shown by every
pipeline run of the suite (the smoke run, the quick runs); that nothing declared goes unread by all of them together
(:func:`unread_declarations`, judged at the end of the session by tests/conftest.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import yaml

from arpl.pipeline.params import declared
from arpl.pipeline.params.declared import UndeclaredParam, View, declared_keys, notebook_stage, own_module_gaps
from arpl.pipeline.params import Params
from arpl.pipeline.params.profiles import profile_names

ROOT = Path(__file__).resolve().parents[1]
# The profiles whose pipeline the suite runs: the smoke run (tests/test_pipeline.py) and each paper profile's quick run
# (tests/test_paper_profiles.py).
SUITE_PROFILES = {"smoke", "mnist", "svhn", "cifar10", "cifar+10", "cifar+50", "tinyimagenet", "fashion-mnist-anchor",
                  "ood-cifar10", "cifar100", "domainnet", "imagenet"}


def unread_declarations(reads: set[tuple[str, str]], dvc_yaml: Path) -> list[str]:
    """``stage: key`` for each key that a stage of ``dvc_yaml`` declares (a section: each of its keys) and that
    ``reads`` (``(stage, key)`` pairs) lacks."""
    unread = []
    for stage in yaml.safe_load(dvc_yaml.read_text())["stages"]:
        for entry in declared_keys(stage, dvc_yaml):
            section = getattr(Params.model_fields.get(entry), "annotation", None)
            keys = [f"{entry}.{name}" for name in section.model_fields] if hasattr(section, "model_fields") else [entry]
            unread += [f"{stage}: {key}" for key in keys if (stage, key) not in reads]
    return unread


def test_a_declared_section_is_read_whole_and_a_declared_key_alone(smoke_params):
    view = View(smoke_params, ["train", "data.splits", "profile"], "osr")
    assert view.train.epochs == smoke_params.train.epochs and view.profile == "smoke"
    assert view.data.splits == smoke_params.data.splits
    with pytest.raises(UndeclaredParam, match=r"stage 'osr' read params key 'data.dataset', which its params in "
                                              r"dvc.yaml do not list; add data.dataset to stages.osr.params in dvc.yaml"):
        view.data.dataset
    with pytest.raises(UndeclaredParam, match="'figures'"):
        view.figures


def test_a_view_survives_pickling_and_replace_keeps_its_declarations(smoke_params):
    """Spawned training workers receive the stage's view, not the whole file."""
    view = pickle.loads(pickle.dumps(View(smoke_params, ["data"], "figures")))
    assert view.replace("data", train_per_class=3).data.train_per_class == 3
    with pytest.raises(UndeclaredParam):
        view.replace("data", train_per_class=3).train


def test_reads_are_recorded_once_per_key_when_asked(smoke_params, tmp_path, monkeypatch):
    reads = tmp_path / "reads.txt"
    monkeypatch.setenv(declared.READS_ENV, str(reads))
    monkeypatch.setattr(declared, "_RECORDED", set())
    view = View(smoke_params, ["train", "data.splits"], "train")
    view.train.epochs, view.train.epochs, view.data.splits, view.train
    assert reads.read_text().splitlines() == ["smoke train train.epochs", "smoke train data.splits"]


def test_every_stage_names_its_notebook_and_depends_on_it_the_package_and_plugins():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert {"arpl", "plugins"} <= set(stage["deps"]), name
        for notebook in (ROOT / "notebooks").glob("*.py"):
            if f" notebooks/{notebook.name} " in f" {stage['cmd']} ":
                assert f"notebooks/{notebook.name}" in stage["deps"] and notebook_stage(notebook.relative_to(ROOT),
                                                                                        ROOT / "dvc.yaml") == name
                assert f'stage_params("{name}", params_file)' in notebook.read_text(), "the notebook names its stage"
        assert declared_keys(name, ROOT / "dvc.yaml"), f"stage {name} declares its params"


def test_every_declared_key_exists():
    sections = {name: getattr(field.annotation, "model_fields", None) for name, field in Params.model_fields.items()}
    for stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]:
        for key in declared_keys(stage, ROOT / "dvc.yaml"):
            section, _, name = key.partition(".")
            assert section in sections and (not name or name in sections[section]), (stage, key)


def test_own_module_outside_the_deps_names_the_line_to_add(smoke_params, tmp_path, monkeypatch):
    """A method named by import path whose file is in no dep of a stage that reads train.methods: the stage would
    not rerun when the file changes, so it is refused with the dep to add; the same module under plugins/ is fine."""
    for folder in ("mine", "plugins"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "head.py").write_text("")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"osr": {
        "cmd": "x", "deps": ["notebooks/04_osr.py", "arpl", "plugins"], "params": ["train.methods"]}}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    mine = smoke_params.model_copy(deep=True)
    mine.train.methods = ["Softmax", "mine.head:Head"]
    assert own_module_gaps(mine, "osr") == [
        "stage 'osr' reads train.methods = 'mine.head:Head', whose file mine/head.py is no dependency of the stage; "
        "move it into plugins/ or add mine to stages.osr.deps in dvc.yaml"]
    mine.train.methods = ["Softmax", "plugins.head:Head"]
    assert own_module_gaps(mine, "osr") == []


def test_unread_declarations_name_each_declared_key_no_run_read(tmp_path):
    """The session's check can fail: a section declared whole needs each of its keys read."""
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"osr": {"cmd": "x", "params": ["osr", "profile"]}}}))
    read_all = {("osr", "osr.scores"), ("osr", "osr.bootstrap"), ("osr", "profile")}
    assert unread_declarations(read_all, tmp_path / "dvc.yaml") == []
    assert unread_declarations(read_all - {("osr", "osr.bootstrap")}, tmp_path / "dvc.yaml") == ["osr: osr.bootstrap"]
    assert SUITE_PROFILES < set(profile_names())

