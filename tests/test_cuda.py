"""The CUDA path: every backbone, the DCGAN pair, every head and both training loops on a GPU, bf16 autocast
and channels_last against float32, fused optimisers, data and augmentation on the GPU, and checkpoints
written on the GPU read back on the CPU and on the GPU again.

Every test here carries the ``cuda`` marker and is skipped ("needs CUDA") without a GPU; step 1 of
``bash scripts/gpu_check.sh`` runs them (``pytest -m cuda tests/test_cuda.py``). To check the tests themselves
on a machine without a GPU, ``ARPL_CUDA_TESTS_DEVICE=cpu`` runs them on the CPU instead (the parity checks are
then nearly trivial, and fit ignores ``amp`` off CUDA).

Tolerances (float32 references run without TF32, see ``exact_float32``):

- GPU against CPU, float32: ``FLOAT32_TOLERANCE`` relative to the largest value (rounding order only).
- channels_last against contiguous, float32: the same ``FLOAT32_TOLERANCE``.
- bf16 autocast against float32, classifier32 at initialisation, 64 random images: logits within 5% of the
  largest logit, loss within 1%, gradient cosine similarity at least 0.95. bf16 keeps 8 bits of mantissa;
  measured with CPU bf16 autocast (same rounding), logits differed by at most 1.0% of the largest, the loss by
  7e-5 (relative) and gradients had cosine at least 0.989 (every head, eight seeds).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from arpl.data.batches import Batches
from arpl.data.transforms import Augment
from arpl.evaluate import predict
from arpl.models import BACKBONES, build_backbone, build_gan
from arpl.training import fit
from arpl.training.checkpoint import load_model, read_checkpoint
from arpl.training.network import build_model
from arpl.training.optim import build_gan_optimizer, build_optimizer
from arpl.training.specs import ModelSpec, TrainSpec

DEVICE = torch.device(os.environ.get("ARPL_CUDA_TESTS_DEVICE", "cuda"))
METHODS = ("Softmax", "GCPL", "RPL", "ARPL")
NUM_CLASSES = 6
FLOAT32_TOLERANCE = 1e-3
BF16_LOGIT_TOLERANCE = 0.05
BF16_LOSS_TOLERANCE = 0.01
BF16_MIN_GRADIENT_COSINE = 0.95

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.fixture
def exact_float32():
    """True float32 on the GPU (TF32 off for convolutions and matrix products) while a test runs, so that
    its float32 references can be compared tightly; training itself runs with PyTorch's defaults."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _images(count: int = 64, channels: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Random uint8 images [count, channels, size, size] (fixed seed)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, channels, size, size), dtype=torch.uint8, generator=generator)


def _labels(count: int = 64) -> torch.Tensor:
    return torch.arange(count) % NUM_CLASSES


def _model(method: str = "ARPL", backbone: str = "classifier32", abn: bool = False):
    torch.manual_seed(0)
    return build_model(ModelSpec(method, backbone, NUM_CLASSES, in_channels=3, image_size=32, abn=abn))


def _assert_close(actual: torch.Tensor, expected: torch.Tensor, tolerance: float = FLOAT32_TOLERANCE) -> None:
    """``actual`` (any device, any float dtype) equals ``expected`` within ``tolerance`` x its largest value."""
    actual, expected = actual.detach().float().cpu(), expected.detach().float().cpu()
    scale = expected.abs().max().clamp_min(1e-6)
    error = (actual - expected).abs().max()
    assert error <= tolerance * scale, f"max difference {error:.3g} > {tolerance} x {scale:.3g}"


def _gradients(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.detach().float().flatten().cpu() for p in module.parameters() if p.grad is not None])


def _loss_and_gradients(net, x: torch.Tensor, y: torch.Tensor, autocast: bool = False):
    """Logits, loss and the flattened gradients of one forward + backward pass (eval mode: no dropout)."""
    net.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
        logits, loss = net(x, y)
    loss.backward()
    return logits, loss, _gradients(net)


