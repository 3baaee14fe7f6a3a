"""params.yaml validation: every profile is valid; bad keys, types and values are refused with a message
that names the key, the value and what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from arpl.pipeline.params import load_params, validate
from arpl.pipeline.params.profiles import overlay, profile_names, profile_params, profile_text
from arpl.pipeline.params import ParamsError

ROOT = Path(__file__).resolve().parents[1]


def test_default_params_file_is_valid():
    assert load_params(ROOT / "params.yaml").profile == "cpu-default"


@pytest.mark.parametrize("name", profile_names())
def test_every_profile_is_a_complete_valid_parameter_file(name):
    """Each profile, laid over cpu-default, validates and names itself; it keeps the default's comments."""
    assert profile_params(name).profile == name
    assert "# auto (CUDA if present) | cpu | cuda | cuda:N" in profile_text(name)


def test_default_params_equal_the_cpu_default_profile():
    assert (ROOT / "params.yaml").read_text() == profile_text("cpu-default")


def test_overlay_changes_values_keeps_comments_and_refuses_unknown_keys():
    base = "# head\nprofile: a    # its name\n\ntrain:         # training\n  epochs: 6    # how long\n  lr: 0.1\n"
    merged = overlay(base, "# Profile b\nprofile: b\ntrain:\n  epochs: 100  # paper\n  lr: 0.01\n")
    assert merged.splitlines() == ["# Profile b", "# head", "profile: b    # its name", "",
                                   "train:         # training", "  epochs: 100  # paper", "  lr: 0.01"]
    with pytest.raises(ParamsError, match="sets train.epochz, which the default profile does not have"):
        overlay(base, "train:\n  epochz: 3\n", "b")
    with pytest.raises(ParamsError, match="unknown profile 'cifar11'"):
        profile_text("cifar11")


def _broken(smoke_params_raw, section, key, value):
    params = copy.deepcopy(smoke_params_raw)
    if section is None:
        params[key] = value
    else:
        params[section][key] = value
    return params


@pytest.mark.parametrize("section, key, value, expected", [
    ("train", "epochz", 3, ["Unknown key 'train.epochz'", "Did you mean 'epochs'?"]),
    (None, "trian", {}, ["Unknown key 'trian'", "Did you mean 'train'?"]),
    ("train", "epochs", "ten", ["train.epochs = 'ten'", "a valid integer"]),
    ("train", "epochs", 2.5, ["train.epochs = 2.5", "a valid integer"]),
    ("train", "weight_pl", -0.1, ["train.weight_pl = -0.1", "greater than or equal to 0"]),
    ("train", "lr", 0, ["train.lr = 0", "greater than 0"]),
    ("train", "amp", "yes", ["train.amp = 'yes'", "a valid boolean"]),
    ("train", "methods", ["ARPL", "APRL"], ["train.methods[1] = 'APRL'", "did you mean 'ARPL'?", "allowed: Softmax, GCPL, RPL, ARPL"]),
    ("train", "methods", [], ["train.methods = []", "an empty list"]),
    ("train", "methods", ["ARPL", "ARPL"], ["repeats a value"]),
    ("data", "dataset", "fashion_mnist", ["data.dataset = 'fashion_mnist'", "Did you mean 'fashion-mnist'?"]),
    ("data", "splits", [0, 7], ["data.splits holds split 7", "5 splits"]),
    ("data", "image_size", 30, ["data.image_size = 30", "28, 32, 64, 80 or 224"]),
    ("model", "backbone", "resnet50", ["model.backbone = 'resnet50'", "classifier32"]),
    ("osr", "scores", ["own", "maxlogit"], ["osr.scores[1] = 'maxlogit'", "Did you mean 'max_logit'?"]),
    ("run", "device", "gpu", ["run.device = 'gpu'", "auto|cpu|cuda"]),
    ("incremental", "base_classes", 10, ["incremental.base_classes = 10", "at most 9"]),
    ("figures", "backbone", "resnet18", ["figures.backbone = 'resnet18'", "2-D feature"]),
    ("figures", "enabled", "no", ["figures.enabled = 'no'", "a valid boolean"]),
    ("data", "image_size", 96, ["data.image_size = 96", "28, 32, 64, 80 or 224"]),
    ("confusing", "ablation_trials", 0, ["confusing.ablation_trials = 0", "greater than or equal to 1"]),
])
def test_bad_values_are_refused_with_key_value_and_allowed(smoke_params_raw, section, key, value, expected):
    with pytest.raises(ParamsError) as error:
        validate(_broken(smoke_params_raw, section, key, value))
    for text in expected:
        assert text in str(error.value)


def test_feature_size_must_fit_the_backbone(smoke_params_raw):
    params = copy.deepcopy(smoke_params_raw)
    params["model"]["backbone"], params["model"]["feat_dim"] = "classifier32", 64
    with pytest.raises(ParamsError, match="model.feat_dim = 64 does not fit model.backbone = 'classifier32'"):
        validate(params)
    params["model"]["feat_dim"], params["model"]["width"] = 128, 16  # a narrower classifier32 has a 32-d feature
    with pytest.raises(ParamsError, match="whose feature size is set by model.width; set model.feat_dim: null"):
        validate(params)
    params["model"]["feat_dim"] = None
    assert validate(params).model.width == 16
    params["model"]["backbone"], params["model"]["feat_dim"] = "lenetpp", 2
    with pytest.raises(ParamsError, match=r"model.width = 16 applies to networks that take a width \('classifier32', "
                                          r"'small', 'resnet18', 'resnet34'\), not to model.backbone = 'lenetpp'"):
        validate(params)


def test_missing_key_is_named(smoke_params_raw):
    params = copy.deepcopy(smoke_params_raw)
    del params["train"]["lr"]
    with pytest.raises(ParamsError, match="train.lr is missing"):
        validate(params)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


def test_profiles_without_open_set_trials(smoke_params_raw):
    """data.splits: [] trains the all-class model only; it needs train.closed_set, and the datasets without
    published splits need num_known only when trials or figures ask for a split."""
    params = copy.deepcopy(smoke_params_raw)
    params["data"]["splits"] = []
    assert validate(copy.deepcopy(params)).data.splits == []
    params["train"]["closed_set"] = False
    with pytest.raises(ParamsError, match="nothing would be trained"):
        validate(copy.deepcopy(params))
    params["train"]["closed_set"] = True
    params["data"].update(dataset="domainnet-real-A", image_size=80, channels=3)
    params["ood"]["sets"] = ["domainnet-real-B"]
    with pytest.raises(ParamsError, match="figures.enabled: false"):
        validate(copy.deepcopy(params))
    params["figures"]["enabled"] = False
    params["incremental"]["base_classes"] = 500  # not checked while the stage is off
    params["incremental"]["enabled"] = False
    assert validate(params).data.dataset == "domainnet-real-A"


def test_import_paths_lists_every_own_entry_with_its_key(smoke_params):
    from arpl.pipeline.params import import_paths

    assert import_paths(smoke_params) == []
    smoke_params.train.methods = ["Softmax", "my_pkg.heads:Head"]
    smoke_params.model.backbone = "my_pkg.nets:Net"
    smoke_params.run.device = "cuda:1"            # a colon, but no import path: not a registered field
    assert import_paths(smoke_params) == [("model.backbone", "my_pkg.nets:Net"), ("train.methods", "my_pkg.heads:Head")]
