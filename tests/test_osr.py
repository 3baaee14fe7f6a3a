"""The OSR stage's helpers: one softmax for every metric."""

from __future__ import annotations

import numpy as np
import torch

from arpl.evaluate import Predictions
from arpl.osr import softmax


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