# ---------------------------------------------------------------- models and heads


@pytest.mark.parametrize("name", BACKBONES)
def test_backbone_on_gpu_matches_cpu(name, exact_float32):
    """Features (eval mode) and their gradients equal the CPU's; with ABN, both domains train on the GPU."""
    torch.manual_seed(0)
    cpu = build_backbone(name, 3, 32, abn=True).eval()
    gpu = copy.deepcopy(cpu).to(DEVICE)
    x = _images(8).float() / 255
    _assert_close(gpu(x.to(DEVICE)), cpu(x))
    cpu(x).sum().backward()
    gpu(x.to(DEVICE)).sum().backward()
    _assert_close(_gradients(gpu), _gradients(cpu))
    gpu.train()
    assert torch.isfinite(gpu(x.to(DEVICE))).all()


def test_gan_on_gpu_matches_cpu(exact_float32):
    """The DCGAN pair at the paper's width (64): generated images and discriminator outputs equal the CPU's."""
    torch.manual_seed(0)
    generator, discriminator = (module.eval() for module in build_gan(32, 3, ngf=64, ndf=64))
    noise = generator.sample_noise(8, generator=torch.Generator().manual_seed(1), device="cpu")
    fake = generator(noise)
    gpu_generator, gpu_discriminator = copy.deepcopy(generator).to(DEVICE), copy.deepcopy(discriminator).to(DEVICE)
    gpu_fake = gpu_generator(noise.to(DEVICE))
    _assert_close(gpu_fake, fake)
    _assert_close(gpu_discriminator(gpu_fake), discriminator(fake))


@pytest.mark.parametrize("method", METHODS)
def test_head_loss_and_gradients_on_gpu_match_cpu(method, exact_float32):
    """classifier32 with each head: logits, loss and every gradient on the GPU equal the CPU's."""
    cpu = _model(method).eval()
    gpu = copy.deepcopy(cpu).to(DEVICE)
    x, y = _images().float() / 255, _labels()
    logits, loss, gradients = _loss_and_gradients(cpu, x, y)
    gpu_logits, gpu_loss, gpu_gradients = _loss_and_gradients(gpu, x.to(DEVICE), y.to(DEVICE))
    _assert_close(gpu_logits, logits)
    _assert_close(gpu_loss, loss)
    _assert_close(gpu_gradients, gradients)


@pytest.mark.parametrize("method", METHODS)
def test_bf16_autocast_matches_float32(method, exact_float32):
    """Within the bf16 tolerances of the module docstring (logits, loss, gradient direction)."""
    net = _model(method).to(DEVICE).eval()
    x, y = (_images().float() / 255).to(DEVICE), _labels().to(DEVICE)
    logits, loss, gradients = _loss_and_gradients(net, x, y)
    bf16_logits, bf16_loss, bf16_gradients = _loss_and_gradients(net, x, y, autocast=True)
    _assert_close(bf16_logits, logits, BF16_LOGIT_TOLERANCE)
    _assert_close(bf16_loss, loss, BF16_LOSS_TOLERANCE)
    assert F.cosine_similarity(bf16_gradients, gradients, dim=0) >= BF16_MIN_GRADIENT_COSINE


