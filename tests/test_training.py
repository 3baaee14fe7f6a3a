"""Training (Algorithms 1 and 2) on real Fashion-MNIST images: learning works, runs are deterministic,
a SIGKILLed run resumes to the same numbers, non-finite losses stop or skip, checkpoints are checked."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from arpl import metrics
from arpl.evaluate import predict
from arpl.pipeline.runs import images
from arpl.pipeline.params import validate
from arpl.training import NonFiniteLossError, fit
from arpl.training.checkpoint import CheckpointMismatchError, load_model, read_checkpoint
from arpl.training.specs import ModelSpec, TrainSpec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def split0(smoke_params_raw):
    params = copy.deepcopy(smoke_params_raw)
    params["run"]["data_root"] = str(ROOT / "data" / "raw")
    params["data"]["train_per_class"], params["data"]["test_per_class"] = 2000, 500
    return images.open_set(validate(params), 0)


def _small(images, labels, count):
    return images[:count], labels[:count]


def _specs(method="ARPL", epochs=2, **train):
    model = ModelSpec(method=method, backbone="small", num_classes=6, feat_dim=32)
    return model, TrainSpec(epochs=epochs, lr=0.05, milestones=(30,), **train)


def test_arpl_learns_fashion_mnist_split0(split0, tmp_path):
    """A check that learning works (not a benchmark): ARPL on split 0 with the CPU default's network and
    schedule (6 epochs, one decay), 2000 images per class, CPU, well under a minute."""
    model = ModelSpec(method="ARPL", backbone="small", num_classes=6)
    train = TrainSpec(epochs=6, lr=0.1, milestones=(4,))
    result = fit(model, train, split0.train_known.images, split0.train_known.labels, tmp_path)
    known = predict(result.net, split0.test_known.images)
    unknown = predict(result.net, split0.test_unknown.images)
    accuracy = metrics.accuracy(known.predicted(), split0.test_known.labels.numpy())
    auroc = metrics.auroc(known.scores("max_distance"), unknown.scores("max_distance"))
    print(f"ARPL split 0: accuracy {accuracy:.3f}, AUROC {auroc:.3f}")
    assert accuracy >= 0.85
    assert auroc > 0.70


def test_same_seed_same_numbers(split0, tmp_path):
    images, labels = _small(split0.train_known.images, split0.train_known.labels, 512)
    model, train = _specs()
    first = fit(model, train, images, labels, tmp_path / "a").history
    second = fit(model, train, images, labels, tmp_path / "b").history
    for a, b in zip(first, second):
        assert {k: v for k, v in a.items() if k not in ("seconds", "images_per_s")} == \
               {k: v for k, v in b.items() if k not in ("seconds", "images_per_s")}


def test_channels_last_on_the_cpu_trains_the_same_model(split0, tmp_path):
    """``train.channels_last`` (on in the CPU default, where it is about 15% faster) only changes the memory
    layout: the same run gives the same losses up to float rounding, and the network is channels-last."""
    images, labels = _small(split0.train_known.images, split0.train_known.labels, 256)
    model, train = _specs(method="Softmax", epochs=1)
    plain = fit(model, train, images, labels, tmp_path / "plain")
    fast = fit(model, replace(train, channels_last=True), images, labels, tmp_path / "fast")
    conv = next(m for m in fast.net.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert fast.history[-1]["loss"] == pytest.approx(plain.history[-1]["loss"], rel=1e-4)


def test_confusing_samples_run_is_deterministic_and_uses_abn(split0, tmp_path):
    images, labels = _small(split0.train_known.images, split0.train_known.labels, 256)
    model = ModelSpec(method="ARPL", backbone="small", num_classes=6, feat_dim=16, abn=True)
    train = TrainSpec(epochs=1, lr=0.05, confusing=True, ngf=8, ndf=8)
    first = fit(model, train, images, labels, tmp_path / "a")
    second = fit(model, train, images, labels, tmp_path / "b")
    assert first.history[0]["loss_g"] == second.history[0]["loss_g"]
    for key in ("loss_d", "loss_g", "loss_cs", "loss", "train_acc"):
        assert np.isfinite(first.history[0][key])
    states = read_checkpoint(first.checkpoint)["states"]
    assert set(states) == {"net", "generator"}, "a finished run keeps the networks, not the optimisers' states"
    fake_bn = [k for k in states["net"] if ".bns.1." in k and k.endswith("running_mean")]
    assert fake_bn, "the auxiliary BN of generated samples has its own statistics"


@pytest.mark.parametrize("backbone, image_size", [("classifier32", 64), ("resnet34", 80), ("resnet34", 32)])
def test_confusing_samples_train_with_the_paper_profiles_backbones(backbone, image_size, tmp_path):
    """Algorithm 2 with the backbone and the GAN of TinyImageNet (classifier32, 64 px), DomainNet (ResNet-34, 80 px)
    and CIFAR100 (ResNet-34, 32 px): one epoch on a few synthetic images gives finite losses and a checkpoint with both
    networks. In the test suite, the quick runs of those profiles run at 32 px and the ResNet ones without ARPL+CS
    (tests/test_paper_profiles.py)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (8, 3, image_size, image_size), generator=generator, dtype=torch.uint8)
    labels = torch.tensor([0, 1] * 4)
    model = ModelSpec(method="ARPL", backbone=backbone, num_classes=2, in_channels=3, image_size=image_size, abn=True)
    train = TrainSpec(epochs=1, batch_size=4, lr=0.01, confusing=True, ngf=8, ndf=8)
    result = fit(model, train, images, labels, tmp_path)
    for key in ("loss_d", "loss_g", "loss_cs", "loss"):
        assert np.isfinite(result.history[0][key]), key
    assert set(read_checkpoint(result.checkpoint)["states"]) == {"net", "generator"}


