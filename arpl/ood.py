"""Out-of-distribution detection (Sec. 5.3, Table 3) and closed-set accuracy (Sec. 5.5.1, Table 4), both
with the models trained on all classes of the dataset."""

from __future__ import annotations

import pandas as pd

from arpl import metrics
from arpl.checkpoint import load_model
from arpl.checks import available_ood_sets
from arpl.evaluate import predict
from arpl.experiment import all_classes, device, load_set, run_path
from arpl.osr import trained_models


def all_class_models(params: dict) -> dict[str, tuple[str, object]]:
    """Every all-class model of the pipeline: display name -> (head method, network in eval mode)."""
    _, test = all_classes(params)
    models = {}
    for display, stage, name in trained_models(params):
        net, payload = load_model(run_path(stage, name, "all") / "checkpoint.pt",
                                  expected={"num_classes": len(test.classes)}, device=device(params))
        models[display] = (payload["model_spec"]["method"], net)
    return models


def closed_set_table(params: dict, models: dict) -> pd.DataFrame:
    """Table 4: test accuracy (percent) of every all-class model."""
    _, test = all_classes(params)
    rows = [{"method": display, "ACC": 100 * metrics.accuracy(predict(net, test.images, device=device(params))
                                                             .predicted(), test.labels.numpy())}
            for display, (_, net) in models.items()]
    return pd.DataFrame(rows)


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

