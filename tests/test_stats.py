"""Tests for arpl.stats: mean ± std over trials and the stratified bootstrap interval."""

import math
import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from arpl import metrics, stats


def scores(seed, n_known, n_unknown):
    rng = np.random.default_rng(seed)
    return rng.normal(1.0, 1.0, n_known), rng.normal(0.0, 1.0, n_unknown)


# ---------------------------------------------------------------- mean_std

@pytest.mark.parametrize("values", [[97.8, 98.1, 97.5, 98.0, 97.9], [0.5, 0.25], list(range(10))])
def test_mean_std_matches_numpy_sample_std(values):
    mean, std = stats.mean_std(values)
    assert mean == pytest.approx(np.mean(values))
    assert std == pytest.approx(np.std(values, ddof=1))
    assert std != pytest.approx(np.std(values, ddof=0))  # sample, not population, std
    assert isinstance(mean, float) and isinstance(std, float)


def test_mean_std_single_value_has_no_std():
    mean, std = stats.mean_std([0.9])
    assert mean == 0.9 and math.isnan(std), "one split has no spread: undefined, not 0"


def test_mean_std_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        stats.mean_std([])
    with pytest.raises(ValueError, match="NaN"):
        stats.mean_std([0.5, float("nan")])
    with pytest.raises(ValueError, match="1-D"):
        stats.mean_std(np.ones((2, 2)))


# ---------------------------------------------------------------- bootstrap_interval

def test_bootstrap_contains_point_estimate_on_large_sample():
    known, unknown = scores(0, 3000, 3000)
    point = metrics.auroc(known, unknown)
    low, high = stats.bootstrap_interval(metrics.auroc, known, unknown, n_resamples=300, seed=1)
    assert low < point < high
    assert high - low < 0.05


def test_bootstrap_narrows_with_more_data():
    small = stats.bootstrap_interval(metrics.auroc, *scores(0, 100, 100), n_resamples=300)
    large = stats.bootstrap_interval(metrics.auroc, *scores(0, 4000, 4000), n_resamples=300)
    assert (large[1] - large[0]) < 0.5 * (small[1] - small[0])


def test_bootstrap_is_deterministic_given_seed():
    known, unknown = scores(3, 200, 150)
    first = stats.bootstrap_interval(metrics.auroc, known, unknown, n_resamples=200, seed=5)
    again = stats.bootstrap_interval(metrics.auroc, known, unknown, n_resamples=200, seed=5)
    other = stats.bootstrap_interval(metrics.auroc, known, unknown, n_resamples=200, seed=6)
    assert first == again
    assert first != other


def test_bootstrap_higher_level_gives_wider_interval():
    known, unknown = scores(4, 300, 300)
    narrow = stats.bootstrap_interval(metrics.auroc, known, unknown, n_resamples=400, level=0.5)
    wide = stats.bootstrap_interval(metrics.auroc, known, unknown, n_resamples=400, level=0.99)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_bootstrap_is_stratified_and_resamples_extras_with_known_indices():
    known = np.arange(50, dtype=float)
    unknown = -np.arange(1, 31, dtype=float)
    correct = known % 2 == 0  # correctness is a function of the known score
    unknown_means = []

    def check(k, u, c):
        assert len(k) == 50 and len(u) == 30  # group sizes kept
        assert np.all(u < 0) and np.all(k >= 0)  # never mixes known and unknown samples
        np.testing.assert_array_equal(c, k % 2 == 0)  # extra array follows the same indices
        unknown_means.append(float(np.mean(u)))
        return float(np.mean(k))

    low, high = stats.bootstrap_interval(check, known, unknown, correct, n_resamples=50)
    assert low < np.mean(known) < high
    assert len(set(unknown_means)) > 10  # unknown samples are resampled too


def test_bootstrap_oscr_with_known_correct():
    rng = np.random.default_rng(0)
    known, unknown = scores(0, 2000, 2000)
    correct = rng.random(2000) < 0.8
    point = metrics.oscr(known, correct, unknown)
    low, high = stats.bootstrap_interval(lambda k, u, c: metrics.oscr(k, c, u),
                                         known, unknown, correct, n_resamples=200)
    assert low < point < high


def test_bootstrap_auroc_is_fast_enough():
    known, unknown = scores(0, 5000, 5000)
    start = time.perf_counter()
    stats.bootstrap_interval(metrics.auroc, known, unknown, n_resamples=1000)
    assert time.perf_counter() - start < 10.0  # about 1-2 s on 2 CPU cores


def test_bootstrap_rejects_bad_input():
    known, unknown = scores(0, 20, 20)
    with pytest.raises(ValueError, match="extra_known_arrays\\[0\\] has 3 entries"):
        stats.bootstrap_interval(metrics.auroc, known, unknown, np.ones(3))
    with pytest.raises(ValueError, match="level"):
        stats.bootstrap_interval(metrics.auroc, known, unknown, level=1.5)
    with pytest.raises(ValueError, match="n_resamples"):
        stats.bootstrap_interval(metrics.auroc, known, unknown, n_resamples=0)
    with pytest.raises(ValueError, match="known_scores"):
        stats.bootstrap_interval(metrics.auroc, np.array([]), unknown)
    with pytest.raises(ValueError, match="NaN"):
        stats.bootstrap_interval(lambda k, u: float("nan"), known, unknown, n_resamples=10)


