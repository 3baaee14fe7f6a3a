"""What a trained ARPL+CS model's confusing samples look like (Sec. 4): the generator G kept in its checkpoint
and its samples (Fig. 6b), where they land in a classifier's feature space (Fig. 4), and the per-epoch
history of a run (Fig. 10). Algorithm 2, which trains G and the classifier, is in :mod:`arpl.training`; the
figures are drawn by :mod:`arpl.figures`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from arpl.models.dcgan import build_gan
from arpl.prediction_cache import cached_predict
from arpl.training.checkpoint import load_model, read_checkpoint


def load_generator(checkpoint: str | Path, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The confused generator G stored in an ARPL+CS checkpoint, in eval mode."""
    payload = read_checkpoint(checkpoint)
    if "generator" not in payload["states"]:
        raise ValueError(f"{checkpoint} holds no generator: it was not trained with confusing samples.")
    model, train = payload["model_spec"], payload["train_spec"]
    generator, _ = build_gan(model["image_size"], model["in_channels"], nz=train["nz"], ngf=train["ngf"],
                             ndf=train["ndf"])
    generator.load_state_dict(payload["states"]["generator"])
    return generator.to(device).eval()


@torch.no_grad()
def generate(generator: torch.nn.Module, count: int, seed: int = 0) -> torch.Tensor:
    """``count`` generated images as uint8 [N, C, H, W] (fixed noise from ``seed``)."""
    torch.manual_seed(seed)
    device = next(generator.parameters()).device
    images = generator(generator.sample_noise(count, device=device))
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def pca_2d(reference: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Project features to the two principal axes of ``reference`` (known test features)."""
    mean = reference.mean(0)
    _, _, axes = np.linalg.svd(reference - mean, full_matrices=False)
    return [(x - mean) @ axes[:2].T for x in (reference, *others)]


def feature_view(checkpoint: str | Path, known: torch.Tensor, known_labels: np.ndarray, unknown: torch.Tensor,
                 fake: torch.Tensor, device: torch.device | str = "cpu") -> dict:
    """Fig. 4: known, unknown and generated samples in a classifier's feature space (PCA to 2-D when the
    feature has more than two dimensions). Returns arguments for
    :func:`arpl.figures.feature_space.feature_scatter`."""
    net, _ = load_model(checkpoint, device=device)
    parts = [cached_predict(net, images, device).features for images in (known, unknown, fake)]
    if parts[0].shape[1] > 2:
        parts = pca_2d(*parts)
    features = np.concatenate(parts[:2])
    labels = np.concatenate([known_labels, -np.ones(len(parts[1]), dtype=np.int64)])
    return {"features": features, "labels": labels, "extra": {"generated": parts[2]}}


def history(checkpoint: str | Path) -> list[dict]:
    """The per-epoch metrics stored in a checkpoint (training loss, test accuracy, AUROC, ...)."""
    return read_checkpoint(checkpoint)["history"]
