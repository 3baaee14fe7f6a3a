"""Independent runs in parallel one-thread processes, ARPL+CS settings (warm start, subset) and the small
helpers the stages use to size their runs."""

from __future__ import annotations

import copy
import os
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from arpl.methods.arpl import ARPLHead
from arpl.pipeline.runs import workers, images, specs, trained
from arpl.pipeline.params import Params, ParamsError, validate
from arpl.pipeline.runs import checkpoint_path
from arpl.training import fit, warm_start
from arpl.training.checkpoint import read_checkpoint
from arpl.training.network import build_model
from arpl.training.specs import ModelSpec, TrainSpec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_params(smoke_params):
    params = copy.deepcopy(smoke_params)
    params.data.train_per_class, params.data.test_per_class = 40, 20
    params.train.epochs = 1
    params.run.device = "cpu"
    return params


def _weights(path: Path) -> dict:
    return read_checkpoint(path)["states"]["net"]


def test_runs_trained_ahead_in_workers_equal_runs_trained_here(tiny_params, tmp_path, monkeypatch):
    (tmp_path / "ahead").mkdir(), (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "ahead")
    tiny_params.run.workers = 2
    runs = [partial(trained.train_stage_run, tiny_params, "train", method, "split0") for method in ("ARPL", "GCPL")]
    workers.train_ahead(tiny_params, runs)
    ahead = {m: _weights(checkpoint_path("train", m, "split0")) for m in ("ARPL", "GCPL")}
    monkeypatch.chdir(tmp_path / "here")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for run in runs:
            run()
    finally:
        torch.set_num_threads(threads)
    for method, weights in ahead.items():
        here = _weights(checkpoint_path("train", method, "split0"))
        assert all(torch.equal(weights[k], here[k]) for k in weights), method


def test_only_unfinished_runs_go_to_the_workers(tiny_params, tmp_path, monkeypatch):
    """A stage rerun with every run finished starts no worker process (each would only load a checkpoint again);
    a run whose settings changed, or an ARPL+CS run whose ARPL model it starts from is unfinished, still goes."""
    monkeypatch.chdir(tmp_path)
    tiny_params.run.workers = 2

    def runs(params: Params, stage: str, names: tuple[str, ...]) -> list:
        return [partial(trained.train_stage_run, params, stage, name, "split0") for name in names]

    plain = runs(tiny_params, "train", ("Softmax", "ARPL"))
    cs = runs(tiny_params, "confusing", ("cs",))
    assert trained.unfinished(plain) == plain
    for run in plain:
        run()
    assert trained.unfinished(plain) == [] and trained.unfinished(cs) == cs
    started = []
    monkeypatch.setattr(trained, "train_ahead", lambda params, todo: started.append(todo))
    trained.train_ahead_unfinished(tiny_params, plain)
    assert started == [[]]
    other = copy.deepcopy(tiny_params)
    other.train.weight_pl = 0.5   # lambda shapes ARPL, not Softmax
    changed = runs(other, "train", ("Softmax", "ARPL"))
    assert trained.unfinished(changed) == changed[1:]
    assert trained.unfinished(runs(other, "confusing", ("cs",))) != []


def test_one_worker_trains_nothing_ahead(tiny_params, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny_params.run.workers = 1
    workers.train_ahead(tiny_params, [partial(trained.train_stage_run, tiny_params, "train", "ARPL", "split0")])
    assert not (tmp_path / "runs").exists()


def test_worker_count_is_one_under_torchrun(tiny_params, monkeypatch):
    tiny_params.run.workers = 0
    assert workers.worker_count(tiny_params) == len(os.sched_getaffinity(0))
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert workers.worker_count(tiny_params) == 1


@pytest.mark.parametrize("free_gb, expected", [(3, 1), (13, 2), (140, workers.MAX_GPU_WORKERS)])
def test_on_a_gpu_the_workers_are_sized_from_its_free_memory(tiny_params, monkeypatch, free_gb, expected):
    """0 workers on CUDA: as many runs as the free memory holds at GPU_RUN_MEMORY_GB each, capped; a number set in
    params.yaml is taken as it is."""
    from arpl.training import distributed

    monkeypatch.setattr(distributed, "resolve_device", lambda name: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free_gb * 2**30, 141 * 2**30))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    tiny_params.run.device, tiny_params.run.workers = "cuda", 0
    assert workers.worker_count(tiny_params) == expected
    tiny_params.run.workers = 3
    assert workers.worker_count(tiny_params) == 3


