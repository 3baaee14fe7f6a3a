"""Two-dimensional feature spaces (Fig. 1, 6a, 7, 12): small models whose feature *is* a point in the
plane, so that classes, unknowns and reciprocal points (or prototypes) can be drawn as they are."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from arpl.data.openset import OpenSetData
from arpl.evaluate import resolve_score
from arpl.pipeline.params import Params
from arpl.pipeline.runs.images import open_set
from arpl.pipeline.runs import checkpoint_path, device, known_run, run_path, split_run
from arpl.pipeline.runs.trained import confusing_settings, train_ahead_unfinished, train_run
from arpl.prediction_cache import cached_predict
from arpl.scores import score_label


@dataclass(frozen=True)
class FeatureModel:
    """One model of the feature-space figures: its title, head method, lambda and CS variant."""

    title: str
    method: str
    weight_pl: float | None = None   # None: train.weight_pl
    variant: str | None = None       # "cs" for ARPL+CS
    init: FeatureModel | None = None  # with confusing.init: arpl, the model the variant starts from

    @property
    def folder(self) -> str:
        return self.title.replace(" ", "").replace("(", "_").replace(")", "").replace("=", "").replace("+", "_")


def figure7_models(weight_pl: float) -> list[FeatureModel]:
    """The six panels of Fig. 1 and 7: Softmax, GCPL, RPL and ARPL without the margin, ARPL, ARPL+CS."""
    arpl = FeatureModel(f"ARPL (lambda={weight_pl:g})", "ARPL")
    return [FeatureModel("Softmax", "Softmax"), FeatureModel("GCPL", "GCPL"),
            FeatureModel("RPL (lambda=0)", "RPL", 0.0), FeatureModel("ARPL (lambda=0)", "ARPL", 0.0),
            arpl, FeatureModel("ARPL+CS", "ARPL", variant="cs", init=arpl)]


@dataclass
class FeatureView:
    """Known and unknown test features of a 2-D model, its class vectors and its open-set scores."""

    title: str
    features: np.ndarray          # [N, 2], known then unknown
    labels: np.ndarray            # known class index, -1 for unknown
    points: np.ndarray | None     # [K, 2] reciprocal points or prototypes (softmax: weight rows); None: no bases()
    known_scores: np.ndarray
    unknown_scores: np.ndarray
    score_label: str              # what the scores are (the method's own score), for axis labels
    net: torch.nn.Module

    @property
    def slug(self) -> str:
        """The title as a file-name part: ``ARPL (lambda=0.1)`` -> ``ARPL_lambda0.1``."""
        return self.title.replace(" ", "").replace("=", "").replace("(", "_").replace(")", "").replace("+", "_")

    @property
    def points_label(self) -> str:
        """What the triangles are: softmax weight directions, GCPL prototypes or reciprocal points (the method's
        ``bases_label``)."""
        return self.net.head.bases_label


def train_2d(params: Params, model: FeatureModel, data: OpenSetData, run: str):
    """Train ``model`` with the figure backbone and a 2-D feature on ``data``'s known classes (``run``: see
    :mod:`arpl.pipeline.runs`) for ``figures.epochs``; with ``confusing.init: arpl``, ARPL+CS is instead trained (first)
    and fine-tuned from the 2-D ARPL model, as the ``confusing`` stage does (:func:`confusing_settings`)."""
    settings = params.figures
    model_overrides = {"backbone": settings.backbone, "feat_dim": 2, "width": None}  # model.width is model.backbone's
    if model.weight_pl is not None:
        model_overrides["weight_pl"] = model.weight_pl
    train, train_overrides = data.train_known, {"epochs": settings.epochs}
    if model.init is not None and params.confusing.init == "arpl":
        train_2d(params, model.init, data, run)
        source = checkpoint_path("figures", model.init.folder, run)
        train, train_overrides = confusing_settings(params, train, run, model.variant, source)
    return train_run(params, model.method, train, run_path("figures", model.folder, run), run,
                     variant=model.variant, model_overrides=model_overrides, train_overrides=train_overrides,
                     label=f"{model.title} 2-D {run}").net


def view(net: torch.nn.Module, title: str, data: OpenSetData, dev: torch.device) -> FeatureView:
    """Features, class vectors and scores of a trained 2-D model on ``data``'s test images."""
    known = cached_predict(net, data.test_known.images, dev)
    unknown = cached_predict(net, data.test_unknown.images, dev)
    method = net.head.name
    points = net.head.bases().detach().cpu().numpy() if hasattr(net.head, "bases") else None
    return FeatureView(title=title, features=np.concatenate([known.features, unknown.features]),
                       labels=np.concatenate([data.test_known.labels.numpy(), -np.ones(len(unknown.features), int)]),
                       points=points, known_scores=known.scores("own", method),
                       unknown_scores=unknown.scores("own", method),
                       score_label=score_label(resolve_score("own", method)), net=net)


