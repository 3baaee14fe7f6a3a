"""ARPL: adversarial reciprocal point learning (paper Sec. 3, Algorithm 1), the paper's method."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from arpl.methods.base import (Method, check_features, check_labels, check_nonnegative_float, check_positive_int,
                               check_temperature, new_points)
from arpl.methods.distances import check_distance, own_point_distance, reciprocal_logits, squared_euclidean_distance
from arpl.methods.registry import register_method
from arpl.scores import unknown_name_error

MARGIN_FORMS: tuple[str, ...] = ("code", "paper")
ENTROPY_FORMS: tuple[str, ...] = ("code", "paper")


@register_method
class ARPLHead(Method):
    """Adversarial reciprocal point learning (paper Sec. 3, Eq. 6-14), authors' ``ARPLoss``.

    Reciprocal points ``P`` [K, m] (init ``0.1 randn``) and one learnable margin ``R``.

    - Eq. (6): ``d(C(x), P^k) = d_e - d_d``; these are the logits.
    - Eq. (7): ``p(y=k|x) = softmax(γ d)``, with ``γ = 1/temperature``.
    - Eq. (8): ``L_c = -log p(y|x)``, averaged over the batch.
    - Eq. (12), adversarial margin ``L_o`` averaged over the batch, ``d_e = d_e(C(x), P^y)``:
        ``margin_form="code"`` (default, authors' ``MarginRankingLoss(margin=1)(R, d_e, 1)``):
        ``max(0, d_e - R + 1)``, ``R`` initialised to 0;
        ``margin_form="paper"``: ``max(0, d_e - R)``, ``R`` initialised to 1 (Sec. 5.1).
      ``radius_init`` overrides either initial value.
    - Eq. (14): ``L = L_c + λ L_o`` with ``λ = weight_pl``.

    Open-set score: ``max_distance`` (Eq. 20), i.e. the maximum logit.
    """

    name = "ARPL"
    colour = "tab:red"
    reference = ("Chen et al., Adversarial Reciprocal Points Learning for Open Set Recognition, IEEE TPAMI 2021, "
                 "Sec. 3 and Algorithm 1; the authors' loss/ARPLoss.py")
    own_score = "max_distance"
    scores = ("max_distance", "msp", "max_logit", "energy")
    bases_label = "reciprocal points"

    def __init__(
        self,
        feat_dim: int,
        num_classes: int,
        weight_pl: float = 0.1,
        temperature: float = 1.0,
        margin_form: str = "code",
        radius_init: float | None = None,
        distance: str = "l2-dot",
    ) -> None:
        super().__init__()
        self.feat_dim = check_positive_int("feat_dim", feat_dim)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.weight_pl = check_nonnegative_float("weight_pl", weight_pl)
        self.temperature = check_temperature(temperature)
        if margin_form not in MARGIN_FORMS:
            raise unknown_name_error("margin_form", margin_form, MARGIN_FORMS)
        self.margin_form = margin_form
        self.distance = check_distance(distance)
        if radius_init is None:
            radius_init = 0.0 if margin_form == "code" else 1.0
        if isinstance(radius_init, bool) or not isinstance(radius_init, (int, float)) or not math.isfinite(radius_init):
            raise ValueError(f"radius_init must be a finite number or None, got {radius_init!r}")
        self.points = new_points(num_classes, feat_dim)
        self.R = nn.Parameter(torch.full((1,), float(radius_init)))

    @property
    def radius(self) -> float:
        """Current value of the learnable margin ``R`` (Eq. 12; Fig. 11a)."""
        return float(self.R.detach().item())

    def bases(self) -> torch.Tensor:
        """The reciprocal points [K, m]."""
        return self.points

    def logits_from_bases(self, features: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
        """Eq. (6): ``d_e(C(x), bases) - d_d(C(x), bases)`` -> [B, K] (``d_e`` alone with
        ``distance="l2"``: the RPL+AMC ablation of Fig. 8)."""
        return reciprocal_logits(check_features(features, self.feat_dim), bases, self.distance)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Eq. (6): ``d(C(x), P^k) = d_e - d_d`` -> [B, K]."""
        return self.logits_from_bases(features, self.bases())

    def margin_loss(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``L_o`` of Eq. (12) averaged over the batch, in the form chosen by ``margin_form``."""
        return F.relu(self._margin_excess(features, labels)).mean()

    @torch.no_grad()
    def margin_active_fraction(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        """Share of samples whose margin term (Eq. 12) is non-zero, i.e. still pulls ``d_e`` below ``R``. In the
        code form, ``R`` grows until hardly any sample is active: then ARPL trains as plain cross-entropy."""
        return float((self._margin_excess(features, labels) > 0).float().mean())

    def _margin_excess(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = check_labels(labels, check_features(features, self.feat_dim).shape[0])
        offset = 1.0 if self.margin_form == "code" else 0.0
        return own_point_distance(features, self.points, labels) - self.R + offset

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. (14): ``(logits, L_c + weight_pl * L_o)``."""
        logits = self.logits(features)
        labels = check_labels(labels, features.shape[0])
        classification = F.cross_entropy(logits / self.temperature, labels)
        return logits, classification + self.weight_pl * self.margin_loss(features, labels)

    def entropy_term(self, features: torch.Tensor, form: str = "code") -> torch.Tensor:
        """Confusion term for generated samples (Eq. 17-19), a scalar to MINIMISE.

        With ``S_k = softmax_k(d_e(C(G(z)), P^k))`` (``d_e`` only, no temperature, as both
        the paper and the code) and ``K`` classes:

        - ``form="code"`` (authors' ``fake_loss``): ``exp(mean_batch Σ_k S_k log S_k)``
          = ``exp(-mean_batch entropy)``; in ``[1/K, 1]``, equal to ``1/K`` when all
          distances are equal.
        - ``form="paper"``: ``-H(z, P)`` averaged over the batch, with Eq. (17)'s
          ``H = -(1/K) Σ_k S_k log S_k`` (the paper's 1/N factor kept); in ``[-log(K)/K, 0]``,
          equal to ``-log(K)/K`` when all distances are equal.

        Both are "lower = closer to all reciprocal points", so the generator minimises
        ``bce + β entropy_term`` (Eq. 18) and the classifier ``L + β entropy_term`` (Eq. 19).
        """
        if form not in ENTROPY_FORMS:
            raise unknown_name_error("entropy form", form, ENTROPY_FORMS)
        d_e = squared_euclidean_distance(check_features(features, self.feat_dim), self.points)
        log_probabilities = F.log_softmax(d_e, dim=1)
        negative_entropy = (log_probabilities.exp() * log_probabilities).sum(dim=1)
        if form == "code":
            return negative_entropy.mean().exp()
        return (negative_entropy / self.num_classes).mean()

    def extra_repr(self) -> str:
        return (
            f"feat_dim={self.feat_dim}, num_classes={self.num_classes}, weight_pl={self.weight_pl}, "
            f"temperature={self.temperature}, margin_form={self.margin_form!r}"
        )
