"""Summary statistics for repeated trials and resampling intervals for single-run metrics.

The paper reports every open-set result as mean ± standard deviation over five randomized trials
(Sec. 5.1, Tables 1-2). :func:`mean_std` produces those numbers; :func:`bootstrap_interval` gives
a confidence interval for a metric from one run's scores.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike


def mean_std(values: ArrayLike) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of per-trial results (paper Sec. 5.1, "± std").

    The standard deviation of a single value is reported as 0.0 (ddof=1 is undefined for n = 1).
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence of per-trial results, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("values contains NaN or infinite entries; drop failed trials before summarising.")
    if array.size == 1:
        return float(array[0]), 0.0
    return float(np.mean(array)), float(np.std(array, ddof=1))


def _resampling_inputs(name: str, values: ArrayLike) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim < 1 or len(array) == 0:
        raise ValueError(f"{name} must be a non-empty array with one entry per sample, got shape {array.shape}.")
    return array


def bootstrap_interval(metric: Callable[..., float], known_scores: ArrayLike, unknown_scores: ArrayLike,
                       *extra_known_arrays: ArrayLike, n_resamples: int = 1000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` for an open-set metric of one run.

    Known and unknown samples are resampled independently with replacement (stratified bootstrap,
    so every resample keeps the original numbers of known and unknown samples). Each array in
    ``extra_known_arrays`` (e.g. ``known_correct`` for OSCR, Eq. 21-22) is resampled with the same
    indices as ``known_scores``. ``metric`` is called as
    ``metric(known_resampled, unknown_resampled, *extra_resampled)``; the interval is the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled values. Deterministic
    for a given ``seed``.
    """
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 2:
        raise ValueError(f"n_resamples must be an integer >= 2, got {n_resamples!r}.")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95), got {level}.")
    known = _resampling_inputs("known_scores", known_scores)
    unknown = _resampling_inputs("unknown_scores", unknown_scores)
    extras = [_resampling_inputs(f"extra_known_arrays[{i}]", extra) for i, extra in enumerate(extra_known_arrays)]
    for i, extra in enumerate(extras):
        if len(extra) != len(known):
            raise ValueError(f"extra_known_arrays[{i}] has {len(extra)} entries but known_scores has "
                             f"{len(known)}; extra arrays must be aligned with the known samples.")
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples, dtype=np.float64)
    for r in range(n_resamples):
        known_idx = rng.integers(0, len(known), size=len(known))
        unknown_idx = rng.integers(0, len(unknown), size=len(unknown))
        values[r] = metric(known[known_idx], unknown[unknown_idx], *(extra[known_idx] for extra in extras))
    if not np.all(np.isfinite(values)):
        raise ValueError("metric returned NaN or infinite values on some resamples; "
                         "check that it is defined for every resample.")
    low, high = np.quantile(values, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(low), float(high)
