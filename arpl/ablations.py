"""Ablations of Sec. 5.4: lambda for RPL, RPL+cosine, RPL+AMC and ARPL (Fig. 8), and the learned margin
and AUROC against the number of known classes (Fig. 11)."""

from __future__ import annotations

import pandas as pd

from arpl import metrics
from arpl.evaluate import predict
from arpl.experiment import device, open_set, run_path, train_run

# The four distance/margin combinations of Fig. 8: (head, distance). RPL's margin pulls d_e to a radius;
# ARPL's is the adversarial margin constraint (AMC, Eq. 12); "cosine" adds the dot product of Eq. 6.
LAMBDA_VARIANTS = {"RPL": ("RPL", "l2"), "RPL+cosine": ("RPL", "l2-dot"),
                   "RPL+AMC": ("ARPL", "l2"), "ARPL": ("ARPL", "l2-dot")}


def _auroc(net, data, dev, score: str) -> tuple[float, float]:
    known, unknown = predict(net, data.test_known.images, device=dev), predict(net, data.test_unknown.images, device=dev)
    accuracy = metrics.accuracy(known.predicted(), data.test_known.labels.numpy())
    return metrics.auroc(known.scores(score), unknown.scores(score)), accuracy


def lambda_ablation(params: dict) -> pd.DataFrame:
    """Fig. 8: AUROC and accuracy (percent) of the four variants for each lambda of ``figures.lambdas``,
    on split ``figures.split``. All four are scored by max distance (their logits are distances)."""
    split, dev = params["figures"]["split"], device(params)
    data = open_set(params, split)
    rows = []
    for name, (head, distance) in LAMBDA_VARIANTS.items():
        for weight in params["figures"]["lambdas"]:
            folder = run_path("ablations", f"{name.replace('+', '_')}", f"lambda{weight:g}")
            net = train_run(params, head, data.train_known, folder, split, f"split{split}",
                            model_overrides={"distance": distance, "weight_pl": float(weight)},
                            train_overrides={"epochs": params["figures"]["epochs"]}).net
            auroc, accuracy = _auroc(net, data, dev, "max_distance")
            rows.append({"variant": name, "lambda": weight, "AUROC": 100 * auroc, "ACC": 100 * accuracy})
    return pd.DataFrame(rows)


def known_count_ablation(params: dict) -> pd.DataFrame:
    """Fig. 11: for each K of ``figures.known_counts`` (random K-class splits), the AUROC of Softmax, GCPL
    and ARPL (own scores) and ARPL's learned margin R."""
    split, dev = params["figures"]["split"], device(params)
    rows = []
    for count in params["figures"]["known_counts"]:
        data = open_set(params, split, num_known=count)
        for method in ("Softmax", "GCPL", "ARPL"):
            net = train_run(params, method, data.train_known, run_path("ablations", method, f"known{count}"),
                            300 + count, f"known{count}", train_overrides={"epochs": params["figures"]["epochs"]}).net
            auroc, accuracy = _auroc(net, data, dev, net.head.own_score)
            margin = net.head.radius if method == "ARPL" else None
            rows.append({"method": method, "known": count, "AUROC": 100 * auroc, "ACC": 100 * accuracy, "R": margin})
    return pd.DataFrame(rows)
