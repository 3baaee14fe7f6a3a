"""GCPL: generalized convolutional prototype learning, the prototype baseline of Tables 1-4."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from arpl.methods.base import (Method, check_features, check_labels, check_nonnegative_float, check_positive_int,
                               check_temperature, new_points)
from arpl.methods.distances import own_point_distance, squared_euclidean_distance
from arpl.methods.registry import register_method


@register_method
class GCPLHead(Method):
    """Generalized convolutional prototype learning (Yang et al., CVPR 2018), authors' ``GCPLoss``.

    Prototypes ``M`` [K, m] (init ``0.1 randn``); ``logits = -d_e(C(x), M)`` (Eq. 6's ``d_e``).
    Loss: ``cross_entropy(-d_e / temperature, y) + weight_pl * mse(C(x), M_y) / 2`` where
    ``mse`` averages over batch and feature dimension. Open-set score: max softmax probability.
    """

    name = "GCPL"
    colour = "tab:orange"
    reference = ("Yang et al., Robust Classification with Convolutional Prototype Learning, CVPR 2018; "
                 "the authors' loss/GCPLoss.py")
    own_score = "msp"
    scores = ("msp", "max_logit", "energy")
    bases_label = "prototypes"

    def __init__(self, feat_dim: int, num_classes: int, weight_pl: float = 0.1, temperature: float = 1.0) -> None:
        super().__init__()
        self.feat_dim = check_positive_int("feat_dim", feat_dim)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.weight_pl = check_nonnegative_float("weight_pl", weight_pl)
        self.temperature = check_temperature(temperature)
        self.prototypes = new_points(num_classes, feat_dim)

    def bases(self) -> torch.Tensor:
        """The class prototypes [K, m]."""
        return self.prototypes

    def logits_from_bases(self, features: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
        """``-d_e(C(x), bases)`` -> [B, K]: the nearest prototype wins."""
        return -squared_euclidean_distance(check_features(features, self.feat_dim), bases)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``-d_e(C(x), M)`` -> [B, K]."""
        return self.logits_from_bases(features, self.bases())

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, CE(logits / T) + weight_pl * mse(C(x), M_y) / 2)``."""
        logits = self.logits(features)
        labels = check_labels(labels, features.shape[0])
        classification = F.cross_entropy(logits / self.temperature, labels)
        prototype_pull = own_point_distance(features, self.prototypes, labels).mean() / 2.0
        return logits, classification + self.weight_pl * prototype_pull

    def extra_repr(self) -> str:
        return (
            f"feat_dim={self.feat_dim}, num_classes={self.num_classes}, "
            f"weight_pl={self.weight_pl}, temperature={self.temperature}"
        )