@pytest.mark.parametrize("channels_last", [False, True])
def test_a_finished_run_loads_as_fit_would_return_it(split0, tmp_path, channels_last):
    """The pipeline loads a finished run without building its optimisers (arpl.pipeline.runs.trained.finished_result):
    the same networks, memory layout, history and random state afterwards as ``fit`` called on the finished run."""
    from arpl.pipeline.runs.trained import finished_payload, finished_result

    images, labels = _small(split0.train_known.images, split0.train_known.labels, 128)
    model = ModelSpec(method="ARPL", backbone="small", num_classes=6, feat_dim=16, abn=True)
    train = TrainSpec(epochs=1, lr=0.05, confusing=True, ngf=8, ndf=8, channels_last=channels_last)
    fit(model, train, images, labels, tmp_path)
    fitted = fit(model, train, images, labels, tmp_path)
    after_fit = torch.get_rng_state()
    payload = finished_payload(model, train, fitted.checkpoint)
    loaded = finished_result(model, train, payload, fitted.checkpoint, torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), after_fit)
    assert loaded.history == fitted.history and loaded.resumed_from == fitted.resumed_from == 1
    for mine, theirs in ((loaded.net, fitted.net), (loaded.generator, fitted.generator)):
        assert not mine.training and not theirs.training
        for (name, a), (_, b) in zip(mine.state_dict().items(), theirs.state_dict().items(), strict=True):
            assert torch.equal(a, b) and a.stride() == b.stride(), name
    assert finished_payload(model, replace(train, epochs=2), fitted.checkpoint) is None
    assert finished_payload(replace(model, feat_dim=8), train, fitted.checkpoint) is None


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys, torch
    from arpl.data import batches
    from arpl.training.specs import ModelSpec, TrainSpec
    from arpl.training import fit

    original = batches.Batches.epoch
    def epoch_that_dies(self, epoch):
        for index, batch in enumerate(original(self, epoch)):
            if epoch == 1 and index == 3:
                os.kill(os.getpid(), signal.SIGKILL)   # mid-epoch, after epoch 1 was checkpointed
            yield batch
    batches.Batches.epoch = epoch_that_dies

    data = torch.load(sys.argv[1], weights_only=True)
    model = ModelSpec(method="ARPL", backbone="small", num_classes=6, feat_dim=16)
    fit(model, TrainSpec(epochs=3, lr=0.05), data["images"], data["labels"], sys.argv[2])
