"""Ablations of Sec. 5.4: lambda for RPL, RPL+cosine, RPL+AMC and ARPL (Fig. 8), and the learned margin
and AUROC against the number of known classes (Fig. 11)."""

from __future__ import annotations

from functools import partial

import pandas as pd

from arpl import metrics
from arpl.pipeline.params import Params
from arpl.pipeline.runs.images import open_set
from arpl.pipeline.runs import device, known_run, run_path, split_run
from arpl.pipeline.runs.trained import train_ahead_unfinished, train_run
from arpl.prediction_cache import cached_predict

# The four distance/margin combinations of Fig. 8: (head, distance). RPL's margin pulls d_e to a radius;
# ARPL's is the adversarial margin constraint (AMC, Eq. 12); "cosine" adds the dot product of Eq. 6.
LAMBDA_VARIANTS = {"RPL": ("RPL", "l2"), "RPL+cosine": ("RPL", "l2-dot"),
                   "RPL+AMC": ("ARPL", "l2"), "ARPL": ("ARPL", "l2-dot")}


def _auroc(net, data, dev, score: str) -> tuple[float, float]:
    known = cached_predict(net, data.test_known.images, dev)
    unknown = cached_predict(net, data.test_unknown.images, dev)
    accuracy = metrics.accuracy(known.predicted(), data.test_known.labels.numpy())
    method = net.head.name
    return metrics.auroc(known.scores(score, method), unknown.scores(score, method)), accuracy


def lambda_run(params: Params, name: str, weight: float):
    """Train (or reuse) variant ``name`` of :data:`LAMBDA_VARIANTS` with lambda ``weight`` on split
    ``figures.split``; returns the network."""
    head, distance = LAMBDA_VARIANTS[name]
    split = params.figures.split
    folder = run_path("ablations", f"{name.replace('+', '_')}", f"lambda{weight:g}")
    return train_run(params, head, open_set(params, split).train_known, folder, split_run(split),
                     model_overrides={"distance": distance, "weight_pl": float(weight)},
                     train_overrides={"epochs": params.figures.epochs},
                     label=f"{name} lambda={weight:g} {split_run(split)}").net


def train_models(params: Params) -> None:
    """Train every model of both ablations at once, in parallel one-thread processes on the CPU
    (:mod:`arpl.pipeline.runs.workers`); :func:`run_lambda_ablation` and :func:`run_known_count_ablation` then reuse
    them."""
    counts = sorted(params.figures.known_counts, reverse=True)  # the most data first
    train_ahead_unfinished(params, [partial(known_count_run, params, method, count) for count in counts
                                    for method in KNOWN_COUNT_METHODS]
                           + [partial(lambda_run, params, name, weight) for name, weight in lambda_runs(params)])


def lambda_runs(params: Params) -> list[tuple[str, float]]:
    return [(name, weight) for name in LAMBDA_VARIANTS for weight in params.figures.lambdas]


def run_lambda_ablation(params: Params) -> pd.DataFrame:
    """Fig. 8: train (or reuse) the four variants for each lambda of ``figures.lambdas`` on split
    ``figures.split``; their AUROC and accuracy (percent). All four are scored by max distance (their logits
    are distances)."""
    split, dev = params.figures.split, device(params)
    data = open_set(params, split)
    rows = []
    for name, weight in lambda_runs(params):
        auroc, accuracy = _auroc(lambda_run(params, name, weight), data, dev, "max_distance")
        rows.append({"variant": name, "lambda": weight, "AUROC": 100 * auroc, "ACC": 100 * accuracy})
    return pd.DataFrame(rows)


KNOWN_COUNT_METHODS = ("Softmax", "GCPL", "ARPL")


def known_count_run(params: Params, method: str, count: int):
    """Train (or reuse) ``method`` on a random split with ``count`` known classes; returns the network."""
    data = open_set(params, params.figures.split, num_known=count)
    return train_run(params, method, data.train_known, run_path("ablations", method, known_run(count)),
                     known_run(count), train_overrides={"epochs": params.figures.epochs},
                     label=f"{method} K={count}").net


def run_known_count_ablation(params: Params) -> pd.DataFrame:
    """Fig. 11: for each K of ``figures.known_counts`` (random K-class splits), train (or reuse) Softmax, GCPL
    and ARPL; their AUROC (own scores) and ARPL's learned margin R."""
    split, dev = params.figures.split, device(params)
    rows = []
    for count in params.figures.known_counts:
        data = open_set(params, split, num_known=count)
        for method in KNOWN_COUNT_METHODS:
            net = known_count_run(params, method, count)
            auroc, accuracy = _auroc(net, data, dev, "own")
            margin = net.head.radius if hasattr(net.head, "margin_loss") else None
            rows.append({"method": method, "known": count, "AUROC": 100 * auroc, "ACC": 100 * accuracy, "R": margin})
    return pd.DataFrame(rows)
