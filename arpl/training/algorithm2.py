"""Algorithm 2 (ARPL+CS, Sec. 4.2): each epoch a confusing pass, in which a DCGAN generator learns to
produce samples that fool the discriminator and land near all reciprocal points and the classifier learns
to push them to the open space, then (focus training, as in the authors' code) a plain pass of
Algorithm 1 (:mod:`arpl.training.algorithm1`)."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from arpl.training.distributed import DistContext, reduce_sum, unwrap
from arpl.training.parts import Parts
from arpl.training.specs import TrainSpec
from arpl.training.step import BatchSource, FiniteGuard, autocast, memory_format, numbered_batches


def confusing_pass(parts: Parts, batches: BatchSource, epoch: int, spec: TrainSpec, device: torch.device,
                   context: DistContext, progress: bool, label: str) -> dict:
    """One epoch of Algorithm 2, steps 2-5: discriminator (Eq. 15), generator (Eq. 18) and classifier on
    real plus generated samples (Eq. 19)."""
    for module in (parts.net, parts.generator, parts.discriminator):
        module.train()
    sums = {"loss_d": 0.0, "loss_g": 0.0, "loss_cs": 0.0}
    seen = skipped = 0.0
    guard = FiniteGuard(spec, label, epoch, context, device)
    index = -1
    for index, (x, y) in numbered_batches(batches, epoch, progress, f"{label} CS epoch {epoch + 1}"):
        x = memory_format(x, spec)
        finite = lambda loss: guard(loss, index)  # noqa: E731
        losses = _confusing_step(parts, x, y, spec, device, finite)
        if losses is None:
            for optimizer in (parts.optimizer, parts.optimizer_g, parts.optimizer_d):
                optimizer.zero_grad(set_to_none=True)
            skipped += 1
            continue
        for key, value in losses.items():
            sums[key] += value.float() * len(y)
        seen += len(y)
    guard.finish(index)
    values = reduce_sum([*map(float, sums.values()), seen, skipped], context, device)
    seen, skipped = values[-2], values[-1]
    stats = {key: value / max(seen, 1) for key, value in zip(sums, values)}
    stats["images"] = seen
    if skipped:
        stats["skipped_cs_batches"] = int(skipped)
    return stats


def _confusing_step(parts: Parts, x: torch.Tensor, y: torch.Tensor, spec: TrainSpec, device: torch.device,
                    finite: Callable[[torch.Tensor], bool]) -> dict[str, torch.Tensor] | None:
    """Steps 3-5 of Algorithm 2 on one batch; returns the three losses (already applied), or None when one
    was not finite: its update and the batch's remaining ones are skipped (``finite`` raises in stop mode)."""
    generator, discriminator, net = parts.generator, parts.discriminator, parts.net
    real_target = torch.ones(len(x), device=device)
    fake_target = torch.zeros(len(x), device=device)
    noise = unwrap(generator).sample_noise(len(x), device=device)
    with autocast(spec, device):
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
        with autocast(spec, device):
            entropy = plain_net.head.entropy_term(plain_net.features(fake, fake=True), spec.entropy_form)
        loss_g = _bce(unwrap(discriminator), fake, real_target, spec, device) + spec.beta * entropy.float()
    if not finite(loss_g):
        return None
    loss_g.backward()
    parts.optimizer_g.step()
    # Step 5: the classifier learns the known classes and pushes fresh generated samples to the open space.
    parts.optimizer.zero_grad(set_to_none=True)
    with torch.no_grad(), autocast(spec, device):
        fresh = generator(unwrap(generator).sample_noise(len(x), device=device))
    with autocast(spec, device):
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
    with autocast(spec, device):
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