def figure7_run(params: Params, model: FeatureModel):
    """Train (or reuse) one model of Fig. 1/7 on split ``figures.split``."""
    split = params.figures.split
    return train_2d(params, model, open_set(params, split), split_run(split))


def figure12_run(params: Params, count: int):
    """Train (or reuse) ARPL with ``count`` random known classes (Fig. 12)."""
    data = open_set(params, params.figures.split, num_known=count)
    return train_2d(params, FeatureModel(f"ARPL K={count}", "ARPL"), data, known_run(count))


def train_models(params: Params) -> None:
    """Train every model of Fig. 1, 7 and 12 at once, in parallel one-thread processes on the CPU
    (:mod:`arpl.pipeline.runs.workers`); :func:`figure7_views` and :func:`figure12_views` then reuse them."""
    models = figure7_models(params.train.weight_pl)
    if params.confusing.init == "arpl":  # ARPL+CS trains the model it starts from itself
        models = [model for model in models if model not in {m.init for m in models}]
    runs = [partial(figure7_run, params, model) for model in models[::-1]]  # ARPL+CS first: longest
    train_ahead_unfinished(params, runs + [partial(figure12_run, params, count)
                                           for count in sorted(params.figures.known_counts)[::-1]])


def figure7_views(params: Params) -> list[FeatureView]:
    """Train (or reuse) the six models of Fig. 1/7 on split ``figures.split`` and view them."""
    split, dev = params.figures.split, device(params)
    data = open_set(params, split)
    return [view(figure7_run(params, model), model.title, data, dev)
            for model in figure7_models(params.train.weight_pl)]


def figure12_views(params: Params) -> list[FeatureView]:
    """ARPL with K known classes for each K of ``figures.known_counts`` (Fig. 12; random splits)."""
    split, dev = params.figures.split, device(params)
    return [view(figure12_run(params, count), f"K = {count}", open_set(params, split, num_known=count), dev)
            for count in params.figures.known_counts]


def retrieval_along_line(feature_view: FeatureView, data: OpenSetData, known_class: int = 0,
                         steps: int = 8) -> tuple[list[torch.Tensor], list[float]]:
    """Fig. 6a: walk from the centre of ``known_class`` to its reciprocal point and, at each of ``steps``
    evenly spaced positions, retrieve the test image (known or unknown) of ``data`` whose feature is
    nearest (``feature_view`` was computed on the same test images, known then unknown)."""
    images = torch.cat([data.test_known.images, data.test_unknown.images])
    features, labels = feature_view.features, feature_view.labels
    centre = features[labels == known_class].mean(0)
    point = feature_view.points[known_class]
    positions = np.linspace(0.0, 1.0, steps)
    retrieved = []
    for t in positions:
        target = (1 - t) * centre + t * point
        retrieved.append(images[int(np.argmin(((features - target) ** 2).sum(1)))])
    return retrieved, positions.tolist()
