"""RPL: reciprocal point learning, ARPL's predecessor without the adversarial margin."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from arpl.methods.base import (Method, check_features, check_labels, check_nonnegative_float, check_positive_int,
                               check_temperature, new_points)
from arpl.methods.distances import check_distance, own_point_distance, reciprocal_logits
from arpl.methods.registry import register_method


@register_method
class RPLHead(Method):
    """Reciprocal point learning (Chen et al., ECCV 2020), authors' ``RPLoss``.

    Reciprocal points ``P`` [K, m] (init ``0.1 randn``); ``logits = d_e(C(x), P)``: the class
    whose reciprocal point is farthest wins. One learnable radius ``R`` (init 0).
    Loss: ``cross_entropy(d_e / temperature, y) + weight_pl * mean_batch((d_e(C(x), P^y) - R)²)``.
    Open-set score: max softmax probability (as the authors' test code).
    """

    name = "RPL"
    colour = "tab:green"
    reference = ("Chen et al., Learning Open Set Network with Discriminative Reciprocal Points, ECCV 2020; "
                 "the authors' loss/RPLoss.py")
    own_score = "msp"
    scores = ("max_distance", "msp", "max_logit", "energy")
    bases_label = "reciprocal points"

    def __init__(self, feat_dim: int, num_classes: int, weight_pl: float = 0.1, temperature: float = 1.0,
                 distance: str = "l2") -> None:
        super().__init__()
        self.feat_dim = check_positive_int("feat_dim", feat_dim)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.weight_pl = check_nonnegative_float("weight_pl", weight_pl)
        self.temperature = check_temperature(temperature)
        self.distance = check_distance(distance)
        self.points = new_points(num_classes, feat_dim)
        self.R = nn.Parameter(torch.zeros(1))

    @property
    def radius(self) -> float:
        """Current value of the learnable radius ``R``."""
        return float(self.R.detach().item())

    def bases(self) -> torch.Tensor:
        """The reciprocal points [K, m]."""
        return self.points

    def logits_from_bases(self, features: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
        """``d_e(C(x), bases)`` -> [B, K] (``d_e - d_d`` with ``distance="l2-dot"``: RPL+cosine, Fig. 8)."""
        return reciprocal_logits(check_features(features, self.feat_dim), bases, self.distance)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``d_e(C(x), P)`` -> [B, K]."""
        return self.logits_from_bases(features, self.bases())

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, CE(d_e / T) + weight_pl * mean((d_e(C(x), P^y) - R)²))``."""
        logits = self.logits(features)
        labels = check_labels(labels, features.shape[0])
        classification = F.cross_entropy(logits / self.temperature, labels)
        radius_pull = (own_point_distance(features, self.points, labels) - self.R).pow(2).mean()
        return logits, classification + self.weight_pl * radius_pull

    def extra_repr(self) -> str:
        return (
            f"feat_dim={self.feat_dim}, num_classes={self.num_classes}, "
            f"weight_pl={self.weight_pl}, temperature={self.temperature}"
        )
