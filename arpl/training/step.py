"""What every training step of both algorithms goes through: the batches of an epoch (with an optional
progress bar), bf16 autocast and channels-last on CUDA, and the guard against non-finite losses."""

from __future__ import annotations

import contextlib
import sys

import torch

from arpl.data.batches import Batches
from arpl.data.files import StreamBatches
from arpl.training.distributed import DistContext, reduce_sum
from arpl.training.specs import TrainSpec

BatchSource = Batches | StreamBatches  # in-memory or decoded from files; the same interface


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


def numbered_batches(batches: BatchSource, epoch: int, progress: bool, description: str):
    """``(index, (x, y))`` for every batch of ``epoch``, with a tqdm bar when ``progress`` and on a terminal."""
    iterator = enumerate(batches.epoch(epoch))
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(iterator, total=len(batches), desc=description, leave=False)
    return iterator


def autocast(spec: TrainSpec, device: torch.device):
    """bf16 autocast when ``spec.amp`` on CUDA, else nothing."""
    if spec.amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(x: torch.Tensor, spec: TrainSpec) -> torch.Tensor:
    """``x`` in channels-last layout when ``spec.channels_last``."""
    if spec.channels_last:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _finite(loss: torch.Tensor, spec: TrainSpec, label: str, epoch: int, index: int) -> bool:
    if torch.isfinite(loss).all():
        return True
    if spec.on_nonfinite == "skip_batch":
        print(f"[{label}] non-finite loss at epoch {epoch + 1}, batch {index}: batch skipped", flush=True)
        return False
    raise NonFiniteLossError(f"[{label}] non-finite loss ({loss.item()}) at epoch {epoch + 1}, batch {index}. "
                             f"The last good checkpoint (after epoch {epoch}) is kept. Lower the learning rate, "
                             f"or set run.on_nonfinite: skip_batch in params.yaml to skip such batches.")


def all_finite(loss: torch.Tensor, spec: TrainSpec, label: str, epoch: int, index: int, context: DistContext,
               device: torch.device) -> bool:
    """Whether the loss is finite on every process. Under DDP a batch is skipped by all processes or by none
    (one skipping the backward pass alone would leave the others waiting in its gradient all-reduce)."""
    finite = _finite(loss, spec, label, epoch, index)
    if not context.active or spec.on_nonfinite != "skip_batch":
        return finite
    return reduce_sum([0.0 if finite else 1.0], context, device)[0] == 0
