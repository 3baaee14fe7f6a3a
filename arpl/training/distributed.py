"""DistributedDataParallel plumbing: the same training code runs alone or under ``torchrun``."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job: rank, number of processes and its local GPU index."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, logs and evaluates."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def init_distributed(device_name: str = "auto") -> DistContext:
    """Join the process group that ``torchrun`` describes in the environment (NCCL on CUDA, gloo on CPU);
    a plain ``python`` run gets a single-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistContext()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and device_name != "cpu"
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank)


def resolve_device(name: str = "auto", context: DistContext = DistContext()) -> torch.device:
    """``auto`` picks CUDA when present (the local rank's GPU under torchrun), else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda:") and context.active:
        raise ValueError(f"run.device is {name!r}, but under torchrun each process takes the GPU of its local "
                         f"rank; set run.device to auto or cuda and choose the GPUs with CUDA_VISIBLE_DEVICES.")
    if name == "cuda" and context.active:
        name = f"cuda:{context.local_rank}"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"run.device is {name!r} but no CUDA device is available; use 'auto' or 'cpu'.")
    return device


def wrap(module: nn.Module, context: DistContext, device: torch.device, find_unused: bool = False) -> nn.Module:
    """Wrap ``module`` in DistributedDataParallel when running under torchrun. ``find_unused`` is needed
    by auxiliary batch norm, whose generated-sample layers get no gradient in a plain step."""
    if not context.active:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside a DDP (or torch.compile) wrapper."""
    module = getattr(module, "module", module)
    return getattr(module, "_orig_mod", module)


def reduce_sum(values: list[float], context: DistContext, device: torch.device) -> list[float]:
    """Sum per-process counters (losses, correct predictions) over all processes."""
    if not context.active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def barrier(context: DistContext) -> None:
    """Wait for all processes (no-op when alone)."""
    if context.active:
        dist.barrier()
