"""Tests for arpl.metrics against scikit-learn, brute-force definitions and hand-computed cases."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from arpl import metrics

SEEDS = [0, 1, 2, 3, 4]
trapezoid = getattr(np, "trapezoid", None) or getattr(np, "trapz")


def continuous_scores(seed, n_known=300, n_unknown=200):
    """Overlapping Gaussian scores: no ties (with probability one)."""
    rng = np.random.default_rng(seed)
    return rng.normal(1.0, 1.0, n_known), rng.normal(0.0, 1.0, n_unknown)


def tied_scores(seed, n_known=120, n_unknown=80):
    """Integer scores 0..4: almost every score is tied with many others."""
    rng = np.random.default_rng(seed)
    known = rng.integers(1, 5, n_known).astype(float)
    unknown = rng.integers(0, 4, n_unknown).astype(float)
    return known, unknown


ALL_DATA = ([("continuous", s) for s in SEEDS] + [("tied", s) for s in SEEDS])


def make_data(kind, seed):
    return continuous_scores(seed) if kind == "continuous" else tied_scores(seed)


def sklearn_labels(known, unknown):
    labels = np.concatenate([np.ones(len(known)), np.zeros(len(unknown))])
    return labels, np.concatenate([known, unknown])


# ---------------------------------------------------------------- brute-force definitions

def brute_auroc(known, unknown):
    """O(n*m) pairwise Mann-Whitney: P(known > unknown) + 0.5 * P(tie)."""
    diff = known[:, None] - unknown[None, :]
    return np.mean(diff > 0) + 0.5 * np.mean(diff == 0)


def all_thresholds(known, unknown):
    return list(np.unique(np.concatenate([known, unknown]))) + [np.inf]


def brute_tnr95(known, unknown):
    best = -np.inf
    for t in all_thresholds(known, unknown):
        if np.mean(known >= t) >= 0.95:
            best = max(best, t)
    return np.mean(unknown < best)


def brute_dtacc(known, unknown):
    return max(0.5 * (np.mean(known >= t) + np.mean(unknown < t)) for t in all_thresholds(known, unknown))


def brute_oscr_pairwise(known, correct, unknown):
    """Area under Eq. 21-22 = P(known correct and scores above unknown), ties 1/2."""
    diff = known[:, None] - unknown[None, :]
    wins = (diff > 0) + 0.5 * (diff == 0)
    return np.sum(wins[correct]) / (len(known) * len(unknown))


def brute_oscr_sweep(known, correct, unknown):
    points = [(0.0, 0.0)]
    for t in sorted(set(known) | set(unknown), reverse=True):
        points.append((np.mean(unknown >= t), np.mean(correct & (known >= t))))
    area = 0.0
    for (f0, c0), (f1, c1) in zip(points[:-1], points[1:]):
        area += (f1 - f0) * (c0 + c1) / 2
    return area


# ---------------------------------------------------------------- authors' code, copied verbatim

def authors_compute_oscr(pred_k, pred_u, labels):
    x1, x2 = np.max(pred_k, axis=1), np.max(pred_u, axis=1)
    pred = np.argmax(pred_k, axis=1)
    m_x1 = np.zeros(len(x1))
    m_x1[pred == labels] = 1
    k_target = np.concatenate((m_x1, np.zeros(len(x2))), axis=0)
    u_target = np.concatenate((np.zeros(len(x1)), np.ones(len(x2))), axis=0)
    predict = np.concatenate((x1, x2), axis=0)
    n = len(predict)
    CCR = [0 for x in range(n + 2)]
    FPR = [0 for x in range(n + 2)]
    idx = predict.argsort()
    s_k_target = k_target[idx]
    s_u_target = u_target[idx]
    for k in range(n - 1):
        CC = s_k_target[k + 1:].sum()
        FP = s_u_target[k:].sum()
        CCR[k] = float(CC) / float(len(x1))
        FPR[k] = float(FP) / float(len(x2))
    CCR[n] = 0.0
    FPR[n] = 0.0
    CCR[n + 1] = 1.0
    FPR[n + 1] = 1.0
    ROC = sorted(zip(FPR, CCR), reverse=True)
    OSCR = 0
    for j in range(n + 1):
        h = ROC[j][0] - ROC[j + 1][0]
        w = (ROC[j][1] + ROC[j + 1][1]) / 2.0
        OSCR = OSCR + h * w
    return OSCR


def authors_get_curve_online(known, novel):
    known.sort()
    novel.sort()
    num_k = known.shape[0]
    num_n = novel.shape[0]
    tp = -np.ones([num_k + num_n + 1], dtype=int)
    fp = -np.ones([num_k + num_n + 1], dtype=int)
    tp[0], fp[0] = num_k, num_n
    k, n = 0, 0
    for l in range(num_k + num_n):
        if k == num_k:
            tp[l + 1:] = tp[l]
            fp[l + 1:] = np.arange(fp[l] - 1, -1, -1)
            break
        elif n == num_n:
            tp[l + 1:] = np.arange(tp[l] - 1, -1, -1)
            fp[l + 1:] = fp[l]
            break
        else:
            if novel[n] < known[k]:
                n += 1
                tp[l + 1] = tp[l]
                fp[l + 1] = fp[l] - 1
            else:
                k += 1
                tp[l + 1] = tp[l] - 1
                fp[l + 1] = fp[l]
    tpr95_pos = np.abs(tp / num_k - .95).argmin()
    tnr_at_tpr95 = 1. - fp[tpr95_pos] / num_n
    return tp, fp, tnr_at_tpr95


def authors_metric_ood(x1, x2):
    """metric_ood with np.trapz -> trapezoid (same formula) and results as fractions."""
    tp, fp, tnr_at_tpr95 = authors_get_curve_online(x1.copy(), x2.copy())
    results = {"TNR": tnr_at_tpr95}
    tpr = np.concatenate([[1.], tp / tp[0], [0.]])
    fpr = np.concatenate([[1.], fp / fp[0], [0.]])
    results["AUROC"] = -trapezoid(1. - fpr, tpr)
    results["DTACC"] = .5 * (tp / tp[0] + 1. - fp / fp[0]).max()
    denom = tp + fp
    denom[denom == 0.] = -1.
    pin_ind = np.concatenate([[True], denom > 0., [True]])
    pin = np.concatenate([[.5], tp / denom, [0.]])
    results["AUIN"] = -trapezoid(pin[pin_ind], tpr[pin_ind])
    denom = tp[0] - tp + fp[0] - fp
    denom[denom == 0.] = -1.
    pout_ind = np.concatenate([[True], denom > 0., [True]])
    pout = np.concatenate([[0.], (fp[0] - fp) / denom, [.5]])
    results["AUOUT"] = trapezoid(pout[pout_ind], 1. - fpr[pout_ind])
    return results


def class_outputs(seed, n_known=150, n_unknown=100, num_classes=4, tied=False):
    """Random [N, K] class scores for known and unknown samples plus known labels."""
    rng = np.random.default_rng(seed)
    if tied:
        pred_k = rng.integers(0, 5, (n_known, num_classes)).astype(float)
        pred_u = rng.integers(0, 4, (n_unknown, num_classes)).astype(float)
    else:
        pred_k = rng.normal(0.0, 1.0, (n_known, num_classes))
        pred_u = rng.normal(0.0, 1.0, (n_unknown, num_classes)) - 0.5
    labels = rng.integers(0, num_classes, n_known)
    pred_k[np.arange(n_known)[: n_known // 2], labels[: n_known // 2]] += 2.0  # half clearly correct
    return pred_k, pred_u, labels


# ---------------------------------------------------------------- AUROC and ROC curve

@pytest.mark.parametrize("kind,seed", ALL_DATA)
def test_auroc_matches_sklearn_and_pairwise_definition(kind, seed):
    known, unknown = make_data(kind, seed)
    labels, scores = sklearn_labels(known, unknown)
    value = metrics.auroc(known, unknown)
    assert isinstance(value, float)
    assert value == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert value == pytest.approx(brute_auroc(known, unknown), abs=1e-12)


def test_auroc_extremes_and_ties():
    assert metrics.auroc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert metrics.auroc([0.0, 1.0], [2.0, 3.0]) == 0.0
    assert metrics.auroc([1.0, 1.0], [1.0]) == 0.5  # all ties count 1/2


@pytest.mark.parametrize("kind,seed", ALL_DATA)
def test_roc_curve_matches_sklearn(kind, seed):
    known, unknown = make_data(kind, seed)
    labels, scores = sklearn_labels(known, unknown)
    fpr, tpr = metrics.roc_curve(known, unknown)
    sk_fpr, sk_tpr, _ = sk_roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, atol=1e-12)
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert trapezoid(tpr, fpr) == pytest.approx(metrics.auroc(known, unknown), abs=1e-12)


# ---------------------------------------------------------------- TNR@TPR95 and DTACC

@pytest.mark.parametrize("kind,seed", ALL_DATA)
def test_tnr_at_tpr95_matches_threshold_sweep(kind, seed):
    known, unknown = make_data(kind, seed)
    assert metrics.tnr_at_tpr95(known, unknown) == pytest.approx(brute_tnr95(known, unknown), abs=1e-12)


def test_tnr_at_tpr95_hand_case():
    # 20 known scores 1..20: the largest t with fraction(known >= t) >= 0.95 is t = 2 (19/20 = 0.95).
    # Unknown scores 0, 1.5, 2, 3: fraction(unknown < 2) = 2/4.
    known = np.arange(1, 21, dtype=float)
    assert metrics.tnr_at_tpr95(known, [0.0, 1.5, 2.0, 3.0]) == 0.5
    # With 19 known scores 1..19, 18/19 < 0.95, so t = 1 and only the 0 is rejected: 1/4.
    assert metrics.tnr_at_tpr95(known[:19], [0.0, 1.5, 2.0, 3.0]) == 0.25


@pytest.mark.parametrize("kind,seed", ALL_DATA)
def test_detection_accuracy_matches_threshold_sweep(kind, seed):
    known, unknown = make_data(kind, seed)
    assert metrics.detection_accuracy(known, unknown) == pytest.approx(brute_dtacc(known, unknown), abs=1e-12)


def test_detection_accuracy_bounds():
    assert metrics.detection_accuracy([5.0, 6.0], [1.0, 2.0]) == 1.0
    assert metrics.detection_accuracy([1.0, 2.0], [5.0, 6.0]) == 0.5  # reject everything


# ---------------------------------------------------------------- AUIN / AUOUT

@pytest.mark.parametrize("kind,seed", ALL_DATA)
def test_auin_auout_match_sklearn_average_precision(kind, seed):
    known, unknown = make_data(kind, seed)
    labels, scores = sklearn_labels(known, unknown)
    assert metrics.auin(known, unknown) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert metrics.auout(known, unknown) == pytest.approx(average_precision_score(1 - labels, -scores), abs=1e-12)


def test_auin_hand_case():
    # Ranking (desc): known 3, unknown 2, known 1 -> AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    assert metrics.auin([3.0, 1.0], [2.0]) == pytest.approx(5 / 6)
    # AUOUT ranks negated scores: known -1, unknown -2, known -3 -> AP = 1 * 1/2 = 1/2.
    assert metrics.auout([3.0, 1.0], [2.0]) == pytest.approx(1 / 2)


def test_ood_metrics_dict_uses_our_definitions():
    known, unknown = tied_scores(7)
    result = metrics.ood_metrics(known, unknown)
    assert set(result) == {"TNR", "AUROC", "DTACC", "AUIN", "AUOUT"}
    assert result["AUROC"] == metrics.auroc(known, unknown)
    assert result["TNR"] == metrics.tnr_at_tpr95(known, unknown)
    assert result["DTACC"] == metrics.detection_accuracy(known, unknown)
    assert result["AUIN"] == metrics.auin(known, unknown)
    assert result["AUOUT"] == metrics.auout(known, unknown)
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in result.values())


# ---------------------------------------------------------------- accuracy

def test_accuracy():
    assert metrics.accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
    assert isinstance(metrics.accuracy([1], [1]), float)


# ---------------------------------------------------------------- OSCR (Eq. 21-22)

def correct_flags(seed, n, rate=0.7):
    return np.random.default_rng(seed + 100).random(n) < rate


@pytest.mark.parametrize("kind,seed", ALL_DATA)
def test_oscr_matches_sweep_and_pairwise_definitions(kind, seed):
    known, unknown = make_data(kind, seed)
    correct = correct_flags(seed, len(known))
    value = metrics.oscr(known, correct, unknown)
    assert value == pytest.approx(brute_oscr_sweep(known, correct, unknown), abs=1e-12)
    assert value == pytest.approx(brute_oscr_pairwise(known, correct, unknown), abs=1e-12)


@pytest.mark.parametrize("kind,seed", ALL_DATA)
def test_oscr_curve_ends_at_closed_set_accuracy(kind, seed):
    known, unknown = make_data(kind, seed)
    correct = correct_flags(seed, len(known))
    fpr, ccr = metrics.oscr_curve(known, correct, unknown)
    assert (fpr[0], ccr[0]) == (0.0, 0.0)
    assert fpr[-1] == 1.0
    assert ccr[-1] == pytest.approx(correct.mean(), abs=1e-15)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(ccr) >= 0)
    assert metrics.oscr(known, correct, unknown) <= correct.mean() + 1e-12


def test_oscr_with_all_correct_equals_auroc():
    known, unknown = tied_scores(3)
    assert metrics.oscr(known, np.ones(len(known), bool), unknown) == pytest.approx(metrics.auroc(known, unknown))


def test_oscr_perfect_separation_and_classification_is_one():
    assert metrics.oscr([0.6, 0.7, 0.8, 0.9], [1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0


def test_oscr_hand_computed_case():
    # known scores 0.9 (correct), 0.8 (wrong), 0.4 (correct); unknown scores 0.7, 0.3.
    # thresholds 0.9, 0.8, 0.7, 0.4, 0.3 give (FPR, CCR) = (0,1/3), (0,1/3), (1/2,1/3), (1/2,2/3), (1,2/3)
    # after the start point (0, 0). Area = 1/2 * 1/3 + 1/2 * 2/3 = 1/6 + 1/3 = 1/2.
    known, correct, unknown = [0.9, 0.8, 0.4], [True, False, True], [0.7, 0.3]
    fpr, ccr = metrics.oscr_curve(known, correct, unknown)
    np.testing.assert_allclose(fpr, [0, 0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(ccr, [0, 1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert metrics.oscr(known, correct, unknown) == pytest.approx(0.5, abs=1e-15)


def test_oscr_tied_known_and_unknown_move_together():
    # One correct known and one unknown, both at score 1: the curve goes (0,0) -> (1,1) in one
    # diagonal step, area 1/2 (a tie counts 1/2, as in AUROC).
    fpr, ccr = metrics.oscr_curve([1.0], [True], [1.0])
    np.testing.assert_allclose(fpr, [0, 1])
    np.testing.assert_allclose(ccr, [0, 1])
    assert metrics.oscr([1.0], [True], [1.0]) == 0.5


# ---------------------------------------------------------------- OSCR, authors' variant

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("tied", [False, True])
def test_oscr_authors_is_identical_to_their_code(seed, tied):
    pred_k, pred_u, labels = class_outputs(seed, tied=tied)
    assert metrics.oscr_authors(pred_k, pred_u, labels) == authors_compute_oscr(pred_k, pred_u, labels)


def test_oscr_authors_hand_case_and_difference_from_definition():
    # Same samples as test_oscr_hand_computed_case (class 0 score = open-set score).
    pred_k = np.array([[0.9, 0.1], [0.1, 0.8], [0.4, 0.3]])  # row 1: argmax 1 != label 0 -> wrong
    labels = np.array([0, 0, 0])
    pred_u = np.array([[0.7, 0.0], [0.3, 0.0]])
    # Their sorted order: 0.3(u) 0.4(k ok) 0.7(u) 0.8(k wrong) 0.9(k ok).
    # k=0: CCR = correct after pos 0 = 2/3, FPR = unknown from pos 0 = 1
    # k=1: CCR = 1/3 (the 0.4 itself excluded), FPR = 1/2;  k=2: 1/3, 1/2;  k=3: 1/3, 0
    # plus (0,0), (0,0), (1,1). Sorted: (1,1) (1,2/3) (.5,1/3) (.5,1/3) (0,1/3) (0,0) (0,0)
    # Area = 0.5 * (2/3 + 1/3) / 2 + 0.5 * 1/3 = 1/4 + 1/6 = 5/12, against 1/2 by Eq. 21-22.
    assert metrics.oscr_authors(pred_k, pred_u, labels) == pytest.approx(5 / 12, abs=1e-15)
    ours = metrics.oscr([0.9, 0.8, 0.4], [True, False, True], [0.7, 0.3])
    assert ours == pytest.approx(0.5) and ours - metrics.oscr_authors(pred_k, pred_u, labels) > 0.08


def test_oscr_authors_tiny_perfect_case_is_half():
    # One correct known (0.9) and one unknown (0.1): sorted (u, k); k=0 gives (FPR, CCR) = (1, 1)
    # and the padding adds (0,0), (0,0), (1,1). Sorted: (1,1) (1,1) (0,0) (0,0) -> area 1 * 1/2.
    # Eq. 21-22 gives a perfect 1.0.
    assert metrics.oscr_authors([[0.9, 0.0]], [[0.1, 0.0]], [0]) == 0.5
    assert metrics.oscr([0.9], [True], [0.1]) == 1.0


def test_oscr_authors_forced_corner_adds_no_area():
    # Every known is misclassified: CCR is 0 everywhere. The forced (1, 1) only adds a vertical
    # segment at FPR = 1 (FPR at sorted position 0 is always 1), so both variants give 0.
    pred_k = np.array([[0.2, 0.9], [0.1, 0.8]])
    labels = np.array([0, 0])
    pred_u = np.array([[0.5, 0.0], [0.4, 0.0]])
    assert metrics.oscr([0.9, 0.8], [False, False], [0.5, 0.4]) == 0.0
    assert metrics.oscr_authors(pred_k, pred_u, labels) == 0.0


@pytest.mark.parametrize("seed", range(40))
def test_oscr_authors_off_by_one_costs_at_most_half_a_known_sample(seed):
    # Untied scores: pairing CCR at k+1 with FPR at k turns each staircase step that an unknown
    # sample followed by a correct known sample makes into a diagonal, so the authors' value is
    # never above Eq. 21-22 and at most 1 / (2 * n_known) below it.
    rng = np.random.default_rng(seed)
    n_known, n_unknown = int(rng.integers(2, 60)), int(rng.integers(2, 60))
    pred_k = rng.normal(0.0, 1.0, (n_known, 3))
    pred_u = rng.normal(-0.3, 1.0, (n_unknown, 3))
    labels = rng.integers(0, 3, n_known)
    ours = metrics.oscr(pred_k.max(1), pred_k.argmax(1) == labels, pred_u.max(1))
    theirs = metrics.oscr_authors(pred_k, pred_u, labels)
    assert -1e-12 <= ours - theirs <= 1 / (2 * n_known) + 1e-12


def test_oscr_authors_depends_on_order_of_tied_samples():
    # Three correct known and two unknown samples, all scored 1. Eq. 21-22 accepts them together:
    # one diagonal step to (1, 1), area 1/2. The authors' loop walks the tied samples one by one
    # in argsort order (knowns first here), so CCR falls to 0 before FPR moves: area 0.
    pred_k = np.array([[1.0, 0.0]] * 3)
    pred_u = np.array([[1.0, 0.0]] * 2)
    labels = np.zeros(3, dtype=int)
    assert metrics.oscr([1.0, 1.0, 1.0], [True] * 3, [1.0, 1.0]) == 0.5
    assert metrics.oscr_authors(pred_k, pred_u, labels) == authors_compute_oscr(pred_k, pred_u, labels) == 0.0


# ---------------------------------------------------------------- authors' metric_ood

@pytest.mark.parametrize("kind,seed", ALL_DATA)
def test_authors_ood_metrics_identical_to_their_code(kind, seed):
    known, unknown = make_data(kind, seed)
    known_before, unknown_before = known.copy(), unknown.copy()
    ours = metrics.authors_ood_metrics(known, unknown)
    theirs = authors_metric_ood(known, unknown)
    for key in ("TNR", "AUROC", "DTACC", "AUIN", "AUOUT"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-14), key
    np.testing.assert_array_equal(known, known_before)  # no in-place sort of the caller's arrays
    np.testing.assert_array_equal(unknown, unknown_before)


@pytest.mark.parametrize("seed", SEEDS)
def test_authors_ood_metrics_agree_with_ours_on_large_untied_data(seed):
    # Without ties the authors' walk visits exactly the ROC points, so AUROC and DTACC agree to
    # rounding. TNR picks the nearest-to-95% point (possibly below 95%) and AUIN/AUOUT use
    # trapezoids with padded end points instead of average precision: close, not equal.
    known, unknown = continuous_scores(seed, 5000, 4000)
    ours = metrics.ood_metrics(known, unknown)
    theirs = metrics.authors_ood_metrics(known, unknown)
    assert theirs["AUROC"] == pytest.approx(ours["AUROC"], abs=1e-12)
    assert theirs["DTACC"] == pytest.approx(ours["DTACC"], abs=1e-12)
    for key in ("TNR", "AUIN", "AUOUT"):
        assert theirs[key] == pytest.approx(ours[key], abs=1e-2), key


@pytest.mark.parametrize("seed", SEEDS)
def test_authors_auroc_counts_ties_as_losses(seed):
    # On a tie their walk drops the known sample first, so a tied pair counts 0 instead of 1/2.
    known, unknown = tied_scores(seed)
    diff = known[:, None] - unknown[None, :]
    theirs = metrics.authors_ood_metrics(known, unknown)
    assert theirs["AUROC"] == pytest.approx(np.mean(diff > 0), abs=1e-12)
    assert metrics.auroc(known, unknown) - theirs["AUROC"] == pytest.approx(0.5 * np.mean(diff == 0), abs=1e-12)
    assert theirs["DTACC"] == pytest.approx(metrics.detection_accuracy(known, unknown), abs=1e-12)


# ---------------------------------------------------------------- bad input

SCORE_FUNCTIONS = [metrics.auroc, metrics.roc_curve, metrics.tnr_at_tpr95, metrics.detection_accuracy,
                   metrics.auin, metrics.auout, metrics.ood_metrics, metrics.authors_ood_metrics]


@pytest.mark.parametrize("function", SCORE_FUNCTIONS)
def test_score_metrics_reject_bad_input(function):
    with pytest.raises(ValueError, match="empty"):
        function(np.array([]), np.array([0.1]))
    with pytest.raises(ValueError, match="empty"):
        function(np.array([0.1]), np.array([]))
    with pytest.raises(ValueError, match="NaN"):
        function(np.array([0.1, np.nan]), np.array([0.2]))
    with pytest.raises(ValueError, match="NaN"):
        function(np.array([0.1]), np.array([np.inf]))
    with pytest.raises(ValueError, match="1-D"):
        function(np.ones((3, 2)), np.array([0.2]))


def test_oscr_rejects_bad_input():
    with pytest.raises(ValueError, match="known_correct has 1 entries but known_scores has 2"):
        metrics.oscr([0.1, 0.2], [True], [0.3])
    with pytest.raises(ValueError, match="0/1"):
        metrics.oscr([0.1, 0.2], [2, 0], [0.3])
    with pytest.raises(ValueError, match="NaN"):
        metrics.oscr_curve([0.1, np.nan], [1, 0], [0.3])
    with pytest.raises(ValueError, match="empty"):
        metrics.oscr([0.1], [1], [])
    with pytest.raises(ValueError, match="labels has 1 entries"):
        metrics.oscr_authors(np.ones((2, 3)), np.ones((2, 3)), [0])
    with pytest.raises(ValueError, match="num_classes"):
        metrics.oscr_authors(np.ones(3), np.ones((2, 3)), [0, 0, 0])


def test_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="predictions has 2 entries but labels has 3"):
        metrics.accuracy([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="empty"):
        metrics.accuracy([], [])
    with pytest.raises(ValueError, match="argmax"):
        metrics.accuracy(np.ones((2, 3)), [0, 1])


def test_tnr_rejects_bad_target():
    with pytest.raises(ValueError, match="target_tpr"):
        metrics.tnr_at_tpr95([1.0], [0.0], target_tpr=1.5)
