"""Algorithm 1 (plain training): one epoch minimising the head's loss on the known classes (Eq. 14 for
ARPL; the softmax, GCPL and RPL losses for the others)."""

from __future__ import annotations

import torch

from arpl.training.distributed import DistContext, reduce_sum
from arpl.training.parts import Parts
from arpl.training.specs import TrainSpec
from arpl.training.step import BatchSource, FiniteGuard, autocast, memory_format, numbered_batches


def plain_pass(parts: Parts, batches: BatchSource, epoch: int, spec: TrainSpec, device: torch.device,
               context: DistContext, progress: bool, label: str) -> dict:
    """One epoch of Algorithm 1: minimise the head's loss on known data; returns its mean loss, training
    accuracy and image count (and the skipped batches, if any)."""
    parts.net.train()
    total_loss = correct = seen = skipped = 0.0
    guard = FiniteGuard(spec, label, epoch, context, device)
    index = -1
    for index, (x, y) in numbered_batches(batches, epoch, progress, f"{label} epoch {epoch + 1}"):
        x = memory_format(x, spec)
        with autocast(spec, device):
            logits, loss = parts.net(x, y)
        if not guard(loss, index):
            parts.optimizer.zero_grad(set_to_none=True)
            skipped += 1
            continue
        parts.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parts.optimizer.step()
        total_loss += loss.detach().float() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
    guard.finish(index)
    total_loss, correct, seen, skipped = reduce_sum([float(total_loss), float(correct), seen, skipped],
                                                    context, device)
    stats = {"loss": total_loss / max(seen, 1), "train_acc": correct / max(seen, 1), "images": seen}
    if skipped:
        stats["skipped_batches"] = int(skipped)
    return stats
