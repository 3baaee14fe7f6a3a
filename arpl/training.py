"""Training: plain (Algorithm 1) and with confusing samples (Algorithm 2 with ABN and focus training).

Every epoch ends with an atomic checkpoint; a rerun with the same specs resumes from the last complete
epoch and, on CPU, ends with exactly the numbers of an uninterrupted run (each epoch reseeds all random
streams from the run's seed and the epoch index).
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from arpl.checkpoint import CheckpointMismatchError, read_checkpoint, save_checkpoint
from arpl.data.batches import Batches
from arpl.data.files import ImageFiles, StreamBatches
from arpl.data.transforms import Augment
from arpl.distributed import DistContext, barrier, reduce_sum, unwrap, wrap
from arpl.models.dcgan import build_gan
from arpl.network import OpenSetNet, build_model
from arpl.optim import build_gan_optimizer, build_optimizer, build_scheduler
from arpl.specs import ModelSpec, TrainSpec, fingerprint

EvaluateFn = Callable[[OpenSetNet, int], dict]
BatchSource = Batches | StreamBatches  # in-memory or decoded from files; the same interface


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class FitResult:
    """A trained classifier (eval mode, unwrapped), its generator for ARPL+CS, and the per-epoch history."""

    net: OpenSetNet
    generator: nn.Module | None
    history: list[dict]
    checkpoint: Path
    resumed_from: int


@dataclass
class _Parts:
    net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: nn.Module | None = None
    discriminator: nn.Module | None = None
    optimizer_g: torch.optim.Optimizer | None = None
    optimizer_d: torch.optim.Optimizer | None = None

    def states(self) -> dict:
        named = {"net": self.net, "optimizer": self.optimizer, "scheduler": self.scheduler,
                 "generator": self.generator, "discriminator": self.discriminator,
                 "optimizer_g": self.optimizer_g, "optimizer_d": self.optimizer_d}
        return {name: unwrap(part).state_dict() for name, part in named.items() if part is not None}

    def load(self, states: dict) -> None:
        for name, state in states.items():
            unwrap(getattr(self, name)).load_state_dict(state)


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of every random stream in ``epoch`` (dropout, batch order, augmentation, GAN noise)."""
    return (seed * 1_000_003 + epoch * 7_919 + rank * 104_729) % (2**63)


def fit(model_spec: ModelSpec, train_spec: TrainSpec, images: torch.Tensor | ImageFiles, labels: torch.Tensor,
        run_dir: str | Path, *, device: torch.device | str = "cpu", evaluate: EvaluateFn | None = None,
        context: DistContext = DistContext(), progress: bool = False, label: str = "") -> FitResult:
    """Train a classifier on ``images`` (uint8 [N, C, H, W], or :class:`ImageFiles` read while training) and
    ``labels`` (0..K-1) into ``run_dir``.

    Plain training minimises the head's loss (Eq. 14 for ARPL). With ``train_spec.confusing`` each epoch
    is one pass of Algorithm 2 (discriminator, generator with beta * entropy, classifier on real and
    generated samples) followed, unless ``focus_training`` is off, by a plain pass (focus training, as
    in the authors' code). ``evaluate(net, epoch)`` may add metrics (e.g. AUROC) to each epoch's line.
    """
    device = torch.device(device)
    run_dir = Path(run_dir)
    checkpoint = run_dir / "checkpoint.pt"
    label = label or f"{model_spec.method}"
    parts = _build_parts(model_spec, train_spec, device)
    start, history = _resume(checkpoint, parts, model_spec, train_spec, label, context)
    parts = _wrap_parts(parts, train_spec, context, device, find_unused=model_spec.abn)
    batches = _training_batches(images, labels, model_spec, train_spec, device, context)
    for epoch in range(start, train_spec.epochs):
        torch.manual_seed(epoch_seed(train_spec.seed, epoch, context.rank))
        tic = time.perf_counter()
        stats = _run_epoch(parts, batches, epoch, train_spec, device, context, progress, label)
        parts.scheduler.step()
        stats["seconds"] = time.perf_counter() - tic
        stats["images_per_s"] = stats.pop("images") / stats["seconds"]
        row = {"epoch": epoch + 1, **stats, "lr": parts.optimizer.param_groups[0]["lr"]}
        if context.is_main and evaluate is not None:
            row.update(evaluate(unwrap(parts.net).eval(), epoch + 1))
        history.append(row)
        if context.is_main:
            save_checkpoint(checkpoint, model_spec=model_spec, train_spec=train_spec, epoch=epoch + 1,
                            states=parts.states(), history=history)
            write_live(run_dir / "live", history)
            print(_epoch_line(label, row, train_spec.epochs), flush=True)
    barrier(context)  # under DDP every rank returns only once rank 0's last checkpoint is on disk
    net = unwrap(parts.net).eval()
    generator = unwrap(parts.generator).eval() if parts.generator is not None else None
    return FitResult(net=net, generator=generator, history=history, checkpoint=checkpoint, resumed_from=start)


