"""Tests for arpl.stats: mean ± std over trials and the stratified bootstrap interval."""

import time

import numpy as np
import pytest

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


def test_mean_std_single_value_has_zero_std():
    assert stats.mean_std([0.9]) == (0.9, 0.0)


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
