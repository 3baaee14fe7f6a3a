"""What a method is: the :class:`Method` interface every loss implements, the Algorithm-2 training variant
:class:`ConfusingVariant`, and the argument and input checks the methods share."""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from arpl.scores import score as generic_score


class Method(nn.Module, metaclass=abc.ABCMeta):
    """One open-set method: a classification head holding the method's parameters (softmax weights,
    prototypes, reciprocal points, ...) and its training loss; the backbone only produces features [B, m].

    A subclass registered with :func:`arpl.methods.register_method` is all the pipeline needs to train,
    evaluate, draw and report the method. It sets the class attributes

    - ``name``: the registered name (params.yaml, run folders), letters, digits and ``_+.-``;
    - ``display_name``: the name in tables and figures (default: ``name``);
    - ``colour``: its colour in every figure, any matplotlib colour (None: the next free one);
    - ``reference``: the paper (or code) it implements;
    - ``own_score``: the name of its own open-set score, higher = more likely known: a score of
      :mod:`arpl.scores`, or one the class computes in :meth:`score`;
    - ``scores``: the scores of :mod:`arpl.scores` that also apply to it (``osr.scores`` picks among them);

    and implements ``logits(features) -> [B, K]`` (argmax = predicted class) and
    ``forward(features, labels) -> (logits, loss)`` (``loss`` a scalar tensor). Optional:
    ``bases() -> [K, m]`` (its class vectors, drawn in the 2-D feature-space figures) and, for Algorithm 2,
    ``entropy_term(features, form)``. ``__init__(feat_dim, num_classes, **options)`` receives the settings of
    :class:`arpl.training.specs.ModelSpec` that it names among its keyword arguments (``temperature``, ``weight_pl``,
    ``margin_form``, ``distance``).
    """

    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    colour: ClassVar[str | None] = None
    reference: ClassVar[str] = ""
    own_score: ClassVar[str] = "msp"
    scores: ClassVar[tuple[str, ...]] = ("msp", "max_logit", "energy")
    bases_label: ClassVar[str] = "class vectors"  # what bases() are, for figure legends

    @abc.abstractmethod
    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """The method's logit rule -> [B, K]."""

    @abc.abstractmethod
    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, loss)`` of a training batch."""

    @classmethod
    def score(cls, name: str, logits: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Open-set score ``name`` of each row of ``logits`` [B, K] -> [B]; ``own`` is :attr:`own_score`.

        Scores of :mod:`arpl.scores` by default; a method with a score of its own overrides this for its name.
        """
        return generic_score(cls.own_score if name == "own" else name, logits)


@dataclass(frozen=True)
class ConfusingVariant:
    """A method trained by Algorithm 2 (Sec. 4): with a GAN's confusing samples and the entropy term of
    Eq. 17-19, which the method provides as ``entropy_term``. Registered with
    :func:`arpl.methods.register_variant`; named in ``confusing.variants``."""

    name: str                 # the name in confusing.variants and the run folder
    display_name: str         # the name in tables and figures
    method: str               # the registered method whose loss it trains
    abn: bool                 # auxiliary batch norm for generated samples (Sec. 4.2)
    focus_training: bool      # a plain pass after each confusing pass (step 6 of Algorithm 2)
    reference: str
    ablation: bool = False    # an ablation of ARPL+CS (Tables 3-4, Fig. 10): first confusing.ablation_trials splits
    colour: str | None = None


# ----------------------------------------------------------------------------- argument and input checks


def check_positive_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 1, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_nonnegative_float(name: str, value: object) -> float:
    """``value`` as a float if it is a finite number >= 0, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_temperature(value: object) -> float:
    """The temperature that divides the logits (``gamma = 1/temperature``, Eq. 7): a finite number > 0."""
    temperature = check_nonnegative_float("temperature", value)
    if temperature == 0:
        raise ValueError("temperature must be > 0 (it divides the logits; gamma = 1/temperature), got 0")
    return temperature


def check_features(features: torch.Tensor, feat_dim: int) -> torch.Tensor:
    """``features`` if it is a [batch, feat_dim] tensor."""
    if not isinstance(features, torch.Tensor) or features.dim() != 2 or features.shape[1] != feat_dim:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise ValueError(f"features must be a tensor of shape [batch, {feat_dim}], got {shape}")
    return features


def check_labels(labels: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``labels`` as int64 if it is a 1-D tensor of ``batch_size`` integer class indices."""
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.shape[0] != batch_size:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be a 1-D tensor of {batch_size} class indices, got {shape}")
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex():
        raise ValueError(f"labels must hold integer class indices, got dtype {labels.dtype}")
    return labels.long()


def new_points(num_classes: int, feat_dim: int) -> nn.Parameter:
    """Class vectors initialised as in the authors' ``Dist``: ``0.1 * randn(K, m)``."""
    return nn.Parameter(0.1 * torch.randn(num_classes, feat_dim))
