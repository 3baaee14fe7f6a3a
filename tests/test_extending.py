"""Bring your own method: the registry of arpl.methods, and a method defined outside the package
(tests/plugins/cosine_head.py) that runs through the real pipeline into the metrics, the tables, a figure and
the report, named only by one line of params.yaml (docs/extending.md)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from arpl.methods import (ConfusingVariant, Method, build_head, colours, display_name, get_method, get_variant,
                          method_names, register_method, register_variant, registered_name, variant_names)
from arpl.pipeline.params import validate, ParamsError
from arpl.training.network import build_model
from arpl.training.specs import ModelSpec

COSINE = "tests.plugins.cosine_head:CosineHead"
IN_PLUGINS = "plugins.cosine_head:CosineHead"   # the same module where a user puts their own (plugins/README.md)
BUILT_IN = ["Softmax", "GCPL", "RPL", "ARPL"]


# ----------------------------------------------------------------------------- the registry


def test_the_built_in_methods_and_variants_are_registered():
    assert method_names()[:4] == BUILT_IN
    assert variant_names()[:3] == ["cs", "cs-no-abn", "cs-no-ft"]
    for name in BUILT_IN:
        method = get_method(name)
        assert issubclass(method, Method) and method.name == name == method.display_name
        assert "Chen et al." in method.reference or "Hendrycks" in method.reference or "Yang" in method.reference
        assert colours()[name] == method.colour
    assert [get_variant(v).display_name for v in ("cs", "cs-no-abn", "cs-no-ft")] == \
        ["ARPL+CS", "ARPL+CS (w/o ABN)", "ARPL+CS (w/o FT)"]
    assert {get_variant(v).method for v in ("cs", "cs-no-abn", "cs-no-ft")} == {"ARPL"}
    assert [(get_variant(v).abn, get_variant(v).focus_training) for v in ("cs", "cs-no-abn", "cs-no-ft")] == \
        [(True, True), (False, True), (True, False)]
    assert display_name("cs") == "ARPL+CS" and colours()["ARPL+CS"] == "tab:purple"


def test_an_unknown_name_lists_what_is_registered():
    with pytest.raises(ValueError, match=r"unknown method 'CosFace'; allowed: Softmax, GCPL, RPL, ARPL.*"
                                         r"import path, 'package.module:Class'"):
        get_method("CosFace")
    with pytest.raises(ValueError, match=r"unknown method 'APRL'; allowed: Softmax, GCPL, RPL, ARPL.*did you mean"):
        build_head("APRL", 4, 3)
    with pytest.raises(ValueError, match=r"unknown variant 'cs-no-gan'; allowed: cs, cs-no-abn, cs-no-ft"):
        get_variant("cs-no-gan")


@pytest.mark.parametrize("path, message", [
    ("tests.plugins.no_such_module:CosineHead", r"cannot import module 'tests.plugins.no_such_module' of "
                                                r".*No module named 'tests.plugins.no_such_module'.*PYTHONPATH"),
    ("tests.plugins.cosine_head:CosineHed", r"module 'tests.plugins.cosine_head' has no attribute 'CosineHed'"),
    ("tests.plugins.cosine_head:F", r"'tests.plugins.cosine_head:F' is not a registered method; decorate it"),
    (":CosineHead", r"no import path; write it as 'module:attribute'"),
])
def test_a_bad_import_path_says_what_is_wrong(path, message):
    with pytest.raises(ValueError, match=message):
        get_method(path)


def test_a_method_outside_the_package_is_found_by_its_import_path():
    cosine = get_method(COSINE)
    assert cosine.__module__ == "tests.plugins.cosine_head" and cosine.name == "Cosine"
    assert get_method("Cosine") is cosine and "Cosine" in method_names()
    assert registered_name(COSINE) == "Cosine" and display_name(COSINE) == "Cosine"
    assert colours()["Cosine"] == "tab:cyan"
    assert registered_name("RPL_cosine") == "RPL_cosine"  # other folder names stay as they are


def test_the_cosine_method_trains_and_scores_by_its_own_rule():
    torch.manual_seed(0)
    spec = ModelSpec(method=COSINE, backbone="small", num_classes=3, feat_dim=8, width=4)
    net = build_model(spec)
    x, y = torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 0, 1, 2])
    logits, loss = net(x, y)
    loss.backward()
    assert logits.shape == (6, 3) and torch.isfinite(loss) and net.head.prototypes.grad.abs().sum() > 0
    features = net.features(x).detach()
    cosines = torch.nn.functional.cosine_similarity(features[:, None, :], net.head.prototypes.detach()[None], dim=2)
    own = get_method(COSINE).score("own", logits.detach().numpy())
    torch.testing.assert_close(own, cosines.max(dim=1).values)
    torch.testing.assert_close(get_method(COSINE).score("msp", logits.detach()),
                               torch.softmax(logits.detach(), 1).max(1).values)
    with pytest.raises(ValueError, match=r"the head of 'tests.plugins.cosine_head:CosineHead' takes no options, "
                                         r"got 'distance'"):
        build_model(ModelSpec(method=COSINE, backbone="small", num_classes=3, distance="l2"))


def test_params_validation_imports_the_method_or_names_the_problem(smoke_params_raw):
    params = copy.deepcopy(smoke_params_raw)
    params["confusing"]["variants"] = []
    params["train"]["methods"] = ["Softmax", COSINE]
    params["incremental"]["methods"] = ["ARPL", COSINE]
    assert validate(copy.deepcopy(params)).train.methods == ["Softmax", COSINE]
    params["train"]["methods"] = ["Softmax", "tests.plugins.cosine:CosineHead"]
    with pytest.raises(ParamsError, match=r"train.methods\[1\] = 'tests.plugins.cosine:CosineHead' is not allowed: "
                                          r"cannot import module 'tests.plugins.cosine'"):
        validate(copy.deepcopy(params))
    params["train"]["methods"] = ["Softmax", "Cosinus"]
    with pytest.raises(ParamsError, match=r"train.methods\[1\] = 'Cosinus' is not allowed: unknown method 'Cosinus'; "
                                          r"allowed: Softmax, GCPL, RPL, ARPL.*import path"):
        validate(copy.deepcopy(params))
    params["train"]["methods"] = ["ARPL", "tests.plugins.cosine_head:CosineHead", "Cosine"]
    with pytest.raises(ParamsError, match=r"names one method twice"):
        validate(copy.deepcopy(params))
    params["train"]["methods"], params["confusing"]["variants"] = [COSINE], ["cs"]
    with pytest.raises(ParamsError, match=r"starts ARPL\+CS from the trained ARPL models, but train.methods lacks"):
        validate(copy.deepcopy(params))


def test_registering_checks_the_class_where_it_is_defined():
    class NoName(Method):
        reference = "r"

        def logits(self, features):
            return features

        def forward(self, features, labels):
            return features, features.sum()

    with pytest.raises(ValueError, match=r"NoName sets no name; add a class attribute such as name = 'NoName'"):
        register_method(NoName)
    with pytest.raises(TypeError, match=r"does not implement forward"):
        register_method(type("NoLoss", (Method,), {"name": "NoLoss", "reference": "r", "logits": NoName.logits}))
    with pytest.raises(TypeError, match=r"decorates a subclass of arpl.methods.Method"):
        register_method(torch.nn.Linear)
    with pytest.raises(ValueError, match=r"cites no reference"):
        register_method(type("Unsourced", (NoName,), {"name": "Unsourced", "reference": ""}))
    with pytest.raises(ValueError, match=r"own_score = 'max_cosine' is neither a score of arpl.scores"):
        register_method(type("Unscored", (NoName,), {"name": "Unscored", "own_score": "max_cosine"}))
    with pytest.raises(ValueError, match=r"unknown score in .*scores: 'maxlogit'.*did you mean 'max_logit'"):
        register_method(type("BadScores", (NoName,), {"name": "BadScores", "scores": ("maxlogit",)}))
    with pytest.raises(ValueError, match=r"name 'RPL', which arpl.methods.rpl.RPLHead already registered"):
        register_method(type("Impostor", (NoName,), {"name": "RPL"}))
    with pytest.raises(ValueError, match=r"display name 'ARPL', which arpl.methods.arpl.ARPLHead already registered"):
        register_method(type("Lookalike", (NoName,), {"name": "Lookalike", "display_name": "ARPL"}))
    with pytest.raises(ValueError, match=r"a name is letters, digits and _\+\.-"):
        register_method(type("Slash", (NoName,), {"name": "my/method"}))
    with pytest.raises(ValueError, match=r"GCPL has no entropy_term"):
        register_variant(ConfusingVariant("gcpl-cs", "GCPL+CS", "GCPL", abn=True, focus_training=True, reference="r"))
    refused = {"NoName", "NoLoss", "Unsourced", "Unscored", "BadScores", "Lookalike", "gcpl-cs"}
    assert not refused & {*method_names(), *variant_names()}


def test_a_variant_outside_the_package_is_found_by_its_import_path(tmp_path, monkeypatch, smoke_params_raw):
    (tmp_path / "my_variants.py").write_text(textwrap.dedent("""
        from arpl.methods import ConfusingVariant, register_variant

        SHORT_CS = register_variant(ConfusingVariant(
            name="cs-short", display_name="ARPL+CS (short)", method="ARPL", abn=True, focus_training=False,
            reference="a test of variants outside arpl"))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    path = "my_variants:SHORT_CS"
    assert get_variant(path).name == registered_name(path) == "cs-short"
    assert display_name(path) == "ARPL+CS (short)" and get_variant("cs-short") is get_variant(path)
    params = copy.deepcopy(smoke_params_raw)
    params["confusing"]["variants"] = ["cs", path]
    assert validate(params).confusing.variants == ["cs", path]
    from arpl.pipeline.runs.specs import train_spec
    from arpl.pipeline.runs import run_path

    spec = train_spec(validate(params), "split0", variant=path)
    assert spec.confusing and not spec.focus_training
    assert run_path("confusing", path, "split0").as_posix() == "runs/confusing/cs-short/split0"
    with pytest.raises(ValueError, match=r"'my_variants:ConfusingVariant' is not a registered variant"):
        get_variant("my_variants:ConfusingVariant")


