"""Closed-set accuracy (Sec. 5.5.1, Table 4): the models trained on all classes of the dataset, classifying
its whole test set. The out-of-distribution stage (:mod:`arpl.ood`) evaluates the same models."""

from __future__ import annotations

import pandas as pd

from arpl import metrics, paper
from arpl.checkpoint import load_model
from arpl.evaluate import predict
from arpl.osr import trained_models
from arpl.profile_data import all_classes
from arpl.runs import ALL_CLASSES, checkpoint_path, device


def all_class_models(params: dict) -> dict[str, tuple[str, object]]:
    """Every all-class model of the pipeline: display name -> (head method, network in eval mode)."""
    _, test = all_classes(params)
    models = {}
    for display, stage, name in trained_models(params):
        net, payload = load_model(checkpoint_path(stage, name, ALL_CLASSES),
                                  expected={"num_classes": len(test.classes)}, device=device(params))
        models[display] = (payload["model_spec"]["method"], net)
    return models


def accuracy_table(params: dict, models: dict) -> pd.DataFrame:
    """Table 4: test accuracy (percent) of every all-class model."""
    _, test = all_classes(params)
    rows = [{"method": display, "ACC": 100 * metrics.accuracy(predict(net, test.images, device=device(params))
                                                             .predicted(), test.labels.numpy())}
            for display, (_, net) in models.items()]
    return pd.DataFrame(rows)


def paper_comparison(table: pd.DataFrame, dataset: str) -> pd.DataFrame | None:
    """Our :func:`accuracy_table` beside the paper's closed-set accuracy of ``dataset`` (Table 4: CIFAR10,
    CIFAR100; Table 6: ImageNet-1K); None when the paper reports none for it."""
    for name in ("table4", "table6"):
        published = paper.paper_results(table=name, metric="ACC")
        if dataset in set(published.dataset):
            ours = pd.DataFrame({"method": table.method, "metric": "ACC", "mean": table.ACC})
            return paper.paper_vs_ours(ours, table=name, dataset=dataset, percent=True)
    return None
