"""Closed-set accuracy (Sec. 5.5.1, Table 4): the models trained on all classes of the dataset, classifying
its whole test set. The out-of-distribution stage (:mod:`arpl.stages.ood`) evaluates the same models."""

from __future__ import annotations

import pandas as pd

from arpl import metrics, paper, paper_facts
from arpl.pipeline.params import Params
from arpl.pipeline.runs.images import all_classes
from arpl.pipeline.runs import device
from arpl.prediction_cache import cached_predict


def accuracy_table(params: Params, models: dict) -> pd.DataFrame:
    """Table 4: test accuracy (percent) of every all-class model."""
    _, test = all_classes(params)
    rows = [{"method": display, "ACC": 100 * metrics.accuracy(
                cached_predict(net, test.images, device(params), features=False).predicted(), test.labels.numpy())}
            for display, (_, net) in models.items()]
    return pd.DataFrame(rows)


def paper_comparison(table: pd.DataFrame, dataset: str, backbone: str) -> pd.DataFrame | None:
    """Our :func:`accuracy_table` beside the paper's closed-set accuracy of ``dataset`` (Table 4: CIFAR10,
    CIFAR100; Table 6: ImageNet-1K); None when the paper reports none for it. With another ``backbone`` than the
    table's network (Table 4: ResNet-34, Table 6: ResNet-18) the rows get no difference, the reason in ``note``."""
    for name in ("table4", "table6"):
        published = paper.paper_results(table=name, metric="ACC")
        if dataset in set(published.dataset):
            ours = pd.DataFrame({"method": table.method, "dataset": dataset, "metric": "ACC", "mean": table.ACC})
            return paper.paper_vs_ours(ours, table=name, dataset=dataset, percent=True,
                                       not_comparable=paper_facts.backbone_difference(name, backbone))
    return None
