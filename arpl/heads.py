"""Classification heads ("losses"): Softmax, GCPL, RPL and ARPL (paper Sec. 3-4).

A head owns the class vectors (softmax weights, prototypes or reciprocal points) and the
training loss of its method; the backbone only produces features [B, m]. Every head has

- ``logits(features) -> [B, K]``: the method's own logit rule (argmax = predicted class);
- ``forward(features, labels) -> (logits, loss)``: ``loss`` is a scalar tensor;
- ``bases() -> [K, m]``: the class vectors (used by the class-incremental study);
- ``logits_from_bases(features, bases)``: the logit rule applied to other class vectors;
- ``own_score``: the name (see :mod:`arpl.scores`) of the method's own open-set score.

Defaults reproduce the authors' code (iCGY96/ARPL, ``loss/``) numerically; where the
paper's text differs (docs/paper_vs_code.md), ``ARPLHead(margin_form="paper")`` and
``ARPLHead.entropy_term(form="paper")`` give the literal equations.

Temperature: the code divides logits by ``temp`` before the softmax; the paper multiplies
distances by ``γ`` (Eq. 7). Here ``temperature`` is the code's ``temp``, so ``γ = 1/temperature``.
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn

from arpl.scores import own_score as _own_score_of
from arpl.scores import unknown_name_error

MARGIN_FORMS: tuple[str, ...] = ("code", "paper")
ENTROPY_FORMS: tuple[str, ...] = ("code", "paper")


# ----------------------------------------------------------------------------- distances


def _at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    return tensor if tensor.dtype in (torch.float32, torch.float64) else tensor.float()


def squared_euclidean_distance(features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``d_e`` of Eq. (6): ``(1/m) ||C(x) - P^k||²`` for every sample and point -> [B, K].

    Computed like the authors' ``Dist(metric='l2')`` (``|x|² - 2 x·P + |P|²``, divided by the
    feature dimension m), but in at least float32 with autocast off, and clamped at zero so
    rounding can never make a squared distance negative.
    """
    with torch.autocast(device_type=features.device.type, enabled=False):
        x = _at_least_float32(features)
        p = _at_least_float32(points)
        x_sq = x.pow(2).sum(dim=1, keepdim=True)
        p_sq = p.pow(2).sum(dim=1, keepdim=True)
        squared = x_sq - 2.0 * (x @ p.t()) + p_sq.t()
        return squared.clamp_min(0.0) / float(x.shape[1])


