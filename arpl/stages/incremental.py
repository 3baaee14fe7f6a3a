"""Class-incremental extension (Sec. 5.5.4, Fig. 13). The paper gives no code; this is the reading we use.

1. For a random class order, train backbone and head on the first ``base_classes`` classes; freeze both.
2. The head's class vectors are a set of bases: softmax weight rows, GCPL prototypes or ARPL reciprocal
   points. "The logit is the coefficient based on these bases" (Sec. 5.5.4): an image is represented by
   its coefficient vector ``c(x)``, the head's own logits over the base classes.
3. Every class, base or new, is represented by the mean coefficient vector of its training images. New
   classes arrive one at a time, each with its own training images only (nothing is retrained).
4. After each arrival, the test images of all classes seen so far are classified by the nearest class
   mean (cosine similarity) in coefficient space; we report the accuracy over all seen classes.

Better bases keep new classes apart in coefficient space; the curve is averaged over several orders.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import torch

from arpl.data.openset import select_classes
from arpl.pipeline.params import Params
from arpl.pipeline.runs.images import all_classes
from arpl.pipeline.runs import device, order_run, run_path
from arpl.pipeline.runs.trained import train_ahead_unfinished, train_run
from arpl.prediction_cache import cached_predict


def class_orders(num_classes: int, orders: int, seed: int) -> list[list[int]]:
    """``orders`` random permutations of the classes, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(num_classes).tolist() for _ in range(orders)]


def coefficients(net: torch.nn.Module, images: torch.Tensor, dev: torch.device | str) -> np.ndarray:
    """Coefficients of each image on the base vectors: the frozen head's logits [N, base classes]."""
    return cached_predict(net, images, dev, features=False).logits


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def nearest_mean_accuracy(train_coef: np.ndarray, train_labels: np.ndarray, test_coef: np.ndarray,
                          test_labels: np.ndarray, seen: list[int]) -> float:
    """Accuracy over the test images of the ``seen`` classes, each class represented by the mean
    coefficient vector of its training images, prediction by cosine similarity."""
    means = np.stack([train_coef[train_labels == c].mean(0) for c in seen])
    mask = np.isin(test_labels, seen)
    similarity = _unit(test_coef[mask]) @ _unit(means).T
    predicted = np.asarray(seen)[similarity.argmax(1)]
    return float((predicted == test_labels[mask]).mean())


def incremental_curve(train_coef: np.ndarray, train_labels: np.ndarray, test_coef: np.ndarray,
                      test_labels: np.ndarray, order: list[int], base_classes: int) -> list[tuple[int, float]]:
    """Accuracy on all seen classes after the base classes and after each new class of ``order``."""
    return [(seen, nearest_mean_accuracy(train_coef, train_labels, test_coef, test_labels, order[:seen]))
            for seen in range(base_classes, len(order) + 1)]


def orders_of(params: Params) -> list[list[int]]:
    """The ``incremental.orders`` class orders of the profile's dataset."""
    return class_orders(len(all_classes(params)[0].classes), params.incremental.orders, params.run.seed)


def base_model(params: Params, method: str, index: int):
    """Train (or reuse) ``method`` on the base classes of class order ``index``."""
    settings = params.incremental
    base = select_classes(all_classes(params)[0], orders_of(params)[index][:settings.base_classes])
    run = order_run(index)
    result = train_run(params, method, base, run_path("incremental", method, run), run,
                       train_overrides={"epochs": settings.epochs})
    return result.net


def run_incremental(params: Params) -> pd.DataFrame:
    """Fig. 13: one row per method, order and number of seen classes, with the accuracy (percent). The base
    models are trained first, in parallel one-thread processes on the CPU (:mod:`arpl.pipeline.runs.workers`)."""
    settings, dev = params.incremental, device(params)
    train, test = all_classes(params)
    orders = orders_of(params)
    train_ahead_unfinished(params, [partial(base_model, params, method, index) for index in range(len(orders))
                                    for method in settings.methods])
    rows = []
    for index, order in enumerate(orders):
        for method in settings.methods:
            net = base_model(params, method, index)
            train_coef, test_coef = coefficients(net, train.images, dev), coefficients(net, test.images, dev)
            curve = incremental_curve(train_coef, train.labels.numpy(), test_coef, test.labels.numpy(), order,
                                      settings.base_classes)
            rows += [{"method": method, "order": index, "seen": seen, "accuracy": 100 * accuracy}
                     for seen, accuracy in curve]
    return pd.DataFrame(rows)