def test_warm_start_copies_the_known_domain_into_the_auxiliary_batch_norm(tmp_path):
    images, labels = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8), torch.arange(64) % 3
    plain = ModelSpec(method="ARPL", backbone="small", num_classes=3, feat_dim=8)
    source = fit(plain, TrainSpec(epochs=1, lr=0.05), images, labels, tmp_path / "plain").checkpoint
    net = build_model(ModelSpec(method="ARPL", backbone="small", num_classes=3, feat_dim=8, abn=True))
    warm_start(net, source)
    weights = _weights(source)
    state = net.state_dict()
    for key, value in weights.items():
        assert torch.equal(state[key], value)
        if ".bns.0." in key:
            assert torch.equal(state[key.replace(".bns.0.", ".bns.1.")], value)
    with pytest.raises(Exception, match="cannot start this network"):
        warm_start(build_model(ModelSpec(method="ARPL", backbone="lenetpp", num_classes=3)), source)


def test_confusing_settings_warm_start_from_the_arpl_run_and_use_their_subset(tiny_params, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny_params = tiny_params.replace("confusing", init="arpl", epochs=2, lr=0.01, train_per_class=10)
    trained.train_stage_run(tiny_params, "train", "ARPL", "split0")
    train = images.open_set(tiny_params, 0).train_known
    source = checkpoint_path("train", "ARPL", "split0")
    subset, overrides = trained.confusing_settings(tiny_params, train, "split0", "cs", source)
    assert len(subset) == 10 * len(train.classes)
    assert overrides["epochs"] == 2 and overrides["lr"] == 0.01 and overrides["milestones"] == ()
    assert overrides["init_from"] == f"{source}@{read_checkpoint(source)['fingerprint']}"
    row = trained.train_stage_run(tiny_params, "confusing", "cs", "split0")
    assert row["epoch"] == 2


def test_arpl_init_needs_arpl_among_the_methods(smoke_params):
    params = copy.deepcopy(smoke_params)
    params.confusing.init = "arpl"
    params.train.methods = ["Softmax"]
    with pytest.raises(ParamsError, match="lacks ARPL"):
        validate(params)


def test_with_train_subset_changes_only_the_training_images_per_class(smoke_params):
    changed = images.with_train_subset(smoke_params, 7)
    assert changed.data.train_per_class == 7 and smoke_params.data.train_per_class == 100
    assert images.with_train_subset(smoke_params, None) is smoke_params


def test_margin_active_fraction_counts_samples_with_a_positive_margin_term():
    head = ARPLHead(feat_dim=2, num_classes=2)
    with torch.no_grad():
        head.points.copy_(torch.tensor([[0.0, 0.0], [3.0, 0.0]]))
        head.R.fill_(0.5)
    features = torch.tensor([[0.0, 0.0], [2.0, 2.0], [3.0, 0.0], [3.0, 3.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # d_e = mean squared distance to the own point: 0, 4, 0, 4.5; code form active where d_e - R + 1 > 0: all
    assert head.margin_active_fraction(features, labels) == 1.0
    with torch.no_grad():
        head.R.fill_(4.2)  # active where d_e > 3.2: the two far samples
    assert head.margin_active_fraction(features, labels) == 0.5


def test_shorter_runs_get_their_milestones_scaled(smoke_params):
    assert specs.scaled_milestones((5, 7), 8, 4) == (2, 3)
    assert specs.scaled_milestones((30, 60, 90, 120), 100, 30) == (9, 18, 27, 36)
    assert specs.scaled_milestones((1,), 8, 2) == (1,)
    params = smoke_params.replace("train", epochs=8, milestones=[5, 7])
    assert specs.train_spec(params, "split0", epochs=4).milestones == (2, 3)
    assert specs.train_spec(params, "split0", epochs=4, milestones=()).milestones == ()
    assert specs.train_spec(params, "split0").milestones == (5, 7)


def test_per_epoch_evaluators_see_a_fixed_stratified_subset_of_the_test_images(monkeypatch):
    from arpl.data.imageset import ImageSet
    from arpl.data.openset import OpenSetData, OpenSetSplit
    from arpl.evaluate import Predictions

    def images(classes, per_class):
        labels = torch.arange(classes).repeat_interleave(per_class)
        return ImageSet(torch.zeros(len(labels), 1, 8, 8, dtype=torch.uint8), labels, list(range(classes)))

    seen = []

    def fake_predict(net, batch, device="cpu"):
        seen.append(len(batch))
        return Predictions(features=torch.zeros(len(batch), 2).numpy(), logits=torch.zeros(len(batch), 3).numpy())

    monkeypatch.setattr(trained, "predict", fake_predict)
    per_class = trained.MONITOR_PER_CLASS
    data = OpenSetData(images(3, 5), images(3, per_class + 40), images(2, per_class + 7),
                       OpenSetSplit([0, 1, 2], [3, 4], "test"))
    net = SimpleNamespace(head=None)  # a head without a margin: no R to report
    row = trained.open_set_evaluator(data, "Softmax", torch.device("cpu"))(net, 1)
    trained.closed_set_evaluator(images(3, 10), torch.device("cpu"))(net, 1)
    assert seen == [3 * per_class, 2 * per_class, 3 * 10] and 0 <= row["auroc"] <= 1
