"""The OSR stage's helpers: one softmax for every metric; the bootstrap intervals."""

from __future__ import annotations

import numpy as np
import torch

from arpl import metrics, stats
from arpl.evaluate import Predictions, softmax
from arpl.stages.osr import TrialPredictions, bootstrap_table


def test_authors_oscr_sees_the_same_probabilities_as_the_msp_score():
    """On saturated logits a numpy softmax differs from torch's by up to ~6e-5 and reorders ties; the
    per-class probabilities given to the authors' OSCR must be exactly the msp score's."""
    generator = np.random.default_rng(0)
    logits = (generator.normal(size=(500, 6)) * 40).astype(np.float32)
    logits[::7, 0] += 80  # saturated rows: probabilities of exactly or nearly 1
    probabilities = softmax(logits)
    msp = Predictions(features=np.zeros((500, 2), np.float32), logits=logits).scores("msp")
    np.testing.assert_array_equal(probabilities.max(axis=1).astype(np.float64), msp)
    np.testing.assert_allclose(probabilities, torch.softmax(torch.from_numpy(logits), 1).numpy(), rtol=0, atol=0)


def test_bootstrap_table_gives_the_metric_loops_intervals():
    """The table's fast intervals are those of resampling the metrics themselves, in percent."""
    generator = np.random.default_rng(1)
    labels = generator.integers(0, 4, 300)
    known_logits = (generator.normal(size=(300, 4)) + 2.0 * np.eye(4)[labels]).astype(np.float32)
    unknown_logits = generator.normal(size=(200, 4)).astype(np.float32)
    features = np.zeros((1, 2), np.float32)
    trial = TrialPredictions(method="Softmax", head="Softmax", split=0, known_labels=labels,
                             known=Predictions(features=features, logits=known_logits),
                             unknown=Predictions(features=features, logits=unknown_logits))
    row = bootstrap_table([trial], resamples=100, seed=4).iloc[0]
    known, unknown = trial.scores("own")
    auroc = stats.bootstrap_interval(metrics.auroc, known, unknown, n_resamples=100, seed=4)
    oscr = stats.bootstrap_interval(lambda k, u, c: metrics.oscr(k, c, u), known, unknown, trial.correct(),
                                    n_resamples=100, seed=4)
    np.testing.assert_allclose([row.AUROC_low, row.AUROC_high, row.OSCR_low, row.OSCR_high],
                               100 * np.array([*auroc, *oscr]), rtol=0, atol=1e-10)
def test_every_model_is_evaluated_on_the_splits_it_was_trained_on(smoke_params, monkeypatch):
    from arpl.stages import osr

    params = smoke_params.replace("data", splits=[0, 1])
    params = params.replace("train", methods=["ARPL"], closed_set=True)
    params = params.replace("confusing", variants=["cs", "cs-no-abn"], ablation_trials=1)
    asked = []
    monkeypatch.setattr(osr, "open_set", lambda params, split: split)
    monkeypatch.setattr(osr, "predict_trial", lambda checkpoint, data, method, split, dev: asked.append(
        (checkpoint.parent.relative_to("runs").as_posix(), method, split)))
    osr.predict_all(params)
    assert asked == [("train/ARPL/split0", "ARPL", 0), ("confusing/cs/split0", "ARPL+CS", 0),
                     ("confusing/cs-no-abn/split0", "ARPL+CS (w/o ABN)", 0),
                     ("train/ARPL/split1", "ARPL", 1), ("confusing/cs/split1", "ARPL+CS", 1)]
