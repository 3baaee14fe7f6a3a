"""Optimisers and learning-rate schedules of the paper's protocol (Sec. 5.1-5.3; docs/paper_vs_code.md)."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


def build_optimizer(params: Iterable[nn.Parameter], name: str, lr: float, momentum: float,
                    weight_decay: float, fused: bool = False) -> torch.optim.Optimizer:
    """SGD with momentum (all OSR datasets but TinyImageNet) or Adam (TinyImageNet, OOD).

    As in the authors' code, the loss parameters (reciprocal points, the margin R) are optimised together
    with the network and receive the same weight decay.
    """
    params = list(params)
    extra = {"fused": True} if fused else {}
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **extra)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **extra)
    raise ValueError(f"Unknown optimizer {name!r}; use 'sgd' or 'adam'.")


def build_scheduler(optimizer: torch.optim.Optimizer, milestones: list[int],
                    gamma: float) -> torch.optim.lr_scheduler.MultiStepLR:
    """Step decay: the learning rate is multiplied by ``gamma`` at each milestone epoch (30/60/90/120)."""
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=sorted(milestones), gamma=gamma)


def build_gan_optimizer(module: nn.Module, lr: float, fused: bool = False) -> torch.optim.Adam:
    """Adam(lr=2e-4, betas=(0.5, 0.999)) for the generator and the discriminator (Sec. 5.2, DCGAN)."""
    extra = {"fused": True} if fused else {}
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.999), **extra)
