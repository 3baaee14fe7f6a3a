"""Tests for arpl.scores against hand/numpy computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from arpl.methods import get_method
from arpl.methods.arpl import ARPLHead
from arpl.methods.rpl import RPLHead
from arpl.scores import score, score_names

LOGITS = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [-3.0, 4.0, 1.0]], dtype=np.float32)


def numpy_scores(logits: np.ndarray) -> dict[str, np.ndarray]:
    shifted = logits - logits.max(axis=1, keepdims=True)
    softmax = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return {
        "msp": softmax.max(axis=1),
        "max_logit": logits.max(axis=1),
        "energy": logits.max(axis=1) + np.log(np.exp(shifted).sum(axis=1)),
        "max_distance": logits.max(axis=1),
    }


@pytest.mark.parametrize("name", ["msp", "max_logit", "energy", "max_distance"])
def test_scores_match_numpy(name):
    expected = numpy_scores(LOGITS)[name]
    result = score(name, torch.from_numpy(LOGITS))
    assert result.shape == (3,)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6)


def test_scores_by_hand():
    # row 2 has equal logits 0.5: msp = 1/3, max logit = 0.5, energy = 0.5 + log 3
    logits = torch.from_numpy(LOGITS)
    assert score("msp", logits)[1].item() == pytest.approx(1 / 3)
    assert score("max_logit", logits)[1].item() == pytest.approx(0.5)
    assert score("energy", logits)[1].item() == pytest.approx(0.5 + math.log(3))
    # row 1, logits [2, 0, -1]: msp = 1 / (1 + e^-2 + e^-3)
    assert score("msp", logits)[0].item() == pytest.approx(1 / (1 + math.exp(-2) + math.exp(-3)))


def test_score_accepts_numpy_and_integer_logits():
    np.testing.assert_allclose(score("energy", LOGITS).numpy(), numpy_scores(LOGITS)["energy"], rtol=1e-6)
    integers = torch.tensor([[1, 3], [2, 0]])
    assert score("max_logit", integers).tolist() == [3.0, 2.0]


def test_max_distance_is_eq20_for_reciprocal_point_heads():
    torch.manual_seed(0)
    features = torch.randn(7, 4)
    head = ARPLHead(4, 3)
    points = head.points.detach()
    d_e = ((features[:, None, :] - points[None]) ** 2).mean(-1)
    d_d = features @ points.t()
    expected = (d_e - d_d).max(dim=1).values  # Eq. 20: max_k d(C(x), P^k)
    with torch.no_grad():
        torch.testing.assert_close(score("max_distance", head.logits(features)), expected)
        rpl = RPLHead(4, 3)
        rpl_d_e = ((features[:, None, :] - rpl.points[None]) ** 2).mean(-1)
        torch.testing.assert_close(score("max_distance", rpl.logits(features)), rpl_d_e.max(dim=1).values)


def test_higher_score_means_more_known():
    confident, uncertain = torch.tensor([[5.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    for name in score_names():
        assert score(name, confident) > score(name, uncertain)


def test_scores_for_each_method():
    assert get_method("Softmax").scores == ("msp", "max_logit", "energy")
    assert get_method("GCPL").scores == ("msp", "max_logit", "energy")
    assert get_method("RPL").scores == ("max_distance", "msp", "max_logit", "energy")
    assert get_method("ARPL").scores == ("max_distance", "msp", "max_logit", "energy")


def test_own_score_of_each_method():
    own_scores = [get_method(m).own_score for m in ("Softmax", "GCPL", "RPL", "ARPL")]
    assert own_scores == ["msp", "msp", "msp", "max_distance"]
    logits = torch.from_numpy(LOGITS)
    for method in ("Softmax", "GCPL", "RPL", "ARPL"):  # "own" is the method's own score, computed by the method
        own = get_method(method).own_score
        torch.testing.assert_close(get_method(method).score("own", logits), score(own, logits), rtol=0, atol=0)


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match=r"unknown score 'maxlogit'; allowed: msp, max_logit, energy, max_distance"):
        score("maxlogit", torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"unknown method 'softmax'.*did you mean 'Softmax'"):
        get_method("softmax")
    with pytest.raises(ValueError, match=r"unknown method 'OpenMax'; allowed: Softmax, GCPL, RPL, ARPL"):
        get_method("OpenMax")


def test_bad_logits_are_rejected():
    with pytest.raises(ValueError, match=r"shape \[batch, num_classes>0\]"):
        score("msp", torch.zeros(4))
    with pytest.raises(ValueError, match="must be a torch.Tensor or numpy array"):
        score("msp", [[1.0, 2.0]])


def test_every_score_has_an_axis_label_and_a_plugin_score_keeps_its_name():
    from arpl.scores import score_label, score_names

    assert {name: score_label(name) for name in ("msp", "max_distance")} == {
        "msp": "max softmax probability", "max_distance": "max distance to reciprocal points (Eq. 20)"}
    assert all(score_label(name) != name for name in score_names())
    assert score_label("max_cosine") == "max_cosine"
