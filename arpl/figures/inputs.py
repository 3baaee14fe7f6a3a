"""Argument checks shared by the figure modules: each turns an argument (numpy array, torch tensor, list)
into a numpy array of the expected shape, or raises a ``ValueError`` that names the argument and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def to_numpy(value: Any) -> np.ndarray:
    """Return ``value`` as a numpy array; torch tensors are detached and copied to the CPU."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def non_empty(name: str, mapping: Mapping[str, Any]) -> None:
    """Raise unless ``mapping`` is a dict with at least one entry (one per method, dataset, ...)."""
    if not isinstance(mapping, Mapping) or len(mapping) == 0:
        raise ValueError(f"{name} must be a non-empty dict (name -> data), got {mapping!r:.80}.")


def float_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array (any shape); ragged or non-numeric input is refused."""
    try:
        return to_numpy(value).astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric and rectangular (equal-length rows): {error}") from error


def finite_vector(name: str, value: Any) -> np.ndarray:
    """``value`` as a non-empty 1-D float64 array without NaN or infinities."""
    array = float_array(name, value)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values; drop them before plotting.")
    return array


def fractions(name: str, value: Any) -> np.ndarray:
    """A :func:`finite_vector` of fractions in [0, 1] (metric values, which the figures draw in percent)."""
    array = finite_vector(name, value)
    if array.min() < 0.0 or array.max() > 1.0:
        raise ValueError(f"{name} must hold fractions in [0, 1] (got range {array.min():g}..{array.max():g}); "
                         "pass metric values as fractions, they are drawn in percent.")
    return array


def rate_curve(name: str, pair: Any) -> tuple[np.ndarray, np.ndarray]:
    """A pair ``(x, y)`` of equally long fraction vectors from one threshold sweep: (FPR, TPR) or (FPR, CCR)."""
    if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
        raise ValueError(f"{name} must be a pair (x, y) of 1-D arrays, e.g. (fpr, tpr).")
    x = fractions(f"{name}[0]", pair[0])
    y = fractions(f"{name}[1]", pair[1])
    if len(x) != len(y):
        raise ValueError(f"{name} has {len(x)} x values but {len(y)} y values; both arrays come from "
                         "the same threshold sweep and must have the same length.")
    return x, y


def images_hwc(name: str, value: Any, ndim: int = 4) -> np.ndarray:
    """Return uint8 images as ``[N, H, W, 3]`` (ndim=4) or ``[H, W, 3]`` (ndim=3) for imshow."""
    array = to_numpy(value)
    layout = "[N, C, H, W]" if ndim == 4 else "[C, H, W]"
    if array.ndim != ndim:
        raise ValueError(f"{name} must have layout {layout}, got shape {array.shape}.")
    if array.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 in 0..255, got dtype {array.dtype}; convert float images "
                         "in [0, 1] with (x * 255).round().astype(np.uint8).")
    channels = array.shape[-3]
    if channels not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels (C in {layout}), got {channels}.")
    if channels == 1:
        array = np.repeat(array, 3, axis=-3)
    return np.moveaxis(array, -3, -1)


def sorted_pairs(name: str, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Split a list of (x, y) tuples into two float arrays sorted by x."""
    array = float_array(name, values)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ValueError(f"{name} must be a non-empty list of (x, y) pairs, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    order = np.argsort(array[:, 0], kind="stable")
    return array[order, 0], array[order, 1]

