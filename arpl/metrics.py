"""Open-set and out-of-distribution metrics (paper Sec. 5.1 "Evaluation Metrics" and Sec. 5.3).

Conventions shared by every function here:

* Scores are 1-D numpy float arrays; a higher score means "more known". Known samples are the
  positive class, unknown (novel, out-of-distribution) samples the negative class.
* A threshold ``t`` accepts a sample as known when ``score >= t``.
* Thresholds are swept over the distinct observed scores, so tied scores always move together.
* Results are python floats in [0, 1] (fractions, not percent).

Re-implementations of the authors' evaluation code give the convention of the published numbers (and of
the authors'-code anchors), so that a comparison with them is like for like: :func:`oscr_authors` (their
``compute_oscr``), :func:`authors_ood_metrics` (their ``metric_ood``, inherited from the ODIN / Mahalanobis
code) and :func:`auroc_authors` (its AUROC: ties count against). Everything else follows the paper's
definitions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

TARGET_TPR = 0.95

# numpy >= 2 renamed trapz to trapezoid (same formula); numpy 2.4 removed trapz.
_trapezoid = getattr(np, "trapezoid", None) or getattr(np, "trapz")


def _scores(name: str, values: ArrayLike) -> np.ndarray:
    """Return ``values`` as a 1-D finite float64 array, or raise ValueError naming the problem."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of scores, got shape {array.shape}; "
                         "pass one score per sample (e.g. scores.ravel()).")
    if array.size == 0:
        raise ValueError(f"{name} is empty; every metric needs at least one known and one unknown sample.")
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); "
                         "fix the scoring (e.g. clamp logits) before computing metrics.")
    return array


