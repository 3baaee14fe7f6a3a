"""Closed-set accuracy (Sec. 5.5.1, Table 4): the models trained on all classes of the dataset, classifying
its whole test set. The out-of-distribution stage (:mod:`arpl.stages.ood`) evaluates the same models."""

from __future__ import annotations

import pandas as pd

from arpl import metrics, paper
from arpl.evaluate import predict
from arpl.pipeline.profile_data import all_classes
from arpl.pipeline.runs import device


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
