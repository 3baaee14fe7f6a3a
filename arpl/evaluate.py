"""From a trained classifier to predictions: features, logits and the open-set scores they give."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from arpl.data.files import ImageFiles, eval_batches
from arpl.methods import get_method
from arpl.scores import score
from arpl.training.network import OpenSetNet


@dataclass
class Predictions:
    """Features and logits of a set of images (numpy, float32)."""

    features: np.ndarray
    logits: np.ndarray

    def scores(self, name: str, method: str | None = None) -> np.ndarray:
        """Open-set score per image (higher = more likely known): ``name`` of :mod:`arpl.scores` or, given the
        model's ``method`` (a registered name or import path), also ``own``, the method's own score."""
        logits = torch.from_numpy(self.logits)
        values = score(name, logits) if method is None else get_method(method).score(name, logits)
        return values.numpy().astype(np.float64)

    def class_scores(self, name: str, method: str | None = None) -> np.ndarray | None:
        """Per-class scores [N, K] whose row maximum is the ``name`` score (``own`` resolved for ``method``), as
        the authors' ``compute_oscr`` takes them: class probabilities for ``msp``, the logits for ``max_logit``
        and ``max_distance``; None for a score that is no row maximum (``energy``, a plug-in's own)."""
        name = resolve_score(name, method) if method is not None else name
        if name == "msp":
            return softmax(self.logits)
        if name in ("max_logit", "max_distance"):
            return self.logits
        return None

    def predicted(self) -> np.ndarray:
        """Closed-set prediction: argmax of the model's own logit rule."""
        return self.logits.argmax(1)


@torch.no_grad()
def predict(net: OpenSetNet, images: torch.Tensor | ImageFiles, batch_size: int = 512,
            device: torch.device | str = "cpu") -> Predictions:
    """Run ``net`` (eval mode, known-data BN as in Sec. 5.1) over uint8 ``images`` [N, C, H, W] (or
    :class:`ImageFiles`, decoded by worker processes)."""
    net = net.to(device).eval()
    features, logits = [], []
    for batch in uint8_batches(images, batch_size):
        x = batch.to(device, non_blocking=True).float().div_(255)
        f, z = net(x)
        features.append(f.float().cpu())
        logits.append(z.float().cpu())
    if not features:
        raise ValueError("predict() got no images; check the data selection (split, per-class subset).")
    return Predictions(torch.cat(features).numpy(), torch.cat(logits).numpy())


def uint8_batches(images: torch.Tensor | ImageFiles, batch_size: int) -> Iterator[torch.Tensor]:
    """Consecutive uint8 batches of ``images``, in order."""
    if isinstance(images, ImageFiles):
        yield from eval_batches(images, batch_size)
        return
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]


def resolve_score(name: str, method: str) -> str:
    """``own`` means the method's own rule: MSP for Softmax/GCPL/RPL, max distance for ARPL (Eq. 20)."""
    return get_method(method).own_score if name == "own" else name


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities of ``logits`` [N, K] with the same torch softmax as the ``msp`` score, so that the
    authors' OSCR sees exactly the values (and ties) that the other metrics see."""
    return torch.softmax(torch.from_numpy(np.asarray(logits)), dim=1).numpy()