@pytest.mark.parametrize("abn", [False, True])
def test_channels_last_matches_contiguous(abn, exact_float32):
    """A channels_last classifier32 on channels_last input gives the logits, loss and gradients of the
    contiguous one."""
    net = _model("ARPL", abn=abn).to(DEVICE).eval()
    fast = copy.deepcopy(net).to(memory_format=torch.channels_last)
    x, y = (_images().float() / 255).to(DEVICE), _labels().to(DEVICE)
    logits, loss, gradients = _loss_and_gradients(net, x, y)
    fast_logits, fast_loss, fast_gradients = _loss_and_gradients(
        fast, x.contiguous(memory_format=torch.channels_last), y)
    _assert_close(fast_logits, logits)
    _assert_close(fast_loss, loss)
    _assert_close(fast_gradients, gradients)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fused_optimisers_match_unfused(optimizer, exact_float32):
    """fit builds fused optimisers on CUDA (classifier and GAN); three steps land where the plain ones do."""
    x, y = (_images().float() / 255).to(DEVICE), _labels().to(DEVICE)
    nets = [_model("ARPL").to(DEVICE).eval() for _ in range(2)]
    for net, fused in zip(nets, (DEVICE.type == "cuda", False)):
        steps = build_optimizer(net.parameters(), optimizer, 0.01, 0.9, 1e-4, fused=fused)
        for _ in range(3):
            steps.zero_grad()
            net(x, y)[1].backward()
            steps.step()
    _assert_close(torch.cat([p.flatten() for p in nets[0].parameters()]),
                  torch.cat([p.flatten() for p in nets[1].parameters()]))
    generator, _ = build_gan(32, 3, ngf=16, ndf=16)
    gan_optimizer = build_gan_optimizer(generator.to(DEVICE), 2e-4, fused=DEVICE.type == "cuda")
    generator(generator.sample_noise(4)).mean().backward()
    gan_optimizer.step()


# ---------------------------------------------------------------- data on the GPU


def test_batches_and_augmentation_on_gpu_equal_cpu():
    """The uint8 data set lives on the GPU and is augmented there in batches: the same batches as on the CPU
    (the random crops and flips come from the same CPU generator)."""
    images, labels = _images(100), _labels(100)
    cpu = Batches(images, labels, batch_size=32, augment=Augment(32), device="cpu", seed=3)
    gpu = Batches(images, labels, batch_size=32, augment=Augment(32), device=DEVICE, seed=3)
    assert gpu.images.device.type == DEVICE.type
    for (x, y), (gpu_x, gpu_y) in zip(cpu.epoch(1), gpu.epoch(1), strict=True):
        assert gpu_x.device.type == DEVICE.type
        torch.testing.assert_close(gpu_x.cpu(), x)
        assert torch.equal(gpu_y.cpu(), y)


def test_predict_on_gpu_matches_cpu(exact_float32):
    net = _model("ARPL").eval()
    images = _images(300)
    on_cpu = predict(copy.deepcopy(net), images, batch_size=128, device="cpu")
    on_gpu = predict(net, images, batch_size=128, device=DEVICE)
    _assert_close(torch.from_numpy(on_gpu.logits), torch.from_numpy(on_cpu.logits))


# ---------------------------------------------------------------- training loops


def _fit(tmp_path: Path, method: str = "ARPL", confusing: bool = False, abn: bool = False, **train):
    model = ModelSpec(method, "classifier32", NUM_CLASSES, in_channels=3, image_size=32, abn=abn)
    spec = TrainSpec(epochs=1, batch_size=32, lr=0.01, confusing=confusing, ngf=16, ndf=16, **train)
    return fit(model, spec, _images(128), _labels(128), tmp_path, device=DEVICE)


def _assert_trained_on_gpu(result) -> None:
    row = result.history[-1]
    for key in ("loss", "train_acc", "loss_d", "loss_g", "loss_cs"):
        assert key not in row or torch.isfinite(torch.tensor(row[key])), row
    assert next(result.net.parameters()).device.type == DEVICE.type
    assert result.checkpoint.exists()


@pytest.mark.parametrize("method", METHODS)
def test_plain_training_on_gpu(method, tmp_path):
    """Algorithm 1 with each head, data and augmentation on the GPU."""
    _assert_trained_on_gpu(_fit(tmp_path, method, augment=True))


@pytest.mark.parametrize("amp, channels_last", [(True, False), (False, True), (True, True)])
def test_plain_training_with_bf16_and_channels_last(amp, channels_last, tmp_path):
    _assert_trained_on_gpu(_fit(tmp_path, amp=amp, channels_last=channels_last))