def _training_batches(images: torch.Tensor | ImageFiles, labels: torch.Tensor, model_spec: ModelSpec,
                      train_spec: TrainSpec, device: torch.device, context: DistContext) -> BatchSource:
    """Batches from memory (augmented on ``device``) or, for :class:`ImageFiles`, decoded by worker processes
    (augmented while decoding); each rank gets its share of the batch size under DDP."""
    options = dict(batch_size=max(1, train_spec.batch_size // context.world_size), shuffle=True, device=device,
                   seed=train_spec.seed, rank=context.rank, world_size=context.world_size)
    if isinstance(images, ImageFiles):
        return StreamBatches(images, labels, augment=train_spec.augment, **options)
    augment = Augment(model_spec.image_size) if train_spec.augment else None
    return Batches(images, labels, augment=augment, **options)


def _build_parts(model_spec: ModelSpec, train_spec: TrainSpec, device: torch.device) -> _Parts:
    torch.manual_seed(train_spec.seed)
    net = build_model(model_spec)
    if train_spec.init_from:
        warm_start(net, train_spec.init_from.rsplit("@", 1)[0])
    net = net.to(device)
    if train_spec.channels_last:
        net = net.to(memory_format=torch.channels_last)
    fused = device.type == "cuda"
    optimizer = build_optimizer(net.parameters(), train_spec.optimizer, train_spec.lr, train_spec.momentum,
                                train_spec.weight_decay, fused=fused)
    scheduler = build_scheduler(optimizer, list(train_spec.milestones), train_spec.lr_gamma)
    parts = _Parts(net=net, optimizer=optimizer, scheduler=scheduler)
    if train_spec.confusing:
        generator, discriminator = build_gan(model_spec.image_size, model_spec.in_channels, nz=train_spec.nz,
                                             ngf=train_spec.ngf, ndf=train_spec.ndf)
        parts.generator, parts.discriminator = generator.to(device), discriminator.to(device)
        parts.optimizer_g = build_gan_optimizer(parts.generator, train_spec.gan_lr, fused=fused)
        parts.optimizer_d = build_gan_optimizer(parts.discriminator, train_spec.gan_lr, fused=fused)
    return parts


def warm_start(net: OpenSetNet, checkpoint: str | Path) -> None:
    """Initialise ``net`` with the network weights of a finished run's ``checkpoint`` (same backbone, head and
    classes). A network with auxiliary batch norm (Sec. 4.2) that starts from one without gets the known
    domain's statistics in both domains."""
    source = read_checkpoint(checkpoint)["states"]["net"]
    state = {key: source.get(key, source.get(key.replace(".bns.1.", ".bns.0."))) for key in net.state_dict()}
    missing = [key for key, value in state.items() if value is None]
    if missing:
        raise CheckpointMismatchError(f"{checkpoint} cannot start this network: it lacks {missing[:3]}; "
                                      f"its run must use the same network and head.")
    net.load_state_dict(state)


def _resume(checkpoint: Path, parts: _Parts, model_spec: ModelSpec, train_spec: TrainSpec, label: str,
            context: DistContext) -> tuple[int, list[dict]]:
    if not checkpoint.exists():
        return 0, []
    payload = read_checkpoint(checkpoint)
    if payload["fingerprint"] != fingerprint(model_spec, train_spec):
        if context.is_main:
            print(f"[{label}] {checkpoint} belongs to another configuration or code version; starting over.",
                  flush=True)
        return 0, []
    parts.load(payload["states"])
    if context.is_main and payload["epoch"] < train_spec.epochs:
        print(f"[{label}] resuming after epoch {payload['epoch']} from {checkpoint}", flush=True)
    return payload["epoch"], payload["history"]


def _wrap_parts(parts: _Parts, train_spec: TrainSpec, context: DistContext, device: torch.device,
                find_unused: bool) -> _Parts:
    if train_spec.compile:
        parts.net = torch.compile(parts.net)
    parts.net = wrap(parts.net, context, device, find_unused)
    if parts.generator is not None:
        parts.generator = wrap(parts.generator, context, device)
        parts.discriminator = wrap(parts.discriminator, context, device)
    return parts


def _run_epoch(parts: _Parts, batches: BatchSource, epoch: int, spec: TrainSpec, device: torch.device,
               context: DistContext, progress: bool, label: str) -> dict:
    stats: dict = {}
    if spec.confusing:
        stats.update(_confusing_pass(parts, batches, epoch, spec, device, context, progress, label))
        if not spec.focus_training:
            return stats
    plain = _plain_pass(parts, batches, epoch, spec, device, context, progress, label)
    if spec.confusing:
        plain["images"] += stats.pop("images")
    return {**stats, **plain}


def _plain_pass(parts: _Parts, batches: BatchSource, epoch: int, spec: TrainSpec, device: torch.device,
                context: DistContext, progress: bool, label: str) -> dict:
    """One epoch of Algorithm 1: minimise the head's loss on known data."""
    parts.net.train()
    total_loss = correct = seen = skipped = 0.0
    for index, (x, y) in _batches(batches, epoch, progress, f"{label} epoch {epoch + 1}"):
        x = _memory_format(x, spec, device)
        with _autocast(spec, device):
            logits, loss = parts.net(x, y)
        if not _all_finite(loss, spec, label, epoch, index, context, device):
            parts.optimizer.zero_grad(set_to_none=True)
            skipped += 1
            continue
        parts.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parts.optimizer.step()
        total_loss += loss.detach().float() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
    total_loss, correct, seen, skipped = reduce_sum([float(total_loss), float(correct), seen, skipped],
                                                    context, device)
    stats = {"loss": total_loss / max(seen, 1), "train_acc": correct / max(seen, 1), "images": seen}
    if skipped:
        stats["skipped_batches"] = int(skipped)
    return stats


def _confusing_pass(parts: _Parts, batches: BatchSource, epoch: int, spec: TrainSpec, device: torch.device,
                    context: DistContext, progress: bool, label: str) -> dict:
    """One epoch of Algorithm 2, steps 2-5: discriminator (Eq. 15), generator (Eq. 18) and classifier on
    real plus generated samples (Eq. 19)."""
    for module in (parts.net, parts.generator, parts.discriminator):
        module.train()
    sums = {"loss_d": 0.0, "loss_g": 0.0, "loss_cs": 0.0}
    seen = skipped = 0.0
    for index, (x, y) in _batches(batches, epoch, progress, f"{label} CS epoch {epoch + 1}"):
        x = _memory_format(x, spec, device)
        finite = lambda loss: _all_finite(loss, spec, label, epoch, index, context, device)  # noqa: E731
        losses = _confusing_step(parts, x, y, spec, device, finite)
        if losses is None:
            for optimizer in (parts.optimizer, parts.optimizer_g, parts.optimizer_d):
                optimizer.zero_grad(set_to_none=True)
            skipped += 1
            continue
        for key, value in losses.items():
            sums[key] += value.float() * len(y)
        seen += len(y)
    values = reduce_sum([*map(float, sums.values()), seen, skipped], context, device)
    seen, skipped = values[-2], values[-1]
    stats = {key: value / max(seen, 1) for key, value in zip(sums, values)}
    stats["images"] = seen
    if skipped:
        stats["skipped_cs_batches"] = int(skipped)
    return stats


def _confusing_step(parts: _Parts, x: torch.Tensor, y: torch.Tensor, spec: TrainSpec, device: torch.device,
                    finite: Callable[[torch.Tensor], bool]) -> dict[str, torch.Tensor] | None:
    """Steps 3-5 of Algorithm 2 on one batch; returns the three losses (already applied), or None when one
    was not finite: its update and the batch's remaining ones are skipped (``finite`` raises in stop mode)."""
    generator, discriminator, net = parts.generator, parts.discriminator, parts.net
    real_target = torch.ones(len(x), device=device)
    fake_target = torch.zeros(len(x), device=device)
    noise = unwrap(generator).sample_noise(len(x), device=device)
    with _autocast(spec, device):
        fake = generator(noise)
    # Step 3: the discriminator separates real from generated samples (Eq. 15).
    parts.optimizer_d.zero_grad(set_to_none=True)
    loss_d_real = _bce(discriminator, x, real_target, spec, device)
    if not finite(loss_d_real):
        return None
    loss_d_real.backward()
    loss_d_fake = _bce(discriminator, fake.detach(), fake_target, spec, device)
    if not finite(loss_d_fake):
        return None
    loss_d_fake.backward()
    parts.optimizer_d.step()
    # Step 4: the generator fools the discriminator and lands near all reciprocal points (Eq. 18).
    parts.optimizer_g.zero_grad(set_to_none=True)
    with frozen(discriminator, net):
        plain_net = unwrap(net)
        with _autocast(spec, device):
            entropy = plain_net.head.entropy_term(plain_net.features(fake, fake=True), spec.entropy_form)
        loss_g = _bce(unwrap(discriminator), fake, real_target, spec, device) + spec.beta * entropy.float()
    if not finite(loss_g):
        return None
    loss_g.backward()
    parts.optimizer_g.step()
    # Step 5: the classifier learns the known classes and pushes fresh generated samples to the open space.
    parts.optimizer.zero_grad(set_to_none=True)
    with torch.no_grad(), _autocast(spec, device):
        fresh = generator(unwrap(generator).sample_noise(len(x), device=device))
    with _autocast(spec, device):
        _, loss_c = net(x, y, fake=fresh, beta=spec.beta, entropy_form=spec.entropy_form)
    if not finite(loss_c):
        return None
    loss_c.backward()
    parts.optimizer.step()
    return {"loss_d": (loss_d_real + loss_d_fake).detach(), "loss_g": loss_g.detach(), "loss_cs": loss_c.detach()}


def _bce(discriminator: nn.Module, images: torch.Tensor, target: torch.Tensor, spec: TrainSpec,
         device: torch.device) -> torch.Tensor:
    """Eq. 15-16: binary cross-entropy of D on ``images``, computed from D's logit (numerically stable, and
    with a gradient even where D is saturated)."""
    with _autocast(spec, device):
        logit = discriminator(images)
    return F.binary_cross_entropy_with_logits(logit.float(), target)


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Temporarily stop gradients into ``modules`` (their DDP hooks stay silent too)."""
    params = [p for module in modules for p in unwrap(module).parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def _finite(loss: torch.Tensor, spec: TrainSpec, label: str, epoch: int, index: int) -> bool:
    if torch.isfinite(loss).all():
        return True
    if spec.on_nonfinite == "skip_batch":
        print(f"[{label}] non-finite loss at epoch {epoch + 1}, batch {index}: batch skipped", flush=True)
        return False
    raise NonFiniteLossError(f"[{label}] non-finite loss ({loss.item()}) at epoch {epoch + 1}, batch {index}. "
                             f"The last good checkpoint (after epoch {epoch}) is kept. Lower the learning rate, "
                             f"or set run.on_nonfinite: skip_batch in params.yaml to skip such batches.")


def _all_finite(loss: torch.Tensor, spec: TrainSpec, label: str, epoch: int, index: int, context: DistContext,
                device: torch.device) -> bool:
    """Whether the loss is finite on every process. Under DDP a batch is skipped by all processes or by none
    (one skipping the backward pass alone would leave the others waiting in its gradient all-reduce)."""
    finite = _finite(loss, spec, label, epoch, index)
    if not context.active or spec.on_nonfinite != "skip_batch":
        return finite
    return reduce_sum([0.0 if finite else 1.0], context, device)[0] == 0


def _batches(batches: BatchSource, epoch: int, progress: bool, description: str):
    iterator = enumerate(batches.epoch(epoch))
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(iterator, total=len(batches), desc=description, leave=False)
    return iterator


def _autocast(spec: TrainSpec, device: torch.device):
    if spec.amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _memory_format(x: torch.Tensor, spec: TrainSpec, device: torch.device) -> torch.Tensor:
    if spec.channels_last:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _epoch_line(label: str, row: dict, epochs: int) -> str:
    skip = {"epoch", "lr", "seconds", "images_per_s"}
    metrics = "  ".join(f"{key} {value:.4f}" for key, value in row.items()
                        if key not in skip and isinstance(value, float) and math.isfinite(value))
    return (f"[{label}] epoch {row['epoch']}/{epochs}  {metrics}  lr {row['lr']:.2g}  "
            f"{row['seconds']:.1f}s ({row['images_per_s']:.0f} img/s)")


def write_live(live_dir: str | Path, history: list[dict]) -> None:
    """Rewrite the dvclive folder from the checkpoint's history, so it always agrees with the checkpoint
    (also after a resume). One step per epoch."""
    from dvclive import Live

    live_dir = Path(live_dir)
    shutil.rmtree(live_dir, ignore_errors=True)
    with contextlib.redirect_stdout(io.StringIO()), Live(str(live_dir), dvcyaml=False, save_dvc_exp=False,
                                                  report=None) as live:
        for row in history:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    live.log_metric(key, value, plot=True)
            live.next_step()
