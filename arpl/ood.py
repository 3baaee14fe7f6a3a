"""Out-of-distribution detection (Sec. 5.3, Table 3; Tables 5-6 on DomainNet and ImageNet) with the models
trained on all classes of the dataset (:func:`arpl.closed_set.all_class_models`)."""

from __future__ import annotations

import pandas as pd

from arpl import metrics
from arpl.evaluate import predict
from arpl.profile_data import all_classes, available_ood_sets, load_set
from arpl.runs import device


def ood_table(params: dict, models: dict) -> pd.DataFrame:
    """Table 3: TNR at 95% TPR, AUROC, DTACC, AUIN, AUOUT (percent) with the dataset's test set as
    in-distribution and each available set of ``ood.sets`` as out-of-distribution; own score. Also OSCR
    (Eq. 21-22), which Tables 5 and 6 report: it rewards classifying the in-distribution images correctly."""
    _, test = all_classes(params)
    outs = {name: load_set(params, name, train=False) for name in available_ood_sets(params)}
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

