"""Out-of-distribution detection (Sec. 5.3, Table 3; Tables 5-6 on DomainNet and ImageNet) with the models
trained on all classes of the dataset (:func:`arpl.pipeline.trained.all_class_models`)."""

from __future__ import annotations

import pandas as pd

from arpl import metrics, paper
from arpl.evaluate import predict
from arpl.pipeline.profile_data import all_classes, available_ood_sets, load_ood_set
from arpl.pipeline.runs import device


def ood_table(params: dict, models: dict) -> pd.DataFrame:
    """Table 3: TNR at 95% TPR, AUROC, DTACC, AUIN, AUOUT (percent) with the dataset's test set as
    in-distribution and each available set of ``ood.sets`` as out-of-distribution; own score. Also OSCR
    (Eq. 21-22), which Tables 5 and 6 report: it rewards classifying the in-distribution images correctly."""
    _, test = all_classes(params)
    outs = {name: load_ood_set(params, name) for name in available_ood_sets(params)}
    rows = []
    for display, (head, net) in models.items():
        known_predictions = predict(net, test.images, device=device(params))
        known = known_predictions.scores("own", head)
        correct = known_predictions.predicted() == test.labels.numpy()
        for name, images in outs.items():
            unknown = predict(net, images.images, device=device(params)).scores("own", head)
            values = {**metrics.ood_metrics(known, unknown), "OSCR": metrics.oscr(known, correct, unknown)}
            rows.append({"method": display, "out": name, **{k: 100 * v for k, v in values.items()}})
    return pd.DataFrame(rows)



def paper_comparison(table: pd.DataFrame, dataset: str) -> pd.DataFrame | None:
    """Our :func:`ood_table` beside the paper's table for in-distribution ``dataset`` (Table 3: CIFAR10,
    Table 5: DomainNet real-A, Table 6: ImageNet-1K), row by row for every out-set and metric the paper
    reports; None when the paper has no out-of-distribution table for ``dataset``."""
    name = paper.OOD_TABLES.get(dataset, "table3")
    published = paper.paper_results(table=name)
    if dataset not in set(published.dataset):
        return None
    ours = table.assign(out_dataset=table.out.str.removeprefix("domainnet-")).melt(
        id_vars=["method", "out_dataset"], value_vars=[c for c in table.columns if c not in ("method", "out")],
        var_name="metric", value_name="mean")
    reported = set(zip(published.out_dataset, published.metric))
    ours = ours[[key in reported for key in zip(ours.out_dataset, ours.metric)]]
    return paper.paper_vs_ours(ours, table=name, dataset=dataset, percent=True)