def _same_length(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    if len(a) != len(b):
        raise ValueError(f"{name_a} has {len(a)} entries but {name_b} has {len(b)}; "
                         "they must describe the same samples.")


def _correct_flags(known_correct: ArrayLike, known_scores: np.ndarray) -> np.ndarray:
    """Return ``known_correct`` as a boolean array aligned with ``known_scores``."""
    flags = np.asarray(known_correct)
    if flags.ndim != 1:
        raise ValueError(f"known_correct must be a 1-D array, got shape {flags.shape}.")
    _same_length("known_correct", flags, "known_scores", known_scores)
    if flags.dtype != np.bool_:
        if not np.all(np.isin(flags, (0, 1))):
            raise ValueError("known_correct must hold booleans or 0/1 values "
                             "(1 = the closed-set prediction is correct).")
        flags = flags.astype(bool)
    return flags


def _count_at_or_above(sorted_scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Number of entries of the ascending ``sorted_scores`` that are ``>= t`` for each threshold."""
    return len(sorted_scores) - np.searchsorted(sorted_scores, thresholds, side="left")


def _descending_thresholds(*score_arrays: np.ndarray) -> np.ndarray:
    """Distinct scores of all arrays, highest first (each one is a threshold of the sweep)."""
    return np.unique(np.concatenate(score_arrays))[::-1]


def auroc(known_scores: ArrayLike, unknown_scores: ArrayLike) -> float:
    """Area under the ROC curve, known = positive (paper Sec. 5.1, "AUROC"; Sec. 5.3).

    Computed as the Mann-Whitney statistic: the probability that a random known sample scores
    higher than a random unknown sample, a tie counting 1/2. This equals the trapezoidal area
    under :func:`roc_curve` and scikit-learn's ``roc_auc_score``.
    """
    known = _scores("known_scores", known_scores)
    unknown = np.sort(_scores("unknown_scores", unknown_scores))
    below = np.searchsorted(unknown, known, side="left")
    below_or_tied = np.searchsorted(unknown, known, side="right")
    wins = below.sum() + 0.5 * (below_or_tied - below).sum()
    return float(wins / (len(known) * len(unknown)))


def auroc_authors(known_scores: ArrayLike, unknown_scores: ArrayLike) -> float:
    """AUROC as the authors' ``metric_ood`` computes it, the convention of the paper's tables and the anchors.

    The probability that a random known sample scores strictly higher than a random unknown one: a tied pair
    counts 0 (their walk drops the known sample first), where :func:`auroc` counts it 1/2. The two agree on
    untied scores; MSP saturating at 1.0 in float32 is where they part. Equals the AUROC of
    :func:`authors_ood_metrics`, computed without its walk.
    """
    known = _scores("known_scores", known_scores)
    unknown = np.sort(_scores("unknown_scores", unknown_scores))
    below = np.searchsorted(unknown, known, side="left")
    return float(below.sum() / (len(known) * len(unknown)))


def roc_curve(known_scores: ArrayLike, unknown_scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve points ``(fpr, tpr)`` for known = positive (paper Sec. 5.1, "AUROC").

    The curve starts at (0, 0) (threshold above every score) and visits one point per distinct
    score, thresholds decreasing, ending at (1, 1). ``tpr = fraction(known >= t)``,
    ``fpr = fraction(unknown >= t)``. Same points as scikit-learn's
    ``roc_curve(..., drop_intermediate=False)``.
    """
    known = np.sort(_scores("known_scores", known_scores))
    unknown = np.sort(_scores("unknown_scores", unknown_scores))
    thresholds = _descending_thresholds(known, unknown)
    tpr = _count_at_or_above(known, thresholds) / len(known)
    fpr = _count_at_or_above(unknown, thresholds) / len(unknown)
    return np.concatenate([[0.0], fpr]), np.concatenate([[0.0], tpr])


def tnr_at_tpr95(known_scores: ArrayLike, unknown_scores: ArrayLike, target_tpr: float = TARGET_TPR) -> float:
    """True negative rate on unknown samples at 95% true positive rate on known ones (Sec. 5.3, "TNR").

    Exact convention: the threshold is the largest ``t`` with ``fraction(known >= t) >= target_tpr``
    (so the TPR actually used is the smallest achievable TPR that is at least 95%; that ``t`` is
    always one of the known scores), and ``TNR = fraction(unknown < t)``. No interpolation
    between operating points. (The paper's text writes TNR = TN/(TP+TN) and TPR = TP/(FP+FN);
    these are typos for TN/(TN+FP) and TP/(TP+FN).)
    """
    if not 0.0 < target_tpr <= 1.0:
        raise ValueError(f"target_tpr must lie in (0, 1], got {target_tpr}.")
    known_descending = np.sort(_scores("known_scores", known_scores))[::-1]
    unknown = np.sort(_scores("unknown_scores", unknown_scores))
    accepted_fraction = np.arange(1, len(known_descending) + 1) / len(known_descending)
    first_enough = int(np.argmax(accepted_fraction >= target_tpr))
    threshold = known_descending[first_enough]
    rejected_unknown = np.searchsorted(unknown, threshold, side="left")
    return float(rejected_unknown / len(unknown))


def detection_accuracy(known_scores: ArrayLike, unknown_scores: ArrayLike) -> float:
    """Detection accuracy DTACC = max over thresholds of 0.5 * (TPR + TNR) (paper Sec. 5.3).

    Equal priors for known and unknown samples, as the paper states. The thresholds are the
    distinct scores; the lowest accepts everything (TPR = 1, TNR = 0), so the result is at least 0.5.
    """
    known = np.sort(_scores("known_scores", known_scores))
    unknown = np.sort(_scores("unknown_scores", unknown_scores))
    thresholds = _descending_thresholds(known, unknown)
    tpr = _count_at_or_above(known, thresholds) / len(known)
    tnr = np.searchsorted(unknown, thresholds, side="left") / len(unknown)
    return float(np.max(0.5 * (tpr + tnr)))


def _average_precision(positive: np.ndarray, negative: np.ndarray) -> float:
    """Step-wise area under precision-recall: sum over thresholds of (R_n - R_{n-1}) * P_n."""
    positive = np.sort(positive)
    negative = np.sort(negative)
    thresholds = _descending_thresholds(positive, negative)
    true_pos = _count_at_or_above(positive, thresholds)
    false_pos = _count_at_or_above(negative, thresholds)
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / len(positive)
    recall_gain = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(recall_gain * precision))


def auin(known_scores: ArrayLike, unknown_scores: ArrayLike) -> float:
    """AUIN: area under precision-recall with known (in-distribution) as positive (Sec. 5.3, "AUPR").

    Computed as average precision (step-wise, like scikit-learn's ``average_precision_score``),
    not by trapezoidal interpolation.
    """
    known = _scores("known_scores", known_scores)
    unknown = _scores("unknown_scores", unknown_scores)
    return _average_precision(known, unknown)


def auout(known_scores: ArrayLike, unknown_scores: ArrayLike) -> float:
    """AUOUT: area under precision-recall with unknown as positive and scores negated (Sec. 5.3).

    Average precision of ``-unknown_scores`` against ``-known_scores``.
    """
    known = _scores("known_scores", known_scores)
    unknown = _scores("unknown_scores", unknown_scores)
    return _average_precision(-unknown, -known)


def accuracy(predictions: ArrayLike, labels: ArrayLike) -> float:
    """Closed-set accuracy: fraction of known samples whose predicted class equals the label (Sec. 5.4)."""
    predicted = np.asarray(predictions)
    truth = np.asarray(labels)
    if predicted.ndim != 1 or truth.ndim != 1:
        raise ValueError(f"predictions and labels must be 1-D class indices, got shapes "
                         f"{predicted.shape} and {truth.shape}; take argmax over the logits first.")
    if predicted.size == 0:
        raise ValueError("predictions is empty; accuracy needs at least one sample.")
    _same_length("predictions", predicted, "labels", truth)
    return float(np.mean(predicted == truth))


def oscr_curve(known_scores: ArrayLike, known_correct: ArrayLike,
               unknown_scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Open Set Classification Rate curve ``(fpr, ccr)`` (paper Eq. 21-22).

    For a threshold ``delta``: ``CCR(delta)`` = fraction of known samples that are correctly
    classified and have ``score >= delta`` (Eq. 21); ``FPR(delta)`` = fraction of unknown samples
    with ``score >= delta`` (Eq. 22). The curve starts at (0, 0) (threshold above all scores) and
    visits one point per distinct score, thresholds decreasing, so tied scores are accepted
    together. It ends at (1, closed-set accuracy) — it is not forced through (1, 1).
    """
    known = _scores("known_scores", known_scores)
    correct = _correct_flags(known_correct, known)
    unknown = np.sort(_scores("unknown_scores", unknown_scores))
    thresholds = _descending_thresholds(known, unknown)
    correct_known = np.sort(known[correct])
    ccr = _count_at_or_above(correct_known, thresholds) / len(known)
    fpr = _count_at_or_above(unknown, thresholds) / len(unknown)
    return np.concatenate([[0.0], fpr]), np.concatenate([[0.0], ccr])


def oscr(known_scores: ArrayLike, known_correct: ArrayLike, unknown_scores: ArrayLike) -> float:
    """Area under the OSCR curve of :func:`oscr_curve` (paper Eq. 21-22), trapezoidal over FPR.

    Equivalently: the probability that a random known sample is correctly classified and scores
    above a random unknown sample (ties count 1/2). Its maximum is the closed-set accuracy.
    """
    fpr, ccr = oscr_curve(known_scores, known_correct, unknown_scores)
    return float(_trapezoid(ccr, fpr))


def _class_scores(name: str, values: ArrayLike) -> np.ndarray:
    """Return a [N, K] finite float array of per-class scores, or raise ValueError."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty [N, num_classes] array of logits or "
                         f"probabilities, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values; fix the model outputs first.")
    return array


def oscr_authors(pred_k: ArrayLike, pred_u: ArrayLike, labels: ArrayLike) -> float:
    """OSCR exactly as the authors' ``evaluation.compute_oscr`` computes it (their published Table 2).

    Kept only to show the difference from the paper's definition (Eq. 21-22, :func:`oscr`): after
    sorting all scores ascending (numpy's default, unstable ``argsort``) the code pairs the CCR of
    the samples strictly after position ``k`` with the FPR of the samples from position ``k`` on,
    leaves the entry of the highest-scored sample at its initial (0, 0), and appends (0, 0) and
    (1, 1). Consequences: each staircase step "unknown then correct known" becomes a diagonal, so
    on untied scores the result is never above Eq. 21-22 and at most 1 / (2 * n_known) below it;
    tied scores are walked one by one in argsort order, so the result depends on that order. The
    forced (1, 1) adds no area (the FPR at sorted position 0 is always 1, a vertical segment).
    ``pred_k`` [N, K] and ``pred_u`` [M, K] hold per-class scores; the max is the open-set score,
    the argmax the prediction.
    """
    known_outputs = _class_scores("pred_k", pred_k)
    unknown_outputs = _class_scores("pred_u", pred_u)
    truth = np.asarray(labels)
    if truth.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class indices, got shape {truth.shape}.")
    _same_length("labels", truth, "pred_k", known_outputs)
    known_max = np.max(known_outputs, axis=1)
    unknown_max = np.max(unknown_outputs, axis=1)
    correct = (np.argmax(known_outputs, axis=1) == truth).astype(np.float64)
    known_target = np.concatenate([correct, np.zeros(len(unknown_max))])
    unknown_target = np.concatenate([np.zeros(len(known_max)), np.ones(len(unknown_max))])
    predict = np.concatenate([known_max, unknown_max])
    n = len(predict)
    order = predict.argsort()
    known_suffix = np.cumsum(known_target[order][::-1])[::-1]
    unknown_suffix = np.cumsum(unknown_target[order][::-1])[::-1]
    ccr = np.zeros(n + 2)
    fpr = np.zeros(n + 2)
    ccr[: n - 1] = known_suffix[1:n] / float(len(known_max))
    fpr[: n - 1] = unknown_suffix[: n - 1] / float(len(unknown_max))
    ccr[n + 1] = 1.0
    fpr[n + 1] = 1.0
    descending = np.lexsort((ccr, fpr))[::-1]
    fpr_sorted, ccr_sorted = fpr[descending], ccr[descending]
    areas = (fpr_sorted[:-1] - fpr_sorted[1:]) * ((ccr_sorted[:-1] + ccr_sorted[1:]) / 2.0)
    total = 0.0
    for area in areas.tolist():  # sequential sum, bit-identical to the authors' loop
        total += area
    return float(total)


def _authors_curve(known: np.ndarray, unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The authors' ``get_curve_online`` tp/fp arrays (length num_k + num_n + 1), vectorised.

    Their loop walks the merged ascending scores and removes one sample per step, an unknown one
    only when it is strictly below the current known one (on ties the known sample goes first).
    """
    values = np.concatenate([known, unknown])
    is_unknown = np.concatenate([np.zeros(len(known), dtype=int), np.ones(len(unknown), dtype=int)])
    order = np.lexsort((is_unknown, values))
    removed_unknown = np.concatenate([[0], np.cumsum(is_unknown[order])])
    removed_known = np.arange(len(values) + 1) - removed_unknown
    return len(known) - removed_known, len(unknown) - removed_unknown


def authors_ood_metrics(known_scores: ArrayLike, unknown_scores: ArrayLike) -> dict[str, float]:
    """TNR, AUROC, DTACC, AUIN, AUOUT exactly as the authors' ``evaluation.metric_ood`` (Table 3).

    Returned as fractions (their code prints percent). Differences from our definitions:
    tied known/unknown pairs count 0 in AUROC (their walk drops the known sample first), TNR is
    taken at the operating point whose TPR is nearest to 95% (possibly below it, first such point),
    and AUIN/AUOUT are trapezoidal areas with the padded end points (recall 1, precision 0.5) and
    (recall 0, precision 0) instead of average precision. On untied scores AUROC and DTACC agree
    with ours exactly. The inputs are copied (their code sorted the caller's arrays in place).
    """
    known = np.sort(_scores("known_scores", known_scores))
    unknown = np.sort(_scores("unknown_scores", unknown_scores))
    tp, fp = _authors_curve(known, unknown)
    tpr95_pos = np.abs(tp / len(known) - 0.95).argmin()
    tnr = 1.0 - fp[tpr95_pos] / len(unknown)

    tpr = np.concatenate([[1.0], tp / tp[0], [0.0]])
    fpr = np.concatenate([[1.0], fp / fp[0], [0.0]])
    roc_area = -_trapezoid(1.0 - fpr, tpr)
    dtacc = 0.5 * (tp / tp[0] + 1.0 - fp / fp[0]).max()

    denom = (tp + fp).astype(np.float64)
    denom[denom == 0.0] = -1.0
    pin_ind = np.concatenate([[True], denom > 0.0, [True]])
    pin = np.concatenate([[0.5], tp / denom, [0.0]])
    auin_area = -_trapezoid(pin[pin_ind], tpr[pin_ind])

    denom = (tp[0] - tp + fp[0] - fp).astype(np.float64)
    denom[denom == 0.0] = -1.0
    pout_ind = np.concatenate([[True], denom > 0.0, [True]])
    pout = np.concatenate([[0.0], (fp[0] - fp) / denom, [0.5]])
    auout_area = _trapezoid(pout[pout_ind], 1.0 - fpr[pout_ind])
    return {"TNR": float(tnr), "AUROC": float(roc_area), "DTACC": float(dtacc),
            "AUIN": float(auin_area), "AUOUT": float(auout_area)}


def ood_metrics(known_scores: ArrayLike, unknown_scores: ArrayLike) -> dict[str, float]:
    """The five OOD metrics of paper Sec. 5.3 / Table 3 with this module's definitions.

    Keys: TNR (:func:`tnr_at_tpr95`), AUROC (:func:`auroc`), DTACC (:func:`detection_accuracy`),
    AUIN (:func:`auin`), AUOUT (:func:`auout`).
    """
    known = _scores("known_scores", known_scores)
    unknown = _scores("unknown_scores", unknown_scores)
    return {"TNR": tnr_at_tpr95(known, unknown), "AUROC": auroc(known, unknown),
            "DTACC": detection_accuracy(known, unknown), "AUIN": auin(known, unknown),
            "AUOUT": auout(known, unknown)}
