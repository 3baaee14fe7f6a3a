"""A method defined outside ``arpl``: cosine prototypes. ``tests/test_extending.py`` runs it through the pipeline
and docs/extending.md walks through it; params.yaml names it ``tests.plugins.cosine_head:CosineHead``."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from arpl.methods import Method, register_method


@register_method
class CosineHead(Method):
    """Cosine prototypes: one prototype ``w_k`` per class, ``logits_k = s cos(C(x), w_k)`` with the fixed scale
    ``s = SCALE``; loss ``cross_entropy(logits, y)``. Own open-set score: the maximum cosine similarity,
    ``max_k cos(C(x), w_k)`` (in [-1, 1])."""

    name = "Cosine"
    colour = "tab:cyan"
    reference = "Wang et al., NormFace: L2 Hypersphere Embedding for Face Verification, ACM MM 2017 (Sec. 3.3)"
    own_score = "max_cosine"
    scores = ("msp", "max_logit", "energy")
    bases_label = "prototypes"
    SCALE = 16.0

    def __init__(self, feat_dim: int, num_classes: int) -> None:
        super().__init__()
        self.prototypes = nn.Parameter(0.1 * torch.randn(num_classes, feat_dim))

    def bases(self) -> torch.Tensor:
        """The class prototypes [K, m]."""
        return self.prototypes

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``s cos(C(x), w_k)`` -> [B, K]."""
        return self.SCALE * F.normalize(features.float(), dim=1) @ F.normalize(self.prototypes, dim=1).t()

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, cross_entropy(logits, labels))``."""
        logits = self.logits(features)
        return logits, F.cross_entropy(logits, labels)

    @classmethod
    def score(cls, name: str, logits: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``own`` (``max_cosine``): ``max_k logits_k / s``; any other name: a score of :mod:`arpl.scores`."""
        if name in ("own", "max_cosine"):
            return torch.as_tensor(logits).float().max(dim=1).values / cls.SCALE
        return super().score(name, logits)