@pytest.mark.parametrize("abn, focus_training", [(True, True), (False, True), (True, False)])
def test_confusing_samples_training_on_gpu(abn, focus_training, tmp_path):
    """Algorithm 2 (ARPL+CS; without ABN; without focus training), with bf16 and channels_last."""
    result = _fit(tmp_path, confusing=True, abn=abn, focus_training=focus_training, amp=True, channels_last=True)
    _assert_trained_on_gpu(result)
    assert next(result.generator.parameters()).device.type == DEVICE.type
    assert {"loss_d", "loss_g", "loss_cs"} <= set(result.history[-1])


def test_gpu_checkpoint_loads_on_cpu_and_back(tmp_path, exact_float32):
    """A checkpoint written by a GPU run loads on the CPU (load_model, and fit reusing the finished run) and on
    the GPU again, each time with the GPU model's predictions."""
    result = _fit(tmp_path, confusing=True, abn=True)
    images = _images(64, seed=5)
    expected = predict(result.net, images, device=DEVICE).logits
    states = read_checkpoint(result.checkpoint)["states"]
    assert set(states) == {"net", "generator"}   # a finished run keeps the networks only
    on_cpu, _ = load_model(result.checkpoint, expected={"backbone": "classifier32"}, device="cpu")
    assert next(on_cpu.parameters()).device.type == "cpu"
    _assert_close(torch.from_numpy(predict(on_cpu, images, device="cpu").logits), torch.from_numpy(expected))
    back, _ = load_model(result.checkpoint, device=DEVICE)
    _assert_close(torch.from_numpy(predict(back, images, device=DEVICE).logits), torch.from_numpy(expected))
    model = ModelSpec("ARPL", "classifier32", NUM_CLASSES, in_channels=3, image_size=32, abn=True)
    spec = TrainSpec(epochs=1, batch_size=32, lr=0.01, confusing=True, ngf=16, ndf=16)
    reused = fit(model, spec, _images(128), _labels(128), tmp_path, device="cpu")
    assert reused.resumed_from == 1 and next(reused.net.parameters()).device.type == "cpu"
    _assert_close(torch.from_numpy(predict(reused.net, images, device="cpu").logits), torch.from_numpy(expected))


def test_a_loss_blowing_up_on_the_gpu_stops_the_run_at_the_next_read(tmp_path):
    """On a GPU the non-finite check reads its device flag every CHECK_EVERY steps and at the end of the pass
    (no host sync per step): an absurd learning rate still stops the run, naming the epoch and the batches."""
    from arpl.training import NonFiniteLossError

    model = ModelSpec("ARPL", "classifier32", NUM_CLASSES, in_channels=3, image_size=32)
    spec = TrainSpec(epochs=1, batch_size=32, lr=1e12, milestones=(30,))
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss .*epoch 1, (one of batches|batch) \d"):
        fit(model, spec, _images(128), _labels(128), tmp_path, device=DEVICE)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_several_runs_share_the_gpu_in_worker_processes(tmp_path, monkeypatch):
    """run.workers on CUDA: train_ahead trains two runs in two processes on the same GPU, each into its folder."""
    from functools import partial

    from arpl.pipeline.runs import workers

    monkeypatch.chdir(tmp_path)
    runs = [partial(_fit_into, str(tmp_path / name), name) for name in ("ARPL", "Softmax")]
    workers.train_ahead(SimpleNamespace(run=SimpleNamespace(device=DEVICE.type, workers=2)), runs)
    for name in ("ARPL", "Softmax"):
        assert read_checkpoint(tmp_path / name / "checkpoint.pt")["epoch"] == 1


def _fit_into(folder: str, method: str) -> None:
    """A one-epoch classifier32 run of ``method`` into ``folder`` (module level: worker processes pickle it)."""
    model = ModelSpec(method, "classifier32", NUM_CLASSES, in_channels=3, image_size=32)
    fit(model, TrainSpec(epochs=1, batch_size=32, lr=0.01), _images(128), _labels(128), folder, device=DEVICE)
