"""Open-set scores: one number per sample, higher = more likely a known class.

Every score is a function of a head's logits (``head.logits(features)``), so a score can be
computed for any trained model without touching its parameters:

- ``msp``: maximum softmax probability, ``max_k softmax(logits)_k`` (temperature 1).
- ``max_logit``: ``max_k logits_k``.
- ``energy``: negative free energy at temperature 1, ``logsumexp_k logits_k``.
- ``max_distance``: the ARPL score of Eq. (20), ``p(known|x) ∝ max_k d(C(x), P^k)``.
  For reciprocal-point heads (RPL, ARPL) the logits ARE the distances to the reciprocal
  points (RPL: ``d_e``; ARPL: ``d_e - d_d``, Eq. 6), so this score is numerically the max
  logit. It is kept as its own name because it only has that meaning for those heads.

Which score each method reports as its own, and which of these apply to it, is part of the method
(``own_score`` and ``scores`` of its class in :mod:`arpl.methods`); the built-in choices follow the authors'
test code (docs/paper_vs_code.md): Softmax, GCPL and RPL are scored by the max softmax probability of the
logits their criterion returns; ARPL by the raw maximum of its logits (the distance, Eq. 20).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import numpy as np
import torch


def unknown_name_error(kind: str, name: object, allowed: tuple[str, ...] | list[str]) -> ValueError:
    """A ValueError naming the bad value, the allowed values and the closest match."""
    message = f"unknown {kind} {name!r}; allowed: {', '.join(allowed)}"
    by_lower_case = {choice.lower(): choice for choice in allowed}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower_case), n=1)
    if close:
        message += f" (did you mean {by_lower_case[close[0]]!r}?)"
    return ValueError(message)


def max_softmax_probability(logits: torch.Tensor) -> torch.Tensor:
    """Maximum softmax probability (Hendrycks & Gimpel baseline), temperature 1."""
    return torch.softmax(logits, dim=1).max(dim=1).values


def max_logit(logits: torch.Tensor) -> torch.Tensor:
    """Maximum logit over the known classes."""
    return logits.max(dim=1).values


def energy(logits: torch.Tensor) -> torch.Tensor:
    """Negative free energy at temperature 1: ``logsumexp_k logits_k`` (Liu et al. 2020)."""
    return torch.logsumexp(logits, dim=1)


def max_distance(logits: torch.Tensor) -> torch.Tensor:
    """Eq. (20): ``max_k d(C(x), P^k)`` for reciprocal-point heads.

    The logits of RPL/ARPL heads are the distances to the reciprocal points, so this equals
    :func:`max_logit`; the separate name records the paper's meaning.
    """
    return logits.max(dim=1).values


_SCORES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "msp": max_softmax_probability,
    "max_logit": max_logit,
    "energy": energy,
    "max_distance": max_distance,
}


SCORE_LABELS = {
    "msp": "max softmax probability",
    "max_logit": "max logit",
    "energy": "energy (log-sum-exp of the logits)",
    "max_distance": "max distance to reciprocal points (Eq. 20)",
}


def score_label(name: str) -> str:
    """Axis label of score ``name`` (its own name for a score a method outside arpl defines)."""
    return SCORE_LABELS.get(name, name)


def score_names() -> list[str]:
    """All score names understood by :func:`score`."""
    return list(_SCORES)


def _as_logits(logits: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(logits, np.ndarray):
        logits = torch.from_numpy(logits)
    if not isinstance(logits, torch.Tensor):
        raise ValueError(f"logits must be a torch.Tensor or numpy array, got {type(logits).__name__}")
    if logits.dim() != 2 or logits.shape[1] == 0:
        raise ValueError(f"logits must have shape [batch, num_classes>0], got {tuple(logits.shape)}")
    if not logits.is_floating_point():
        logits = logits.float()
    return logits


def score(name: str, logits: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Open-set score ``name`` of each row of ``logits`` [B, K] -> [B]; higher = more known.

    Names: ``msp``, ``max_logit``, ``energy``, ``max_distance`` (Eq. 20). A numpy array is
    accepted and converted; the result is a tensor on the logits' device.
    """
    if name not in _SCORES:
        raise unknown_name_error("score", name, list(_SCORES))
    return _SCORES[name](_as_logits(logits))
