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


CHECK_EVERY = 50  # steps between two reads of a GPU's non-finite flag (each read waits for the queued work)


class FiniteGuard:
    """Watches the losses of one pass for NaN or infinity (``run.on_nonfinite``).

    On the CPU, and wherever a batch must be skipped (``skip_batch``), each loss is read at once, as the step's
    next move depends on it. On a GPU in ``stop`` mode the losses are only or-ed into a flag on the device, read
    every :data:`CHECK_EVERY` steps and at the end of the pass (:meth:`finish`), so that steps queue up without
    waiting for the host; the error then names the batches between two reads. Either way the run stops before
    its next checkpoint, so the last checkpoint on disk holds finite weights.
    """

    def __init__(self, spec: TrainSpec, label: str, epoch: int, context: DistContext, device: torch.device):
        self.spec, self.label, self.epoch, self.context, self.device = spec, label, epoch, context, device
        self.deferred = device.type != "cpu" and spec.on_nonfinite == "stop"
        self.flag: torch.Tensor | None = None
        self.first_unread = 0

    def __call__(self, loss: torch.Tensor, index: int) -> bool:
        """Whether batch ``index`` may be applied (False: skip it); raises in stop mode (at once or later)."""
        if not self.deferred:
            return all_finite(loss, self.spec, self.label, self.epoch, index, self.context, self.device)
        bad = ~torch.isfinite(loss.detach()).all()
        self.flag = bad if self.flag is None else self.flag | bad
        if (index + 1) % CHECK_EVERY == 0:
            self.read(index)
        return True

    def read(self, index: int) -> None:
        """Raise :class:`NonFiniteLossError` if a loss of the batches since the last read was not finite."""
        if self.flag is not None and bool(self.flag):
            batches = f"batch {self.first_unread}" if index == self.first_unread else \
                f"one of batches {self.first_unread}-{index}"
            raise NonFiniteLossError(f"[{self.label}] non-finite loss at epoch {self.epoch + 1}, {batches}. "
                                     f"{_STOP_ADVICE}")
        self.flag, self.first_unread = None, index + 1

    def finish(self, last_index: int) -> None:
        """The read at the end of the pass (``last_index``: its last batch)."""
        if self.deferred:
            self.read(last_index)


_STOP_ADVICE = ("The last checkpoint is kept. Lower the learning rate, or set run.on_nonfinite: skip_batch in "
                "params.yaml to skip such batches.")


def _finite(loss: torch.Tensor, spec: TrainSpec, label: str, epoch: int, index: int) -> bool:
    if torch.isfinite(loss).all():
        return True
    if spec.on_nonfinite == "skip_batch":
        print(f"[{label}] non-finite loss at epoch {epoch + 1}, batch {index}: batch skipped", flush=True)
        return False
    raise NonFiniteLossError(f"[{label}] non-finite loss ({loss.item()}) at epoch {epoch + 1}, batch {index}. "
                             f"{_STOP_ADVICE}")


def all_finite(loss: torch.Tensor, spec: TrainSpec, label: str, epoch: int, index: int, context: DistContext,
               device: torch.device) -> bool:
    """Whether the loss is finite on every process. Under DDP a batch is skipped by all processes or by none
    (one skipping the backward pass alone would leave the others waiting in its gradient all-reduce)."""
    finite = _finite(loss, spec, label, epoch, index)
    if not context.active or spec.on_nonfinite != "skip_batch":
        return finite
    return reduce_sum([0.0 if finite else 1.0], context, device)[0] == 0
