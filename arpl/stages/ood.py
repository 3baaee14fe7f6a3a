"""Out-of-distribution detection (Sec. 5.3, Table 3; Tables 5-6 on DomainNet and ImageNet) with the models
trained on all classes of the dataset (:func:`arpl.pipeline.runs.trained.all_class_models`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from arpl import metrics, paper, paper_facts
from arpl.data import dataset_source
from arpl.data.imageset import ImageSet
from arpl.data.openset import per_class_subset
from arpl.evaluate import Predictions
from arpl.pipeline.params import Params
from arpl.pipeline.runs.images import all_classes, available_ood_sets, load_ood_set
from arpl.pipeline.runs import device
from arpl.prediction_cache import cached_predict


@dataclass
class ModelPredictions:
    """One all-class model's predictions on the in-distribution test set and on each out-of-distribution set."""

    method: str                       # display name (ARPL+CS, ...)
    head: str                         # the head's method, for its own score
    known: Predictions
    labels: np.ndarray                # the in-distribution test labels
    unknown: dict[str, Predictions]   # out-of-distribution set name -> predictions

    def scores(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Own-score known scores, which known images are classified correctly, and ``name``'s scores."""
        correct = self.known.predicted() == self.labels
        return self.known.scores("own", self.head), correct, self.unknown[name].scores("own", self.head)


def out_sets(params: Params) -> dict[str, ImageSet]:
    """Each available set of ``ood.sets`` (test part): ``ood.noise_count`` images of a generated one, and
    ``ood.test_per_class`` images of each class of any other (a stratified, seeded subset; null: all of them)."""
    sets = {}
    for name in available_ood_sets(params):
        images = load_ood_set(params, name)
        if not dataset_source(name).synthetic:
            images = per_class_subset(images, params.ood.test_per_class, seed=params.run.seed)
        sets[name] = images
    return sets


def predict_sets(params: Params, models: dict) -> list[ModelPredictions]:
    """Predictions of every all-class model (display name -> (head, network)) on the dataset's test set and on
    each available set of ``ood.sets``: logits only (the tables need no features, and DomainNet's sets are
    large), cached (:mod:`arpl.prediction_cache`)."""
    _, test = all_classes(params)
    outs = out_sets(params)
    dev = device(params)
    predictions = []
    for display, (head, net) in models.items():
        unknown = {name: cached_predict(net, images.images, dev, features=False) for name, images in outs.items()}
        known = cached_predict(net, test.images, dev, features=False)
        predictions.append(ModelPredictions(display, head, known, test.labels.numpy(), unknown))
    return predictions


def ood_table(predictions: list[ModelPredictions]) -> pd.DataFrame:
    """Table 3: TNR at 95% TPR, AUROC, DTACC, AUIN, AUOUT (percent) with the dataset's test set as
    in-distribution and each available set of ``ood.sets`` as out-of-distribution; own score. Also OSCR
    (Eq. 21-22), which Tables 5 and 6 report: it rewards classifying the in-distribution images correctly. Each
    metric also as the authors' code computes it (``*_authors``: their metric_ood and compute_oscr), the
    convention of the published tables."""
    return pd.DataFrame([{"method": model.method, "out": name, **out_metrics(model, name)}
                         for model in predictions for name in model.unknown])


def out_metrics(model: ModelPredictions, name: str) -> dict[str, float]:
    """The metrics of one model against the out-of-distribution set ``name``, own score, percent: ours, then the
    authors'."""
    known, correct, unknown = model.scores(name)
    values = {**metrics.ood_metrics(known, unknown), "OSCR": metrics.oscr(known, correct, unknown)}
    values.update({f"{k}_authors": v for k, v in metrics.authors_ood_metrics(known, unknown).items()})
    per_class = model.known.class_scores("own", model.head), model.unknown[name].class_scores("own", model.head)
    if per_class[0] is not None:
        values["OSCR_authors"] = metrics.oscr_authors(*per_class, model.labels)
    return {key: 100 * value for key, value in values.items()}


def fig9_curves(predictions: list[ModelPredictions]) -> tuple[dict, dict, dict]:
    """Fig. 9: ROC and OSCR curves of every all-class model against each out-of-distribution set (the paper:
    MNIST in; KMNIST, SVHN and CIFAR100 out), own score; plus the OSCR areas. Nested: set -> method -> value."""
    roc, oscr, areas = {}, {}, {}
    for model in predictions:
        for name in model.unknown:
            known, correct, unknown = model.scores(name)
            roc.setdefault(name, {})[model.method] = metrics.roc_curve(known, unknown)
            oscr.setdefault(name, {})[model.method] = metrics.oscr_curve(known, correct, unknown)
            areas.setdefault(name, {})[model.method] = metrics.oscr(known, correct, unknown)
    return roc, oscr, areas


def paper_comparison(table: pd.DataFrame, dataset: str, backbone: str) -> pd.DataFrame | None:
    """Our :func:`ood_table` beside the paper's table for in-distribution ``dataset`` (Table 3: CIFAR10,
    Table 5: DomainNet real-A, Table 6: ImageNet-1K), row by row for every out-set and metric the paper
    reports; None when the paper has no out-of-distribution table for ``dataset``.

    ``ours_mean`` is computed as the published numbers were (the authors' metric_ood and compute_oscr),
    ``ours_definition`` by the paper's definitions; with another ``backbone`` than the table's network the rows
    get no difference, the reason in ``note``."""
    name = paper.OOD_TABLES.get(dataset, "table3")
    published = paper.paper_results(table=name)
    if dataset not in set(published.dataset):
        return None
    renamed = table.assign(out_dataset=table.out.str.removeprefix("domainnet-"))
    reported = set(zip(published.out_dataset, published.metric))
    metrics_here = [metric for metric in dict.fromkeys(published.metric) if metric in table.columns]  # not ACC
    rows = []
    for row in renamed.to_dict("records"):
        for metric in metrics_here:
            if (row["out_dataset"], metric) in reported:
                column, convention = paper_facts.convention(metric)
                rows.append({"method": row["method"], "dataset": dataset, "out_dataset": row["out_dataset"],
                             "metric": metric, "mean": row.get(column, float("nan")), "definition": row[metric],
                             "convention": convention})
    return paper.paper_vs_ours(pd.DataFrame(rows), table=name, dataset=dataset, percent=True,
                               not_comparable=paper_facts.backbone_difference(name, backbone))