# ---------------------------------------------------------------- bootstrap_auroc_interval, bootstrap_oscr_interval

def loop_auroc_interval(known, unknown, **settings):
    return stats.bootstrap_interval(metrics.auroc, known, unknown, **settings)


def loop_oscr_interval(known, correct, unknown, **settings):
    return stats.bootstrap_interval(lambda k, u, c: metrics.oscr(k, c, u), known, unknown, correct, **settings)


def bootstrap_cases():
    """``(known, correct, unknown)`` of every case the fast intervals must match the loop on."""
    rng = np.random.default_rng(7)
    known, unknown = scores(1, 300, 200)
    yield "continuous", known, rng.random(300) < 0.7, unknown
    yield "ties", rng.integers(0, 6, 150).astype(float), rng.random(150) < 0.6, rng.integers(0, 4, 90).astype(float)
    yield "all equal", np.full(40, 0.5), rng.random(40) < 0.5, np.full(25, 0.5)
    yield "1 known, 1 unknown, correct", np.array([0.3]), np.array([True]), np.array([0.1])
    yield "1 known, 1 unknown, wrong", np.array([0.3]), np.array([False]), np.array([0.3])
    yield "all wrong", known, np.zeros(300, bool), unknown


@pytest.mark.parametrize("case", list(bootstrap_cases()), ids=lambda case: case[0])
@pytest.mark.parametrize("level", [0.95, 0.5])
def test_fast_bootstrap_equals_the_metric_loop(case, level):
    _, known, correct, unknown = case
    settings = dict(n_resamples=200, level=level, seed=3)
    fast = stats.bootstrap_auroc_interval(known, unknown, **settings)
    np.testing.assert_allclose(fast, loop_auroc_interval(known, unknown, **settings), rtol=0, atol=1e-12)
    fast = stats.bootstrap_oscr_interval(known, correct, unknown, **settings)
    np.testing.assert_allclose(fast, loop_oscr_interval(known, correct, unknown, **settings), rtol=0, atol=1e-12)


def test_fast_bootstrap_equals_the_metric_loop_at_real_size():
    """The osr stage's size: about 6,000 known and 4,000 unknown float32 scores (few resamples to stay fast)."""
    rng = np.random.default_rng(11)
    known = rng.normal(1.0, 1.0, 6000).astype(np.float32)
    unknown = rng.normal(0.0, 1.0, 4000).astype(np.float32)
    correct = rng.random(6000) < 0.85
    settings = dict(n_resamples=20, seed=0)
    np.testing.assert_allclose(stats.bootstrap_auroc_interval(known, unknown, **settings),
                               loop_auroc_interval(known, unknown, **settings), rtol=0, atol=1e-12)
    np.testing.assert_allclose(stats.bootstrap_oscr_interval(known, correct, unknown, **settings),
                               loop_oscr_interval(known, correct, unknown, **settings), rtol=0, atol=1e-12)


@pytest.mark.parametrize("integer_weights", [True, False])
def test_weighted_mann_whitney_is_sklearn_weighted_auroc(integer_weights):
    rng = np.random.default_rng(2)
    known, unknown = rng.integers(0, 8, 120).astype(float), rng.integers(0, 5, 80).astype(float)  # many ties
    if integer_weights:  # a resample's draw counts, zeros included
        known_weights = np.bincount(rng.integers(0, 120, 120), minlength=120)
        unknown_weights = np.bincount(rng.integers(0, 80, 80), minlength=80)
    else:
        known_weights, unknown_weights = rng.random(120) + 0.01, rng.random(80) + 0.01
    known_ranks, unknown_ranks, n_values = stats._distinct_ranks(known, unknown)
    known_mass = np.bincount(known_ranks, weights=known_weights, minlength=n_values)
    unknown_mass = np.bincount(unknown_ranks, weights=unknown_weights, minlength=n_values)
    weighted_auroc = stats._mann_whitney(known_mass, unknown_mass) / (known_weights.sum() * unknown_weights.sum())
    labels = np.concatenate([np.ones(120), np.zeros(80)])
    expected = roc_auc_score(labels, np.concatenate([known, unknown]),
                             sample_weight=np.concatenate([known_weights, unknown_weights]))
    assert weighted_auroc == pytest.approx(expected, abs=1e-12)


def test_fast_bootstrap_rejects_bad_input():
    known, unknown = scores(0, 20, 20)
    correct = np.ones(20, bool)
    with pytest.raises(ValueError, match="known_correct"):
        stats.bootstrap_oscr_interval(known, correct[:3], unknown)
    with pytest.raises(ValueError, match="known_correct"):
        stats.bootstrap_oscr_interval(known, np.full(20, 2), unknown)
    with pytest.raises(ValueError, match="unknown_scores"):
        stats.bootstrap_auroc_interval(known, np.append(unknown, np.nan))
    with pytest.raises(ValueError, match="known_scores"):
        stats.bootstrap_oscr_interval(np.array([]), [], unknown)
    with pytest.raises(ValueError, match="level"):
        stats.bootstrap_auroc_interval(known, unknown, level=1.0)
    with pytest.raises(ValueError, match="n_resamples"):
        stats.bootstrap_oscr_interval(known, correct, unknown, n_resamples=1)