""")


def test_sigkill_mid_epoch_resumes_to_the_uninterrupted_numbers(split0, tmp_path):
    images, labels = _small(split0.train_known.images, split0.train_known.labels, 512)
    torch.save({"images": images, "labels": labels}, tmp_path / "data.pt")
    script = tmp_path / "train_and_die.py"
    script.write_text(KILL_SCRIPT)
    killed = subprocess.run([sys.executable, str(script), str(tmp_path / "data.pt"), str(tmp_path / "killed")],
                            capture_output=True, text=True, cwd=ROOT)
    assert killed.returncode == -9, killed.stderr
    assert read_checkpoint(tmp_path / "killed" / "checkpoint.pt")["epoch"] == 1
    model = ModelSpec(method="ARPL", backbone="small", num_classes=6, feat_dim=16)
    train = TrainSpec(epochs=3, lr=0.05)
    resumed = fit(model, train, images, labels, tmp_path / "killed")
    straight = fit(model, train, images, labels, tmp_path / "straight")
    assert resumed.resumed_from == 1
    strip = lambda h: [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in h]
    assert strip(resumed.history) == strip(straight.history)
    for a, b in zip(resumed.net.state_dict().values(), straight.net.state_dict().values()):
        assert torch.equal(a, b)


def test_finished_run_is_reused_and_other_settings_start_over(split0, tmp_path, capsys):
    images, labels = _small(split0.train_known.images, split0.train_known.labels, 128)
    model, train = _specs(epochs=1)
    fit(model, train, images, labels, tmp_path)
    again = fit(model, train, images, labels, tmp_path)
    assert again.resumed_from == 1
    other = fit(model, TrainSpec(epochs=1, lr=0.01, milestones=(30,)), images, labels, tmp_path)
    assert other.resumed_from == 0
    assert "another configuration" in capsys.readouterr().out


def test_nonfinite_loss_stops_with_method_epoch_batch_and_keeps_checkpoint(split0, tmp_path):
    """An absurd learning rate makes the weights explode (uint8 images cannot carry a NaN themselves)."""
    images, labels = _small(split0.train_known.images, split0.train_known.labels, 256)
    model, train = _specs(epochs=1)
    fit(model, train, images, labels, tmp_path)                   # a good epoch-1 checkpoint
    exploding = TrainSpec(epochs=2, lr=1e12, milestones=(30,))
    model_2 = ModelSpec(method="ARPL", backbone="small", num_classes=6, feat_dim=32)
    with pytest.raises(NonFiniteLossError) as error:
        fit(model_2, exploding, images, labels, tmp_path / "boom", label="ARPL split0")
    message = str(error.value)
    assert "ARPL split0" in message and "epoch" in message and "batch" in message
    assert "on_nonfinite: skip_batch" in message
    assert read_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1


def test_skip_batch_switch_skips_nonfinite_batches(split0, tmp_path):
    images, labels = _small(split0.train_known.images, split0.train_known.labels, 256)
    model = ModelSpec(method="ARPL", backbone="small", num_classes=6, feat_dim=32)
    result = fit(model, TrainSpec(epochs=1, lr=1e12, milestones=(30,), on_nonfinite="skip_batch"), images, labels,
                 tmp_path)
    assert result.history[0]["skipped_batches"] >= 1


def test_checkpoint_of_another_configuration_is_refused(split0, tmp_path):
    images, labels = _small(split0.train_known.images, split0.train_known.labels, 128)
    model, train = _specs(epochs=1)
    fit(model, train, images, labels, tmp_path)
    with pytest.raises(CheckpointMismatchError, match="num_classes: checkpoint has 6, requested 10"):
        load_model(tmp_path / "checkpoint.pt", expected={"num_classes": 10})
    with pytest.raises(CheckpointMismatchError, match="backbone"):
        load_model(tmp_path / "checkpoint.pt", expected={"backbone": "classifier32"})
    net, _ = load_model(tmp_path / "checkpoint.pt", expected={"num_classes": 6, "feat_dim": 32})
    assert net.head.bases().shape == (6, 32)


def test_truncated_or_unsafe_checkpoint_is_refused(tmp_path):
    (tmp_path / "truncated.pt").write_bytes(b"PK\x03\x04 not a whole file")
    with pytest.raises(CheckpointMismatchError, match="not a readable checkpoint"):
        read_checkpoint(tmp_path / "truncated.pt")
    torch.save({"format": 1, "payload": Fraction(1, 3)}, tmp_path / "pickled.pt")   # needs full unpickling
    with pytest.raises(CheckpointMismatchError, match="not a readable checkpoint"):
        read_checkpoint(tmp_path / "pickled.pt")


def _entropy_that_blows_up_at(call_number: int):
    """A fault injector: the generated-sample entropy term returns NaN from its ``call_number``-th call on."""
    from arpl.methods.arpl import ARPLHead

    original, calls = ARPLHead.entropy_term, {"n": 0}

    def entropy_term(self, features, form="code"):
        calls["n"] += 1
        value = original(self, features, form)
        return value * float("nan") if calls["n"] >= call_number else value

    return entropy_term


def test_gan_blowing_up_stops_naming_the_batch(split0, tmp_path, monkeypatch):
    from arpl.methods.arpl import ARPLHead

    images, labels = _small(split0.train_known.images, split0.train_known.labels, 256)
    monkeypatch.setattr(ARPLHead, "entropy_term", _entropy_that_blows_up_at(5))
    model = ModelSpec(method="ARPL", backbone="small", num_classes=6, feat_dim=16, abn=True)
    with pytest.raises(NonFiniteLossError, match=r"\[ARPL\+CS split0\] non-finite loss .* epoch 1, batch 2"):
        fit(model, TrainSpec(epochs=1, confusing=True, ngf=8, ndf=8), images, labels, tmp_path, label="ARPL+CS split0")


def test_gan_blowing_up_with_skip_batch_keeps_the_weights_finite(split0, tmp_path, monkeypatch):
    from arpl.methods.arpl import ARPLHead

    images, labels = _small(split0.train_known.images, split0.train_known.labels, 256)
    monkeypatch.setattr(ARPLHead, "entropy_term", _entropy_that_blows_up_at(5))
    model = ModelSpec(method="ARPL", backbone="small", num_classes=6, feat_dim=16, abn=True)
    result = fit(model, TrainSpec(epochs=1, confusing=True, ngf=8, ndf=8, on_nonfinite="skip_batch"), images,
                 labels, tmp_path)
    assert result.history[0]["skipped_cs_batches"] >= 1
    for state in read_checkpoint(result.checkpoint)["states"].values():
        tensors = [v for v in state.values() if isinstance(v, torch.Tensor) and v.is_floating_point()] \
            if isinstance(state, dict) else []
        assert all(torch.isfinite(t).all() for t in tensors)


def test_an_unfinished_checkpoint_keeps_every_state_a_finished_one_the_networks(split0, tmp_path):
    """Resuming needs the optimisers, the scheduler and the discriminator; a finished run is never trained
    further (more epochs are another fingerprint), so its checkpoint keeps only what evaluation loads, and the run
    is still reused from it."""
    from arpl.training.checkpoint import save_checkpoint

    images, labels = _small(split0.train_known.images, split0.train_known.labels, 128)
    model = ModelSpec(method="ARPL", backbone="small", num_classes=6, feat_dim=16, abn=True)
    train = TrainSpec(epochs=2, confusing=True, ngf=8, ndf=8)
    finished = fit(model, train, images, labels, tmp_path)
    payload = read_checkpoint(finished.checkpoint)
    assert set(payload["states"]) == {"net", "generator"}
    everything = {"net": {}, "optimizer": {}, "scheduler": {}, "generator": {}, "discriminator": {}}
    save_checkpoint(tmp_path / "unfinished.pt", model_spec=model, train_spec=train, epoch=1, states=everything,
                    history=payload["history"][:1])
    assert set(read_checkpoint(tmp_path / "unfinished.pt")["states"]) == set(everything)
    again = fit(model, train, images, labels, tmp_path)
    assert again.resumed_from == 2 and all(torch.equal(a, b) for a, b in zip(
        again.net.state_dict().values(), finished.net.state_dict().values()))
    assert torch.equal(next(again.generator.parameters()), next(finished.generator.parameters()))


def test_gan_loss_keeps_its_gradient_when_the_discriminator_is_saturated():
    """Eq. 15-16 through ``_bce``: at a saturated logit the generator still gets the full BCE gradient
    (d/dz of -log sigmoid(z) = sigmoid(z) - 1 -> -1), as with the authors' nn.BCELoss; a clamped probability
    would give 0 there."""
    from arpl.training.algorithm2 import _bce

    logits = torch.tensor([-40.0, -17.5, 0.0, 30.0], requires_grad=True)
    loss = _bce(lambda images: images, logits, torch.ones(4), TrainSpec(), torch.device("cpu"))
    loss.backward()
    expected = (torch.sigmoid(logits.detach()) - 1) / 4
    assert torch.allclose(logits.grad, expected, atol=1e-7)
    assert logits.grad[0].item() == pytest.approx(-0.25)
    assert torch.isfinite(loss)


def test_checkpoint_every_n_epochs_evaluates_and_saves_then_and_after_the_last(split0, tmp_path):
    """checkpoint_every=2 of 3 epochs: evaluated and checkpointed after epochs 2 and 3 only; the numbers are those
    of a run checkpointed every epoch (saving does not touch the random streams)."""
    images, labels = _small(split0.train_known.images, split0.train_known.labels, 192)
    model, train = _specs(epochs=3)
    saved = []

    def evaluate(net, epoch):
        saved.append(epoch)
        return {"probe": float(epoch)}

    sparse = fit(model, train, images, labels, tmp_path / "sparse", evaluate=evaluate, checkpoint_every=2)
    assert saved == [2, 3]
    assert ["probe" in row for row in sparse.history] == [False, True, True]
    every = fit(model, train, images, labels, tmp_path / "every")
    assert [row["loss"] for row in sparse.history] == [row["loss"] for row in every.history]
    assert read_checkpoint(sparse.checkpoint)["epoch"] == 3


def test_a_deferred_nonfinite_check_stops_at_its_next_read_naming_the_batches(split0):
    """On a GPU in stop mode the losses are or-ed into a device flag read every CHECK_EVERY steps: a NaN at batch
    3 passes unnoticed until the read after batch CHECK_EVERY - 1, which names the batches since the last read."""
    from arpl.training.distributed import DistContext
    from arpl.training.step import CHECK_EVERY, FiniteGuard

    guard = FiniteGuard(TrainSpec(), "ARPL split0", 0, DistContext(), torch.device("cpu"))
    guard.deferred = True  # as on a GPU
    finite, nan = torch.tensor(1.0), torch.tensor(float("nan"))
    assert all(guard(finite, index) for index in range(CHECK_EVERY))  # a read after each CHECK_EVERY: clean
    assert guard(nan, CHECK_EVERY + 3)
    with pytest.raises(NonFiniteLossError, match=rf"epoch 1, one of batches {CHECK_EVERY}-{2 * CHECK_EVERY - 1}\."):
        for index in range(CHECK_EVERY + 4, 2 * CHECK_EVERY):
            guard(finite, index)
    skipping = FiniteGuard(TrainSpec(on_nonfinite="skip_batch"), "x", 0, DistContext(), torch.device("cuda"))
    assert not skipping.deferred  # skipping a batch needs its loss read at once
