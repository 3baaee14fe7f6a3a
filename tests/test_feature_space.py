"""The 2-D models of the feature-space figures: ARPL+CS follows confusing.init like the confusing stage."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from arpl.pipeline.runs import trained
from arpl.stages import figures


@pytest.fixture
def calls(monkeypatch):
    recorded = []

    def fake_train_run(params, method, images, folder, run, variant=None, model_overrides=None, train_overrides=None,
                       label=None):
        recorded.append({"folder": folder.as_posix(), "variant": variant, "label": label, **train_overrides})
        return SimpleNamespace(net=None)

    monkeypatch.setattr(figures, "train_run", fake_train_run)
    monkeypatch.setattr(figures, "open_set", lambda params, split: SimpleNamespace(train_known=_TinySet()))
    monkeypatch.setattr(trained, "per_class_subset", lambda images, per_class, seed: images)
    monkeypatch.setattr(trained, "read_checkpoint", lambda path: {"fingerprint": "f00d"})
    return recorded


class _TinySet:
    classes = [0, 1]


def _cs_model(params):
    return next(m for m in figures.figure7_models(params.train.weight_pl) if m.variant == "cs")


def test_arpl_cs_is_fine_tuned_from_the_2d_arpl_model_under_init_arpl(smoke_params, calls):
    params = smoke_params.replace("confusing", init="arpl", epochs=1)
    figures.figure7_run(params, _cs_model(params))
    source, cs = calls
    assert source == {"folder": "runs/figures/ARPL_lambda0.1/split0", "variant": None,
                      "label": "ARPL (lambda=0.1) 2-D split0", "epochs": params.figures.epochs}
    assert cs["folder"] == "runs/figures/ARPL_CS/split0" and cs["variant"] == "cs" and cs["epochs"] == 1
    assert cs["init_from"] == "runs/figures/ARPL_lambda0.1/split0/checkpoint.pt@f00d"


def test_arpl_cs_trains_from_scratch_for_figures_epochs_under_init_scratch(smoke_params, calls):
    params = copy.deepcopy(smoke_params)
    params.confusing.init = "scratch"
    figures.figure7_run(params, _cs_model(params))
    assert calls == [{"folder": "runs/figures/ARPL_CS/split0", "variant": "cs", "label": "ARPL+CS 2-D split0",
                      "epochs": params.figures.epochs}]


@pytest.mark.parametrize("init, trained_apart", [("arpl", False), ("scratch", True)])
def test_the_source_model_is_not_trained_twice_side_by_side(smoke_params, monkeypatch, init, trained_apart):
    params = copy.deepcopy(smoke_params)
    params.confusing.init = init
    jobs = []
    monkeypatch.setattr(figures, "train_ahead_unfinished", lambda params, runs: jobs.extend(runs))
    figures.train_models(params)
    titles = [job.args[1].title for job in jobs if job.func is figures.figure7_run]
    assert titles[0] == "ARPL+CS" and len(titles) == 5 + trained_apart
    assert ("ARPL (lambda=0.1)" in titles) == trained_apart
