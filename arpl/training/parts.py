"""The networks and optimisers of one run: the classifier with its SGD/Adam and schedule and, for
Algorithm 2, the DCGAN generator and discriminator with their Adam optimisers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from arpl.models.dcgan import build_gan
from arpl.training.checkpoint import CheckpointMismatchError, read_checkpoint
from arpl.training.distributed import DistContext, unwrap, wrap
from arpl.training.network import OpenSetNet, build_model
from arpl.training.optim import build_gan_optimizer, build_optimizer, build_scheduler
from arpl.training.specs import ModelSpec, TrainSpec


@dataclass
class Parts:
    """What a run trains and checkpoints; the GAN members are None for plain training (Algorithm 1)."""

    net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: nn.Module | None = None
    discriminator: nn.Module | None = None
    optimizer_g: torch.optim.Optimizer | None = None
    optimizer_d: torch.optim.Optimizer | None = None

    def states(self) -> dict:
        """The state dicts of every member, by name (what a checkpoint stores)."""
        named = {"net": self.net, "optimizer": self.optimizer, "scheduler": self.scheduler,
                 "generator": self.generator, "discriminator": self.discriminator,
                 "optimizer_g": self.optimizer_g, "optimizer_d": self.optimizer_d}
        return {name: unwrap(part).state_dict() for name, part in named.items() if part is not None}

    def load(self, states: dict) -> None:
        """Restore the members from :meth:`states` output."""
        for name, state in states.items():
            unwrap(getattr(self, name)).load_state_dict(state)


def build_parts(model_spec: ModelSpec, train_spec: TrainSpec, device: torch.device) -> Parts:
    """Build every member of a run from its specs, seeded by ``train_spec.seed`` (a warm start loads the
    network weights of ``train_spec.init_from``)."""
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
    parts = Parts(net=net, optimizer=optimizer, scheduler=scheduler)
    if train_spec.confusing:
        generator, discriminator = build_gan(model_spec.image_size, model_spec.in_channels, nz=train_spec.nz,
                                             ngf=train_spec.ngf, ndf=train_spec.ndf)
        parts.generator, parts.discriminator = generator.to(device), discriminator.to(device)
        if train_spec.channels_last and device.type == "cuda":  # on the CPU they keep the baseline's layout
            parts.generator = parts.generator.to(memory_format=torch.channels_last)
            parts.discriminator = parts.discriminator.to(memory_format=torch.channels_last)
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


def wrap_parts(parts: Parts, train_spec: TrainSpec, context: DistContext, device: torch.device,
               find_unused: bool) -> Parts:
    """``parts`` compiled (``train_spec.compile``) and wrapped for DistributedDataParallel under torchrun."""
    if train_spec.compile:
        parts.net = torch.compile(parts.net)
    parts.net = wrap(parts.net, context, device, find_unused)
    if parts.generator is not None:
        parts.generator = wrap(parts.generator, context, device)
        parts.discriminator = wrap(parts.discriminator, context, device)
    return parts
