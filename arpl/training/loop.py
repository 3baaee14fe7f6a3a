"""The epoch loop shared by Algorithm 1 and Algorithm 2: build or resume a run, train it epoch by epoch, and
end every epoch with an atomic checkpoint.

A rerun with the same specs resumes from the last complete epoch and, on CPU, ends with exactly the numbers
of an uninterrupted run (each epoch reseeds all random streams from the run's seed and the epoch index).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from arpl.data.batches import Batches
from arpl.data.files import ImageFiles, StreamBatches
from arpl.data.transforms import Augment
from arpl.portable import check_process
from arpl.training.algorithm1 import plain_pass
from arpl.training.algorithm2 import confusing_pass
from arpl.training.checkpoint import checkpoint_in, read_checkpoint, save_checkpoint
from arpl.training.distributed import DistContext, barrier, unwrap
from arpl.training.network import OpenSetNet
from arpl.training.parts import Parts, build_parts, wrap_parts
from arpl.training.specs import ModelSpec, TrainSpec, fingerprint
from arpl.training.step import BatchSource

EvaluateFn = Callable[[OpenSetNet, int], dict]


@dataclass
class FitResult:
    """A trained classifier (eval mode, unwrapped), its generator for ARPL+CS, and the per-epoch history."""

    net: OpenSetNet
    generator: nn.Module | None
    history: list[dict]
    checkpoint: Path
    resumed_from: int


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of every random stream in ``epoch`` (dropout, batch order, augmentation, GAN noise)."""
    return (seed * 1_000_003 + epoch * 7_919 + rank * 104_729) % (2**63)


def fit(model_spec: ModelSpec, train_spec: TrainSpec, images: torch.Tensor | ImageFiles, labels: torch.Tensor,
        run_dir: str | Path, *, device: torch.device | str = "cpu", evaluate: EvaluateFn | None = None,
        context: DistContext = DistContext(), progress: bool = False, label: str = "",
        checkpoint_every: int = 1) -> FitResult:
    """Train a classifier on ``images`` (uint8 [N, C, H, W], or :class:`ImageFiles` read while training) and
    ``labels`` (0..K-1) into ``run_dir``.

    Plain training minimises the head's loss (Eq. 14 for ARPL). With ``train_spec.confusing`` each epoch
    is one pass of Algorithm 2 (discriminator, generator with beta * entropy, classifier on real and
    generated samples) followed, unless ``focus_training`` is off, by a plain pass (focus training, as
    in the authors' code). ``evaluate(net, epoch)`` may add metrics (e.g. AUROC) to each epoch's line.
    Every ``checkpoint_every`` epochs, and after the last, the run is evaluated and checkpointed (an interrupted
    run resumes from its last checkpoint); every epoch prints its line.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest convolutions once
    check_process(train_spec.portable_kernels and device.type == "cpu")
    run_dir = Path(run_dir)
    checkpoint = checkpoint_in(run_dir)
    label = label or f"{model_spec.method}"
    parts = build_parts(model_spec, train_spec, device)
    start, history = _resume(checkpoint, parts, model_spec, train_spec, label, context)
    parts = wrap_parts(parts, train_spec, context, device, find_unused=model_spec.abn)
    batches = _training_batches(images, labels, model_spec, train_spec, device, context)
    for epoch in range(start, train_spec.epochs):
        torch.manual_seed(epoch_seed(train_spec.seed, epoch, context.rank))
        tic = time.perf_counter()
        stats = _run_epoch(parts, batches, epoch, train_spec, device, context, progress, label)
        parts.scheduler.step()
        stats["seconds"] = time.perf_counter() - tic
        stats["images_per_s"] = stats.pop("images") / stats["seconds"]
        row = {"epoch": epoch + 1, **stats, "lr": parts.optimizer.param_groups[0]["lr"]}
        due = (epoch + 1) % checkpoint_every == 0 or epoch + 1 == train_spec.epochs
        if context.is_main and evaluate is not None and due:
            row.update(evaluate(unwrap(parts.net).eval(), epoch + 1))
        history.append(row)
        if context.is_main and due:
            save_checkpoint(checkpoint, model_spec=model_spec, train_spec=train_spec, epoch=epoch + 1,
                            states=parts.states(), history=history)
            write_live(run_dir / "live", history)
        if context.is_main:
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


def _resume(checkpoint: Path, parts: Parts, model_spec: ModelSpec, train_spec: TrainSpec, label: str,
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


def _run_epoch(parts: Parts, batches: BatchSource, epoch: int, spec: TrainSpec, device: torch.device,
               context: DistContext, progress: bool, label: str) -> dict:
    """Algorithm 1's pass, or Algorithm 2's confusing pass followed (focus training) by Algorithm 1's."""
    stats: dict = {}
    if spec.confusing:
        stats.update(confusing_pass(parts, batches, epoch, spec, device, context, progress, label))
        if not spec.focus_training:
            return stats
    plain = plain_pass(parts, batches, epoch, spec, device, context, progress, label)
    if spec.confusing:
        plain["images"] += stats.pop("images")
    return {**stats, **plain}


def _epoch_line(label: str, row: dict, epochs: int) -> str:
    skip = {"epoch", "lr", "seconds", "images_per_s"}
    metrics = "  ".join(f"{key} {value:.4f}" for key, value in row.items()
                        if key not in skip and isinstance(value, float) and math.isfinite(value))
    return (f"[{label}] epoch {row['epoch']}/{epochs}  {metrics}  lr {row['lr']:.2g}  "
            f"{row['seconds']:.1f}s ({row['images_per_s']:.0f} img/s)")


def write_live(live_dir: str | Path, history: list[dict]) -> None:
    """Rewrite the run's learning curves from the checkpoint's history, so they always agree with the checkpoint
    (also after a resume), in dvclive's layout: ``plots/metrics/<name>.tsv`` (``step``, one per epoch) and
    ``metrics.json`` (the last values). Written directly: dvclive opens the DVC repository for every ``Live`` and
    signals each step to DVC's VS Code extension through a file that two workers' runs race on."""
    live_dir = Path(live_dir)
    shutil.rmtree(live_dir, ignore_errors=True)
    curves: dict[str, list[str]] = {}
    last: dict[str, float] = {}
    for step, row in enumerate(history):
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)):
                curves.setdefault(key, [f"step\t{key}\n"]).append(f"{step}\t{value}\n")
                last[key] = value
    (live_dir / "plots" / "metrics").mkdir(parents=True)
    for key, lines in curves.items():
        (live_dir / "plots" / "metrics" / f"{key}.tsv").write_text("".join(lines))
    (live_dir / "metrics.json").write_text(json.dumps({**last, "step": len(history) - 1}, indent=4))