def dot_product(features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``d_d`` of Eq. (6): ``C(x) · P^k`` for every sample and point -> [B, K]."""
    with torch.autocast(device_type=features.device.type, enabled=False):
        return _at_least_float32(features) @ _at_least_float32(points).t()


def reciprocal_distances(features: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(d_e, d_d)`` of Eq. (6) between features [B, m] and reciprocal points [K, m]."""
    return squared_euclidean_distance(features, points), dot_product(features, points)


DISTANCES = ("l2", "l2-dot")


def reciprocal_logits(features: torch.Tensor, points: torch.Tensor, distance: str) -> torch.Tensor:
    """Distance-based logits: ``d_e`` (RPL, "l2") or ``d_e - d_d`` (ARPL's Eq. 6, "l2-dot").

    Swapping the distance of RPL and ARPL gives the "RPL+cosine" and "RPL+AMC" ablations of Fig. 8.
    """
    if distance == "l2":
        return squared_euclidean_distance(features, points)
    if distance == "l2-dot":
        d_e, d_d = reciprocal_distances(features, points)
        return d_e - d_d
    raise unknown_name_error("distance", distance, DISTANCES)


def _own_point_distance(features: torch.Tensor, points: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``d_e(C(x), P^y)`` for each sample and its own class's point -> [B] (authors' ``_dis_known``)."""
    difference = _at_least_float32(features) - _at_least_float32(points)[labels]
    return difference.pow(2).mean(dim=1)


# ----------------------------------------------------------------------------- validation


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_nonnegative_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_temperature(value: object) -> float:
    temperature = _check_nonnegative_float("temperature", value)
    if temperature == 0:
        raise ValueError("temperature must be > 0 (it divides the logits; gamma = 1/temperature), got 0")
    return temperature


def _check_features(features: torch.Tensor, feat_dim: int) -> torch.Tensor:
    if not isinstance(features, torch.Tensor) or features.dim() != 2 or features.shape[1] != feat_dim:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise ValueError(f"features must be a tensor of shape [batch, {feat_dim}], got {shape}")
    return features


def _check_labels(labels: torch.Tensor, batch_size: int) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.shape[0] != batch_size:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be a 1-D tensor of {batch_size} class indices, got {shape}")
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex():
        raise ValueError(f"labels must hold integer class indices, got dtype {labels.dtype}")
    return labels.long()


def _new_points(num_classes: int, feat_dim: int) -> nn.Parameter:
    """Class vectors initialised as in the authors' ``Dist``: ``0.1 * randn(K, m)``."""
    return nn.Parameter(0.1 * torch.randn(num_classes, feat_dim))


# ----------------------------------------------------------------------------- heads


class SoftmaxHead(nn.Module):
    """Plain softmax classifier: ``logits = W C(x)`` (classifier32's ``fc``, no bias).

    Loss: ``cross_entropy(logits / temperature, y)``. Open-set score: max softmax probability.
    """

    own_score: str = _own_score_of("Softmax")

    def __init__(self, feat_dim: int, num_classes: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.feat_dim = _check_positive_int("feat_dim", feat_dim)
        self.num_classes = _check_positive_int("num_classes", num_classes)
        self.temperature = _check_temperature(temperature)
        self.fc = nn.Linear(feat_dim, num_classes, bias=False)

    def bases(self) -> torch.Tensor:
        """The weight rows [K, m] of the linear classifier."""
        return self.fc.weight

    def logits_from_bases(self, features: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
        """``features @ bases.T`` -> [B, K]."""
        return _check_features(features, self.feat_dim) @ bases.t()

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``W C(x)`` -> [B, K]."""
        return self.logits_from_bases(features, self.bases())

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, cross_entropy(logits / temperature, labels))``."""
        logits = self.logits(features)
        labels = _check_labels(labels, features.shape[0])
        return logits, F.cross_entropy(logits / self.temperature, labels)

    def extra_repr(self) -> str:
        return f"feat_dim={self.feat_dim}, num_classes={self.num_classes}, temperature={self.temperature}"


class GCPLHead(nn.Module):
    """Generalized convolutional prototype learning (Yang et al., CVPR 2018), authors' ``GCPLoss``.

    Prototypes ``M`` [K, m] (init ``0.1 randn``); ``logits = -d_e(C(x), M)`` (Eq. 6's ``d_e``).
    Loss: ``cross_entropy(-d_e / temperature, y) + weight_pl * mse(C(x), M_y) / 2`` where
    ``mse`` averages over batch and feature dimension. Open-set score: max softmax probability.
    """

    own_score: str = _own_score_of("GCPL")

    def __init__(self, feat_dim: int, num_classes: int, weight_pl: float = 0.1, temperature: float = 1.0) -> None:
        super().__init__()
        self.feat_dim = _check_positive_int("feat_dim", feat_dim)
        self.num_classes = _check_positive_int("num_classes", num_classes)
        self.weight_pl = _check_nonnegative_float("weight_pl", weight_pl)
        self.temperature = _check_temperature(temperature)
        self.prototypes = _new_points(num_classes, feat_dim)

    def bases(self) -> torch.Tensor:
        """The class prototypes [K, m]."""
        return self.prototypes

    def logits_from_bases(self, features: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
        """``-d_e(C(x), bases)`` -> [B, K]: the nearest prototype wins."""
        return -squared_euclidean_distance(_check_features(features, self.feat_dim), bases)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``-d_e(C(x), M)`` -> [B, K]."""
        return self.logits_from_bases(features, self.bases())

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, CE(logits / T) + weight_pl * mse(C(x), M_y) / 2)``."""
        logits = self.logits(features)
        labels = _check_labels(labels, features.shape[0])
        classification = F.cross_entropy(logits / self.temperature, labels)
        prototype_pull = _own_point_distance(features, self.prototypes, labels).mean() / 2.0
        return logits, classification + self.weight_pl * prototype_pull

    def extra_repr(self) -> str:
        return (
            f"feat_dim={self.feat_dim}, num_classes={self.num_classes}, "
            f"weight_pl={self.weight_pl}, temperature={self.temperature}"
        )


class RPLHead(nn.Module):
    """Reciprocal point learning (Chen et al., ECCV 2020), authors' ``RPLoss``.

    Reciprocal points ``P`` [K, m] (init ``0.1 randn``); ``logits = d_e(C(x), P)``: the class
    whose reciprocal point is farthest wins. One learnable radius ``R`` (init 0).
    Loss: ``cross_entropy(d_e / temperature, y) + weight_pl * mean_batch((d_e(C(x), P^y) - R)²)``.
    Open-set score: max softmax probability (as the authors' test code).
    """

    own_score: str = _own_score_of("RPL")

    def __init__(self, feat_dim: int, num_classes: int, weight_pl: float = 0.1, temperature: float = 1.0,
                 distance: str = "l2") -> None:
        super().__init__()
        self.feat_dim = _check_positive_int("feat_dim", feat_dim)
        self.num_classes = _check_positive_int("num_classes", num_classes)
        self.weight_pl = _check_nonnegative_float("weight_pl", weight_pl)
        self.temperature = _check_temperature(temperature)
        if distance not in DISTANCES:
            raise unknown_name_error("distance", distance, DISTANCES)
        self.distance = distance
        self.points = _new_points(num_classes, feat_dim)
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
        return reciprocal_logits(_check_features(features, self.feat_dim), bases, self.distance)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``d_e(C(x), P)`` -> [B, K]."""
        return self.logits_from_bases(features, self.bases())

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, CE(d_e / T) + weight_pl * mean((d_e(C(x), P^y) - R)²))``."""
        logits = self.logits(features)
        labels = _check_labels(labels, features.shape[0])
        classification = F.cross_entropy(logits / self.temperature, labels)
        radius_pull = (_own_point_distance(features, self.points, labels) - self.R).pow(2).mean()
        return logits, classification + self.weight_pl * radius_pull

    def extra_repr(self) -> str:
        return (
            f"feat_dim={self.feat_dim}, num_classes={self.num_classes}, "
            f"weight_pl={self.weight_pl}, temperature={self.temperature}"
        )


class ARPLHead(nn.Module):
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

    own_score: str = _own_score_of("ARPL")

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
        self.feat_dim = _check_positive_int("feat_dim", feat_dim)
        self.num_classes = _check_positive_int("num_classes", num_classes)
        self.weight_pl = _check_nonnegative_float("weight_pl", weight_pl)
        self.temperature = _check_temperature(temperature)
        if margin_form not in MARGIN_FORMS:
            raise unknown_name_error("margin_form", margin_form, MARGIN_FORMS)
        self.margin_form = margin_form
        if distance not in DISTANCES:
            raise unknown_name_error("distance", distance, DISTANCES)
        self.distance = distance
        if radius_init is None:
            radius_init = 0.0 if margin_form == "code" else 1.0
        if isinstance(radius_init, bool) or not isinstance(radius_init, (int, float)) or not math.isfinite(radius_init):
            raise ValueError(f"radius_init must be a finite number or None, got {radius_init!r}")
        self.points = _new_points(num_classes, feat_dim)
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
        return reciprocal_logits(_check_features(features, self.feat_dim), bases, self.distance)

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
        labels = _check_labels(labels, _check_features(features, self.feat_dim).shape[0])
        offset = 1.0 if self.margin_form == "code" else 0.0
        return _own_point_distance(features, self.points, labels) - self.R + offset

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. (14): ``(logits, L_c + weight_pl * L_o)``."""
        logits = self.logits(features)
        labels = _check_labels(labels, features.shape[0])
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
        d_e = squared_euclidean_distance(_check_features(features, self.feat_dim), self.points)
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


HEADS: dict[str, type[nn.Module]] = {
    "Softmax": SoftmaxHead,
    "GCPL": GCPLHead,
    "RPL": RPLHead,
    "ARPL": ARPLHead,
}


def head_options(method: str) -> list[str]:
    """The keyword options ``build_head`` accepts for ``method`` (besides feat_dim, num_classes)."""
    if method not in HEADS:
        raise unknown_name_error("method", method, list(HEADS))
    parameters = inspect.signature(HEADS[method].__init__).parameters
    return [name for name in parameters if name not in ("self", "feat_dim", "num_classes")]


def build_head(method: str, feat_dim: int, num_classes: int, **options: object) -> nn.Module:
    """The head of ``method`` (``Softmax``, ``GCPL``, ``RPL`` or ``ARPL``; case-sensitive).

    ``options`` are the head's keyword arguments (see :func:`head_options`); an option the
    head does not take is an error, not silently ignored.
    """
    allowed = head_options(method)
    for name in options:
        if name not in allowed:
            error = unknown_name_error(f"option for head {method!r}:", name, allowed)
            raise ValueError(f"{error} (remove it or choose a head that takes it)")
    return HEADS[method](feat_dim, num_classes, **options)
