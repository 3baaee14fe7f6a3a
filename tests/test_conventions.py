"""Comparisons with the paper use the convention of the published number: the authors' metric_ood AUROC (a tied
known/unknown pair counts 0) beside theirs, ours (a tie counts 1/2) beside it. Tied scores are where the two part:
MSP saturates at exactly 1.0 in float32."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arpl import metrics
from arpl.evaluate import Predictions
from arpl.stages import ood, osr


def saturated_logits(seed: int, rows: int, classes: int, confident: int) -> np.ndarray:
    """Random logits whose first ``confident`` rows are so peaked that float32 MSP is exactly 1.0 (tied)."""
    generator = np.random.default_rng(seed)
    logits = generator.normal(size=(rows, classes)).astype(np.float32)
    logits[:confident, 0] += 200.0
    return logits


def test_auroc_authors_counts_ties_against_and_equals_their_metric_ood():
    known, unknown = np.array([1.0, 1.0, 0.5, 0.9]), np.array([1.0, 0.2, 0.5])
    assert metrics.auroc_authors(known, unknown) == pytest.approx(7 / 12)   # 7 wins, 3 ties counted 0
    assert metrics.auroc(known, unknown) == pytest.approx(8.5 / 12)        # the same ties counted 1/2
    assert metrics.auroc_authors(known, unknown) == pytest.approx(metrics.authors_ood_metrics(known, unknown)["AUROC"])
    assert metrics.auroc_authors([1.0, 1.0], [1.0]) == 0.0 and metrics.auroc([1.0, 1.0], [1.0]) == 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_authors_matches_their_walk_on_tied_and_untied_scores(seed):
    generator = np.random.default_rng(seed)
    tied_known, tied_unknown = generator.integers(0, 5, 200) / 4, generator.integers(0, 4, 150) / 4
    assert metrics.auroc_authors(tied_known, tied_unknown) == pytest.approx(
        metrics.authors_ood_metrics(tied_known, tied_unknown)["AUROC"], abs=1e-12)
    assert metrics.auroc_authors(tied_known, tied_unknown) < metrics.auroc(tied_known, tied_unknown)
    known, unknown = generator.normal(1, 1, 300), generator.normal(0, 1, 200)
    assert metrics.auroc_authors(known, unknown) == pytest.approx(metrics.auroc(known, unknown), abs=1e-15)


def test_saturated_msp_ties_and_the_osr_comparison_uses_the_authors_convention():
    known_logits, unknown_logits = saturated_logits(0, 300, 6, 120), saturated_logits(1, 200, 6, 60)
    labels = known_logits.argmax(1)
    features = np.zeros((1, 2), np.float32)
    trial = osr.TrialPredictions(method="Softmax", head="Softmax", split=0, known_labels=labels,
                                 known=Predictions(features, known_logits),
                                 unknown=Predictions(features, unknown_logits))
    known, unknown = trial.scores("own")
    assert (known == 1.0).sum() >= 120 and (unknown == 1.0).sum() >= 60, "float32 MSP saturates: tied scores"
    values = osr.trial_metrics(trial, "own")
    assert values["AUROC"] - values["AUROC_authors"] > 5.0, "the conventions part on the tied pairs"
    summary = osr.summary_table(pd.DataFrame([{"method": "Softmax", "split": 0, "score": "own", **values}]))
    compared = osr.paper_comparison(summary, "cifar10", "classifier32").set_index("metric")
    assert compared.loc["AUROC", "ours_mean"] == pytest.approx(values["AUROC_authors"])
    assert compared.loc["AUROC", "ours_definition"] == pytest.approx(values["AUROC"])
    assert compared.loc["OSCR", "ours_mean"] == pytest.approx(values["OSCR_authors"])
    assert "tied" in compared.loc["AUROC", "convention"]


def test_saturated_msp_ties_and_the_ood_comparison_uses_the_authors_convention():
    known_logits, unknown_logits = saturated_logits(2, 300, 10, 150), saturated_logits(3, 200, 10, 80)
    features = np.zeros((1, 2), np.float32)
    model = ood.ModelPredictions(method="Softmax", head="Softmax", known=Predictions(features, known_logits),
                                 labels=known_logits.argmax(1), unknown={"svhn": Predictions(features, unknown_logits)})
    values = ood.out_metrics(model, "svhn")
    assert values["AUROC"] - values["AUROC_authors"] > 5.0
    table = pd.DataFrame([{"method": "Softmax", "out": "svhn", **values}])
    compared = ood.paper_comparison(table, "cifar10", "resnet34").set_index("metric")
    for metric in ("TNR", "AUROC", "DTACC", "AUIN", "AUOUT"):
        assert compared.loc[metric, "ours_mean"] == pytest.approx(values[f"{metric}_authors"]), metric
        assert compared.loc[metric, "ours_definition"] == pytest.approx(values[metric]), metric
    assert compared.loc["AUROC", "difference"] == pytest.approx(values["AUROC_authors"] - 90.6)
