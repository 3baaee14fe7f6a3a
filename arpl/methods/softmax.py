"""Softmax: the plain cross-entropy classifier, the baseline of every table."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from arpl.methods.base import Method, check_features, check_labels, check_positive_int, check_temperature
from arpl.methods.registry import register_method


@register_method
class SoftmaxHead(Method):
    """Plain softmax classifier: ``logits = W C(x)`` (classifier32's ``fc``, no bias).

    Loss: ``cross_entropy(logits / temperature, y)``. Open-set score: max softmax probability.
    """

    name = "Softmax"
    colour = "tab:blue"
    reference = ("cross-entropy baseline scored by the maximum softmax probability (Hendrycks & Gimpel, ICLR 2017); "
                 "the authors' loss/Softmax.py")
    own_score = "msp"
    scores = ("msp", "max_logit", "energy")
    bases_label = "softmax weights"

    def __init__(self, feat_dim: int, num_classes: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.feat_dim = check_positive_int("feat_dim", feat_dim)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.temperature = check_temperature(temperature)
        self.fc = nn.Linear(feat_dim, num_classes, bias=False)

    def bases(self) -> torch.Tensor:
        """The weight rows [K, m] of the linear classifier."""
        return self.fc.weight

    def logits_from_bases(self, features: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
        """``features @ bases.T`` -> [B, K]."""
        return check_features(features, self.feat_dim) @ bases.t()

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``W C(x)`` -> [B, K]."""
        return self.logits_from_bases(features, self.bases())

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, cross_entropy(logits / temperature, labels))``."""
        logits = self.logits(features)
        labels = check_labels(labels, features.shape[0])
        return logits, F.cross_entropy(logits / self.temperature, labels)

    def extra_repr(self) -> str:
        return f"feat_dim={self.feat_dim}, num_classes={self.num_classes}, temperature={self.temperature}"
