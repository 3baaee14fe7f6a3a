"""A user's dataset and backbone, in a module outside arpl/ (tests/tiny_extensions.py), named in params.yaml by
import path: validated with the params, checked, and trained for an epoch like any built-in one."""

from __future__ import annotations

import copy

import pytest

from arpl.evaluate import predict
from arpl.pipeline.checks import check_data
from arpl.pipeline.params import Params, ParamsError, validate
from arpl.pipeline.runs.images import open_set
from arpl.pipeline.runs import split_run
from arpl.pipeline.runs.trained import train_run
from arpl.training.checkpoint import load_model

DATASET, BACKBONE = "tiny_extensions:TINY_BLOBS", "tiny_extensions:TINY_NET"


@pytest.fixture
def tiny_params(smoke_params) -> Params:
    params = smoke_params.replace("data", dataset=DATASET, num_known=2, splits=[0], train_per_class=None,
                                  test_per_class=None)
    params = params.replace("model", backbone=BACKBONE, feat_dim=4, width=None)
    params.ood.sets = ["gaussian-noise"]
    params.incremental.enabled = params.figures.enabled = False
    params.run.device, params.run.workers = "cpu", 1
    return validate(params)


def test_a_user_dataset_and_backbone_train_an_epoch(tiny_params, tmp_path):
    data = open_set(tiny_params, 0)
    assert data.num_known == 2 and len(data.train_known) == 2 * 40 and len(data.test_unknown) == 2 * 40
    result = train_run(tiny_params, "ARPL", data.train_known, tmp_path / "run", split_run(0),
                       train_overrides={"epochs": 1})
    assert [row["epoch"] for row in result.history] == [1] and result.net.backbone.feat_dim == 4
    net, payload = load_model(result.checkpoint, expected={"backbone": BACKBONE, "num_classes": 2})
    assert type(net.backbone).__name__ == "TinyNet"
    assert payload["train_spec"]["data_tag"].startswith(f"{DATASET}:split0:28px")
    assert predict(net, data.test_known.images).logits.shape == (len(data.test_known), 2)


def test_check_reports_a_user_dataset_without_files(tiny_params):
    assert check_data(tiny_params)[0] == f"ok  {DATASET}: no files to check in advance (its loader reads them)"


@pytest.mark.parametrize("key, value, expected", [
    ("backbone", "tiny-net", "unknown backbone 'tiny-net'; registered: classifier32, lenetpp, small, resnet18, resnet34"),
    ("backbone", "tiny_extensions:TINY_BLOBS", "is a DatasetSource, not a Backbone"),
    ("backbone", "tiny_extensions:NOPE", "module 'tiny_extensions' has no attribute 'NOPE'"),
    ("backbone", "no_such_module:TinyNet", "cannot import module 'no_such_module'"),
])
def test_a_bad_backbone_name_lists_what_is_registered(tiny_params, key, value, expected):
    params = copy.deepcopy(tiny_params)
    setattr(params.model, key, value)
    with pytest.raises(ParamsError, match="model.backbone") as error:
        validate(params)
    assert expected in str(error.value)


def test_a_bad_dataset_name_lists_what_is_registered(tiny_params):
    params = copy.deepcopy(tiny_params)
    params.data.dataset = "tiny-blobs"
    with pytest.raises(ParamsError, match="unknown dataset 'tiny-blobs'; registered: fashion-mnist, mnist"):
        validate(params)
    params.data.dataset = "gaussian-noise"
    with pytest.raises(ParamsError, match="out-of-distribution set, not an open-set dataset"):
        validate(params)