# ----------------------------------------------------------------------------- through the pipeline

TAB_CYAN = (23, 190, 207)


@pytest.mark.integration
def test_a_method_outside_the_package_runs_through_the_pipeline(tmp_path):
    """The smoke profile with Softmax and the cosine method of tests/plugins (confusing, incremental, figures and
    ablations switched off, to keep it short): `dvc repro` refuses to start while the method's file is no dependency of
    the stages that read `train.methods`, naming the way out; from plugins/ (every stage's dep) it then trains it (in spawned worker processes),
    evaluates it in the osr, ood and closed-set stages, draws it in Fig. 9 with its registered colour and lists it in
    the report; a second `dvc repro` has nothing to do. An edit of the module reruns those stages; a comment edit
    retrains nothing, a code edit the method's runs and no Softmax run (README, "What an edit reruns")."""
    from PIL import Image
    from test_pipeline import _copy_repository, _run

    repo = _copy_repository(tmp_path)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["methods"] = ["Softmax", COSINE]
    params["confusing"]["variants"] = []
    params["incremental"]["enabled"] = False
    params["figures"]["enabled"] = False
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    refused = _run(["dvc", "repro"], repo, check=False)
    assert refused.returncode != 0 and not (repo / "runs" / "train" / "Cosine").exists()
    assert ("reads train.methods = 'tests.plugins.cosine_head:CosineHead', whose file tests/plugins/cosine_head.py is "
            "no dependency of the stage; move it into plugins/ or add tests/plugins to stages.train.deps in dvc.yaml"
            in refused.stderr), refused.stderr
    shutil.copy(repo / "tests" / "plugins" / "cosine_head.py", repo / "plugins" / "cosine_head.py")
    params["train"]["methods"] = ["Softmax", IN_PLUGINS]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["dvc", "repro"], repo)

    checkpoint = torch.load(repo / "runs" / "train" / "Cosine" / "split0" / "checkpoint.pt", weights_only=False)
    assert checkpoint["model_spec"]["method"] == IN_PLUGINS and "head.prototypes" in checkpoint["states"]["net"]
    osr = json.loads((repo / "metrics" / "osr.json").read_text())
    assert set(osr) == {"Softmax", "Cosine"}
    assert 0 <= osr["Cosine"]["OSCR"] <= osr["Cosine"]["ACC"] <= 100 and 0 <= osr["Cosine"]["AUROC"] <= 100
    per_split = pd.read_csv(repo / "runs" / "osr" / "per_split.csv")
    assert set(per_split[per_split.method == "Cosine"].score) == {"own", "msp", "max_logit", "energy"}
    assert set(json.loads((repo / "metrics" / "closed_set.json").read_text())) == {"Softmax", "Cosine"}
    assert "Cosine" in set(pd.read_csv(repo / "runs" / "ood" / "table3.csv").method)
    assert "Cosine" in set(pd.read_csv(repo / "runs" / "osr" / "curves" / "roc.csv").method)
    figure = np.asarray(Image.open(repo / "runs" / "osr" / "figures" / "fig9_roc.png").convert("RGB"))
    assert (figure == TAB_CYAN).all(axis=2).sum() > 50, "Fig. 9 draws the cosine method in its colour"
    assert "Cosine" in (repo / "reports" / "04_osr.html").read_text()
    assert "Cosine" in (repo / "reports" / "index.html").read_text()
    again = _run(["dvc", "repro"], repo)
    assert "Running stage" not in again.stdout, again.stdout
    module = repo / "plugins" / "cosine_head.py"
    module.write_text(module.read_text() + "# an edit\n")
    changed = json.loads(_run(["dvc", "status", "--json"], repo).stdout)
    assert set(changed) == set(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]), "every stage reads plugins/"
    comment = _run(["dvc", "repro"], repo)
    assert not re.findall(r"^\[.*\] epoch ", comment.stdout + comment.stderr, re.MULTILINE), "no run trains"
    module.write_text(module.read_text().replace("SCALE = 16.0", "SCALE = 20.0"))
    rerun = _run(["dvc", "repro"], repo)
    rerun = rerun.stdout + rerun.stderr  # papermill logs the epoch lines on stderr
    assert set(re.findall(r"^\[(.*)\] epoch ", rerun, re.MULTILINE)) == {"Cosine split0", "Cosine all"}
