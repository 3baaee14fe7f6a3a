"""Tests for the methods of arpl.methods: hand-computed values (Eq. 6-19) and the authors' formulas
(iCGY96/ARPL loss/)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from arpl.methods import build_head, get_method, head_options, method_names
from arpl.methods.arpl import ARPLHead
from arpl.methods.distances import dot_product, reciprocal_distances, squared_euclidean_distance
from arpl.methods.gcpl import GCPLHead
from arpl.methods.rpl import RPLHead
from arpl.methods.softmax import SoftmaxHead
from arpl.scores import score_names

# ----------------------------------------------------------------------------- the authors' formulas
# Faithful re-implementation of iCGY96/ARPL loss/{Dist,Softmax,GCPLoss,RPLoss,ARPLoss}.py
# (num_centers = 1), written as free functions of the parameters.


def authors_dist(features: torch.Tensor, center: torch.Tensor, metric: str = "l2") -> torch.Tensor:
    if metric == "l2":
        f_2 = torch.sum(torch.pow(features, 2), dim=1, keepdim=True)
        c_2 = torch.sum(torch.pow(center, 2), dim=1, keepdim=True)
        dist = f_2 - 2 * torch.matmul(features, torch.transpose(center, 1, 0)) + torch.transpose(c_2, 1, 0)
        dist = dist / float(features.shape[1])
    else:
        dist = features.matmul(center.t())
    return dist


def authors_softmax_loss(logits, labels, temp):
    return F.cross_entropy(logits / temp, labels)


def authors_gcpl_loss(x, centers, labels, weight_pl, temp):
    dist = authors_dist(x, centers)
    loss_main = F.cross_entropy(-dist / temp, labels)
    loss_r = F.mse_loss(x, centers[labels, :]) / 2
    return loss_main + weight_pl * loss_r


def authors_rpl_loss(x, centers, radius, labels, weight_pl, temp):
    dist = authors_dist(x, centers)
    loss = F.cross_entropy(dist / temp, labels)
    _dis = (x - centers[labels, :]).pow(2).mean(1)
    with warnings.catch_warnings():  # the authors broadcast a [1] radius against [B] distances
        warnings.simplefilter("ignore")
        loss_r = F.mse_loss(_dis, radius)
    return loss + weight_pl * loss_r


def authors_arpl_loss(x, points, radius, labels, weight_pl, temp):
    dist_dot_p = authors_dist(x, points, metric="dot")
    dist_l2_p = authors_dist(x, points)
    logits = dist_l2_p - dist_dot_p
    loss = F.cross_entropy(logits / temp, labels)
    _dis_known = (x - points[labels, :]).pow(2).mean(1)
    target = torch.ones(_dis_known.size())
    loss_r = nn.MarginRankingLoss(margin=1.0)(radius, _dis_known, target)
    return logits, loss + weight_pl * loss_r


def authors_fake_loss(x, points):
    logits = authors_dist(x, points)
    prob = F.softmax(logits, dim=1)
    return (prob * torch.log(prob)).sum(1).mean().exp()


# ----------------------------------------------------------------------------- a 2x2 hand example
# features x1 = [1, 0], x2 = [0, 2]; points P1 = [0, 0], P2 = [1, 1]; m = 2; labels [0, 1].
X = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
P = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
Y = torch.tensor([0, 1])
# d_e = |x - P|^2 / 2:  x1-P1 = (1,0) -> 0.5 ; x1-P2 = (0,-1) -> 0.5 ; x2-P1 = (0,2) -> 2 ; x2-P2 = (-1,1) -> 1
D_E = torch.tensor([[0.5, 0.5], [2.0, 1.0]])
# d_d = x . P:  x1.P1 = 0 ; x1.P2 = 1 ; x2.P1 = 0 ; x2.P2 = 2
D_D = torch.tensor([[0.0, 1.0], [0.0, 2.0]])
# own-class d_e (x1 to P1, x2 to P2)
OWN_D_E = [0.5, 1.0]


def log1pexp(v: float) -> float:
    return math.log(1.0 + math.exp(v))


def with_points(head: nn.Module, points: torch.Tensor) -> nn.Module:
    with torch.no_grad():
        head.bases().copy_(points)
    return head


def random_batch(seed: int = 0, batch: int = 6, feat_dim: int = 5, num_classes: int = 3):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, feat_dim, generator=generator)
    labels = torch.randint(0, num_classes, (batch,), generator=generator)
    return features, labels


# ----------------------------------------------------------------------------- distances (Eq. 6)


def test_distances_on_hand_example():
    d_e, d_d = reciprocal_distances(X, P)
    torch.testing.assert_close(d_e, D_E)
    torch.testing.assert_close(d_d, D_D)
    torch.testing.assert_close(squared_euclidean_distance(X, P), D_E)
    torch.testing.assert_close(dot_product(X, P), D_D)


def test_distances_match_authors_dist():
    torch.manual_seed(1)
    features, points = 3.0 * torch.randn(17, 128), 0.1 * torch.randn(10, 128)
    torch.testing.assert_close(squared_euclidean_distance(features, points), authors_dist(features, points))
    torch.testing.assert_close(dot_product(features, points), authors_dist(features, points, metric="dot"))


def test_squared_distance_is_never_negative():
    torch.manual_seed(2)
    points = 100.0 * torch.randn(8, 64)  # large norms: the expanded form cancels to rounding noise
    d_e = squared_euclidean_distance(points, points)
    assert (d_e >= 0).all()
    torch.testing.assert_close(d_e.diagonal(), torch.zeros(8), atol=1e-2, rtol=0)


def test_distances_stay_float32_under_bfloat16_autocast():
    torch.manual_seed(3)
    features, points = torch.randn(4, 16), torch.randn(3, 16)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        d_e, d_d = reciprocal_distances(features, points)
    assert d_e.dtype == d_d.dtype == torch.float32
    torch.testing.assert_close(d_e, authors_dist(features, points))


# ----------------------------------------------------------------------------- ARPL (Eq. 6-14)


def test_arpl_logits_are_d_e_minus_d_d():
    head = with_points(ARPLHead(2, 2), P)
    # d = d_e - d_d = [[0.5-0, 0.5-1], [2-0, 1-2]] = [[0.5, -0.5], [2, -1]]
    torch.testing.assert_close(head.logits(X), torch.tensor([[0.5, -0.5], [2.0, -1.0]]))
    torch.testing.assert_close(head.logits(X), D_E - D_D)


def hand_arpl_cross_entropy() -> float:
    # row 1: logits [0.5, -0.5], y=0: -log(e^0.5 / (e^0.5 + e^-0.5)) = log(1 + e^-1) = 0.313262
    # row 2: logits [2, -1],    y=1: -log(e^-1 / (e^2 + e^-1))     = log(1 + e^3)  = 3.048587
    return (log1pexp(-1.0) + log1pexp(3.0)) / 2  # 1.680925


def test_arpl_code_loss_on_hand_example():
    head = with_points(ARPLHead(2, 2, weight_pl=0.1), P)  # code form, R = 0
    _, loss = head(X, Y)
    # L_o = mean(max(0, d_e - R + 1)) = mean(0.5 + 1, 1 + 1) = 1.75 ; L = CE + 0.1 * 1.75
    expected = hand_arpl_cross_entropy() + 0.1 * 1.75
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # ... which is the authors' CE + lambda * MarginRankingLoss(margin=1)(R, d_e, 1)
    margin_ranking = nn.MarginRankingLoss(margin=1.0)(torch.zeros(1), torch.tensor(OWN_D_E), torch.ones(2))
    assert margin_ranking.item() == pytest.approx(1.75)
    assert head.margin_loss(X, Y).item() == pytest.approx(1.75)


def test_arpl_paper_loss_on_hand_example():
    head = with_points(ARPLHead(2, 2, weight_pl=0.1, margin_form="paper", radius_init=0.25), P)
    _, loss = head(X, Y)
    # L_o = mean(max(d_e - R, 0)) = mean(0.5 - 0.25, 1 - 0.25) = mean(0.25, 0.75) = 0.5
    assert head.margin_loss(X, Y).item() == pytest.approx(0.5)
    assert loss.item() == pytest.approx(hand_arpl_cross_entropy() + 0.1 * 0.5, rel=1e-6)


def test_arpl_paper_margin_is_zero_inside_radius():
    head = with_points(ARPLHead(2, 2, margin_form="paper"), P)  # R = 1: max(0.5-1, 0) = max(1-1, 0) = 0
    assert head.radius == 1.0
    assert head.margin_loss(X, Y).item() == 0.0


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("weight_pl", [0.0, 0.1, 1.0])
def test_arpl_code_form_matches_authors(temperature, weight_pl):
    features, labels = random_batch(seed=4)
    torch.manual_seed(5)
    head = ARPLHead(5, 3, weight_pl=weight_pl, temperature=temperature)
    with torch.no_grad():
        head.R.fill_(0.3)
    logits, loss = head(features, labels)
    authors_logits, authors_loss = authors_arpl_loss(
        features, head.points.detach(), head.R.detach(), labels, weight_pl, temperature
    )
    torch.testing.assert_close(logits, authors_logits)
    torch.testing.assert_close(loss, authors_loss)


def test_temperature_is_one_over_gamma():
    head = with_points(ARPLHead(2, 2, weight_pl=0.0, temperature=2.0), P)
    _, loss = head(X, Y)
    # Eq. 7 with gamma = 1/2: p = softmax(0.5 * d); d = [[0.5, -0.5], [2, -1]]
    # row 1: log(1 + e^(0.5*(-0.5-0.5))) = log(1 + e^-0.5); row 2: log(1 + e^(0.5*(2+1))) = log(1 + e^1.5)
    expected = (log1pexp(-0.5) + log1pexp(1.5)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert expected != pytest.approx(hand_arpl_cross_entropy())


def test_arpl_gradients_reach_points_and_radius_when_margin_active():
    head = with_points(ARPLHead(2, 2, weight_pl=0.1), P)  # R = 0: both d_e - R + 1 > 0
    features = X.clone().requires_grad_(True)
    _, loss = head(features, Y)
    loss.backward()
    # dL/dR = lambda * mean(-1 over active samples) = 0.1 * (-1) = -0.1
    assert head.R.grad.item() == pytest.approx(-0.1)
    assert head.points.grad.abs().sum() > 0
    assert features.grad.abs().sum() > 0


def test_arpl_radius_gradient_counts_only_active_samples():
    head = with_points(ARPLHead(2, 2, weight_pl=0.1, radius_init=1.8), P)
    _, loss = head(X, Y)
    loss.backward()
    # d_e - R + 1: sample 1: 0.5 - 1.8 + 1 = -0.3 (inactive); sample 2: 1 - 1.8 + 1 = 0.2 (active)
    # dL/dR = 0.1 * (-1/2) = -0.05
    assert head.R.grad.item() == pytest.approx(-0.05)


def test_arpl_radius_gets_no_gradient_when_margin_inactive():
    head = with_points(ARPLHead(2, 2, weight_pl=0.1, radius_init=10.0), P)  # d_e - 10 + 1 < 0 for all
    _, loss = head(X, Y)
    loss.backward()
    assert head.R.grad is None or head.R.grad.item() == 0.0
    assert head.points.grad.abs().sum() > 0  # still learns from L_c


def test_arpl_radius_initial_values():
    assert ARPLHead(4, 3).radius == 0.0
    assert ARPLHead(4, 3, margin_form="paper").radius == 1.0
    assert ARPLHead(4, 3, margin_form="paper", radius_init=0.5).radius == 0.5
    assert ARPLHead(4, 3, radius_init=2).radius == 2.0
    assert isinstance(ARPLHead(4, 3).radius, float)


def test_reciprocal_points_init_like_authors():
    torch.manual_seed(6)
    head = ARPLHead(256, 50)
    torch.manual_seed(6)
    torch.testing.assert_close(head.points.detach(), 0.1 * torch.randn(50, 256))


# ----------------------------------------------------------------------------- entropy term (Eq. 17-19)


def test_entropy_term_uniform_distances():
    head = ARPLHead(3, 4)
    with torch.no_grad():
        head.points.copy_(torch.ones(4, 3))  # every point equal -> all d_e equal -> S_k = 1/4
    features = torch.randn(5, 3)
    # code: exp(sum_k (1/4) log(1/4)) = exp(-log 4) = 1/4
    assert head.entropy_term(features, form="code").item() == pytest.approx(0.25, rel=1e-6)
    # paper: -H = (1/K) sum_k S log S = (1/4) * (-log 4) = -0.346574
    assert head.entropy_term(features, form="paper").item() == pytest.approx(-math.log(4) / 4, rel=1e-6)


def test_entropy_term_on_hand_example():
    head = ARPLHead(1, 2)
    with torch.no_grad():
        head.points.copy_(torch.tensor([[0.0], [math.sqrt(math.log(3.0))]]))
    features = torch.zeros(1, 1)
    # d_e = [0, ln 3] -> S = softmax = [1/4, 3/4]; sum S log S = 0.25 ln 0.25 + 0.75 ln 0.75 = -0.562335
    sum_s_log_s = 0.25 * math.log(0.25) + 0.75 * math.log(0.75)
    assert head.entropy_term(features, form="code").item() == pytest.approx(math.exp(sum_s_log_s), rel=1e-5)
    assert head.entropy_term(features, form="paper").item() == pytest.approx(sum_s_log_s / 2, rel=1e-5)


def test_entropy_term_code_form_matches_authors_fake_loss():
    features, _ = random_batch(seed=7, batch=9, feat_dim=5)
    torch.manual_seed(8)
    head = ARPLHead(5, 3)
    torch.testing.assert_close(head.entropy_term(features), authors_fake_loss(features, head.points.detach()))


def test_entropy_term_ignores_temperature_and_gamma():
    features, _ = random_batch(seed=9)
    torch.manual_seed(10)
    cold = ARPLHead(5, 3, temperature=1.0)
    torch.manual_seed(10)
    hot = ARPLHead(5, 3, temperature=4.0)
    for form in ("code", "paper"):
        torch.testing.assert_close(cold.entropy_term(features, form), hot.entropy_term(features, form))


def test_entropy_term_is_finite_for_extreme_distances_and_has_gradients():
    head = ARPLHead(2, 2)
    with torch.no_grad():
        head.points.copy_(torch.tensor([[0.0, 0.0], [300.0, 300.0]]))  # one softmax prob underflows to 0
    features = torch.zeros(2, 2, requires_grad=True)
    for form in ("code", "paper"):
        value = head.entropy_term(features, form)
        assert torch.isfinite(value)
        (generator_grad,) = torch.autograd.grad(value, features)
        assert torch.isfinite(generator_grad).all()

    torch.manual_seed(16)
    head = ARPLHead(2, 3)
    for form in ("code", "paper"):
        head.zero_grad()
        head.entropy_term(torch.randn(4, 2), form).backward()
        assert head.points.grad.abs().sum() > 0  # the classifier's reciprocal points learn from it too


def test_entropy_term_is_lower_for_more_confusing_samples():
    head = ARPLHead(2, 2)
    with torch.no_grad():
        head.points.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    confusing = torch.tensor([[0.0, 3.0]])  # equidistant from both points
    clear = torch.tensor([[4.0, 0.0]])
    for form in ("code", "paper"):
        assert head.entropy_term(confusing, form) < head.entropy_term(clear, form)


# ----------------------------------------------------------------------------- Softmax, GCPL, RPL


def test_softmax_loss_on_hand_example():
    head = with_points(SoftmaxHead(2, 2), torch.eye(2))
    logits, loss = head(X, Y)
    torch.testing.assert_close(logits, X)  # W = I -> logits = x = [[1, 0], [0, 2]]
    # row 1: log(1 + e^(0-1)) = 0.313262 ; row 2: log(1 + e^(0-2)) = 0.126928
    assert loss.item() == pytest.approx((log1pexp(-1.0) + log1pexp(-2.0)) / 2, rel=1e-6)
    assert not hasattr(head.fc, "bias") or head.fc.bias is None


def test_gcpl_loss_on_hand_example():
    head = with_points(GCPLHead(2, 2, weight_pl=0.1), P)
    logits, loss = head(X, Y)
    torch.testing.assert_close(logits, -D_E)  # [[-0.5, -0.5], [-2, -1]]
    # CE: row 1 log 2 ; row 2 -log(e^-1 / (e^-2 + e^-1)) = log(1 + e^-1)
    # mse(x, M_y) / 2 = mean(1, 0, 1, 1) / 2 = 0.375
    expected = (math.log(2.0) + log1pexp(-1.0)) / 2 + 0.1 * 0.375
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_rpl_loss_on_hand_example():
    head = with_points(RPLHead(2, 2, weight_pl=0.1), P)
    logits, loss = head(X, Y)
    torch.testing.assert_close(logits, D_E)  # [[0.5, 0.5], [2, 1]]
    # CE: row 1 log 2 ; row 2 -log(e^1 / (e^2 + e^1)) = log(1 + e^1)
    # mse(d_e(x, P_y), R=0) = mean(0.5^2, 1^2) = 0.625
    expected = (math.log(2.0) + log1pexp(1.0)) / 2 + 0.1 * 0.625
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert head.radius == 0.0


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_softmax_gcpl_rpl_match_authors(temperature):
    features, labels = random_batch(seed=11)
    torch.manual_seed(12)
    softmax = SoftmaxHead(5, 3, temperature=temperature)
    gcpl = GCPLHead(5, 3, weight_pl=0.3, temperature=temperature)
    rpl = RPLHead(5, 3, weight_pl=0.3, temperature=temperature)
    with torch.no_grad():
        rpl.R.fill_(0.4)
    logits, loss = softmax(features, labels)
    torch.testing.assert_close(logits, features @ softmax.fc.weight.detach().t())
    torch.testing.assert_close(loss, authors_softmax_loss(logits.detach(), labels, temperature))
    _, loss = gcpl(features, labels)
    torch.testing.assert_close(loss, authors_gcpl_loss(features, gcpl.prototypes.detach(), labels, 0.3, temperature))
    _, loss = rpl(features, labels)
    expected = authors_rpl_loss(features, rpl.points.detach(), rpl.R.detach(), labels, 0.3, temperature)
    torch.testing.assert_close(loss, expected)


def test_rpl_radius_gets_gradient():
    head = with_points(RPLHead(2, 2, weight_pl=0.1), P)
    _, loss = head(X, Y)
    loss.backward()
    # d/dR 0.1 * mean((d - R)^2) at R = 0: 0.1 * mean(-2 d) = 0.1 * -(0.5 + 1) = -0.15
    assert head.R.grad.item() == pytest.approx(-0.15)


# ----------------------------------------------------------------------------- common contract


@pytest.mark.parametrize("method", method_names())
def test_head_contract(method):
    torch.manual_seed(13)
    head = build_head(method, 5, 3)
    features, labels = random_batch(seed=14)
    features.requires_grad_(True)
    logits, loss = head(features, labels)
    assert logits.shape == (6, 3)
    assert loss.dim() == 0 and torch.isfinite(loss)
    torch.testing.assert_close(head.logits(features), logits)
    torch.testing.assert_close(head.logits_from_bases(features, head.bases()), logits)
    assert head.bases().shape == (3, 5)
    assert type(head) is get_method(method) and head.name == method
    assert head.own_score in head.scores and set(head.scores) <= set(score_names())
    loss.backward()
    assert features.grad.abs().sum() > 0
    assert head.bases().grad.abs().sum() > 0


def test_logits_from_other_bases_use_the_head_rule():
    head = ARPLHead(2, 1)
    # two class vectors taken from elsewhere (class-incremental use): rule d_e - d_d
    torch.testing.assert_close(head.logits_from_bases(X, P), D_E - D_D)
    torch.testing.assert_close(GCPLHead(2, 1).logits_from_bases(X, P), -D_E)
    torch.testing.assert_close(RPLHead(2, 1).logits_from_bases(X, P), D_E)
    torch.testing.assert_close(SoftmaxHead(2, 1).logits_from_bases(X, P), D_D)


def test_heads_deterministic_given_seed():
    torch.manual_seed(15)
    first = build_head("ARPL", 8, 4)
    torch.manual_seed(15)
    second = build_head("ARPL", 8, 4)
    torch.testing.assert_close(first.points, second.points)


def test_build_head_passes_options():
    head = build_head("ARPL", 4, 3, weight_pl=0.5, temperature=2.0, margin_form="paper", radius_init=0.7)
    assert isinstance(head, ARPLHead)
    assert (head.weight_pl, head.temperature, head.margin_form) == (0.5, 2.0, "paper")
    assert head.radius == pytest.approx(0.7)
    assert isinstance(build_head("Softmax", 4, 3, temperature=1.0), SoftmaxHead)
    assert isinstance(build_head("GCPL", 4, 3, weight_pl=0.2), GCPLHead)
    assert isinstance(build_head("RPL", 4, 3), RPLHead)
    assert head_options("GCPL") == ["weight_pl", "temperature"]


def test_build_head_unknown_method():
    with pytest.raises(ValueError, match=r"unknown method 'arpl'.*Softmax, GCPL, RPL, ARPL.*did you mean 'ARPL'"):
        build_head("arpl", 4, 3)


def test_build_head_unknown_option():
    with pytest.raises(ValueError, match=r"'margin_form'.*allowed: weight_pl, temperature"):
        build_head("GCPL", 4, 3, margin_form="paper")
    with pytest.raises(ValueError, match=r"'weight_p'.*did you mean 'weight_pl'"):
        build_head("ARPL", 4, 3, weight_p=0.1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"feat_dim": 0}, "feat_dim must be a positive int"),
        ({"num_classes": 2.0}, "num_classes must be a positive int"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"temperature": -1.0}, "temperature must be a finite number"),
        ({"weight_pl": float("nan")}, "weight_pl must be a finite number"),
        ({"margin_form": "papr"}, "unknown margin_form 'papr'.*did you mean 'paper'"),
        ({"radius_init": "1"}, "radius_init must be a finite number"),
    ],
)
def test_arpl_head_rejects_bad_arguments(kwargs, message):
    arguments = {"feat_dim": 4, "num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        ARPLHead(**arguments)


def test_bad_inputs_are_rejected():
    head = ARPLHead(2, 2)
    with pytest.raises(ValueError, match=r"features must be a tensor of shape \[batch, 2\]"):
        head.logits(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="labels must be a 1-D tensor of 2 class indices"):
        head(X, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="labels must hold integer class indices"):
        head(X, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="unknown entropy form 'Code'.*did you mean 'code'"):
        head.entropy_term(X, form="Code")
