"""The distances of Eq. (6) between features and class vectors (prototypes or reciprocal points).

Computed like the authors' ``Dist`` (iCGY96/ARPL, ``loss/Dist.py``), in at least float32 with autocast off.
"""

from __future__ import annotations

import torch

from arpl.scores import unknown_name_error

DISTANCES = ("l2", "l2-dot")


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


def check_distance(distance: str) -> str:
    """``distance`` if it is one of :data:`DISTANCES`."""
    if distance not in DISTANCES:
        raise unknown_name_error("distance", distance, DISTANCES)
    return distance


def own_point_distance(features: torch.Tensor, points: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``d_e(C(x), P^y)`` for each sample and its own class's point -> [B] (authors' ``_dis_known``)."""
    difference = _at_least_float32(features) - _at_least_float32(points)[labels]
    return difference.pow(2).mean(dim=1)
