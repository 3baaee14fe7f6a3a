"""Open set recognition evaluation (Sec. 5.2): Tables 1-2 and the curves of Fig. 9."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from arpl import metrics, stats
from arpl.data.openset import OpenSetData
from arpl.evaluate import Predictions
from arpl.atomic import save_table
from arpl.methods import get_method
from arpl.pipeline.params import Params
from arpl.pipeline.runs.images import open_set
from arpl.pipeline.runs import checkpoint_path, device, split_run, trained_runs
from arpl.pipeline.runs.trained import trained_models
from arpl.prediction_cache import cached_predict
from arpl.training.checkpoint import load_model

METRICS = ("ACC", "AUROC", "AUROC_authors", "OSCR", "OSCR_authors", "TNR", "DTACC", "AUIN", "AUOUT")
SUMMARY_COLUMNS = ("ACC", "AUROC", "OSCR", "AUROC_authors", "OSCR_authors")


@dataclass
class TrialPredictions:
    """Predictions of one trained model on one open-set trial."""

    method: str           # display name (ARPL+CS, ...)
    head: str             # the head's method (arpl.methods): Softmax, GCPL, RPL, ARPL or an import path
    split: int
    known: Predictions
    known_labels: np.ndarray
    unknown: Predictions

    def scores(self, score_name: str) -> tuple[np.ndarray, np.ndarray]:
        """Known and unknown scores under ``score_name`` (``own`` resolved for this head)."""
        return self.known.scores(score_name, self.head), self.unknown.scores(score_name, self.head)

    def correct(self) -> np.ndarray:
        """Whether each known test image is classified correctly."""
        return self.known.predicted() == self.known_labels


def predict_trial(checkpoint, data: OpenSetData, method: str, split: int, dev) -> TrialPredictions:
    """Load the checkpoint (checked against the trial's class count) and predict its test images."""
    net, payload = load_model(checkpoint, expected={"num_classes": data.num_known}, device=dev)
    return TrialPredictions(method=method, head=payload["model_spec"]["method"], split=split,
                            known=cached_predict(net, data.test_known.images, dev),
                            known_labels=data.test_known.labels.numpy(),
                            unknown=cached_predict(net, data.test_unknown.images, dev))


def predict_all(params: Params) -> list[TrialPredictions]:
    """Predictions of every trained model on every split it was trained on (:func:`arpl.pipeline.runs.trained_runs`)."""
    dev = device(params)
    trials = []
    for split in params.data.splits:
        data = open_set(params, split)
        for display, stage, name in trained_models(params):
            if split_run(split) in trained_runs(params, stage, name):
                checkpoint = checkpoint_path(stage, name, split_run(split))
                trials.append(predict_trial(checkpoint, data, display, split, dev))
    return trials


def trial_metrics(trial: TrialPredictions, score_name: str) -> dict[str, float]:
    """All metrics of one trial under one score, in percent: the paper's definitions, and AUROC and OSCR also
    as the authors' code computes them (``*_authors``, the convention of the published tables)."""
    known, unknown = trial.scores(score_name)
    correct = trial.correct()
    values = {"ACC": metrics.accuracy(trial.known.predicted(), trial.known_labels),
              "AUROC": metrics.auroc(known, unknown), "AUROC_authors": metrics.auroc_authors(known, unknown),
              "OSCR": metrics.oscr(known, correct, unknown)}
    per_class = trial.known.class_scores(score_name, trial.head), trial.unknown.class_scores(score_name, trial.head)
    if per_class[0] is not None:
        values["OSCR_authors"] = metrics.oscr_authors(*per_class, trial.known_labels)
    values.update({k: v for k, v in metrics.ood_metrics(known, unknown).items() if k != "AUROC"})
    return {key: 100.0 * value for key, value in values.items()}


def per_split_table(trials: list[TrialPredictions], score_names: list[str]) -> pd.DataFrame:
    """One row per method, split and applicable score."""
    rows = []
    for trial in trials:
        applicable = ["own", *get_method(trial.head).scores]
        for score_name in score_names:
            if score_name in applicable:
                rows.append({"method": trial.method, "split": trial.split, "score": score_name,
                             **trial_metrics(trial, score_name)})
    return pd.DataFrame(rows)


def summary_table(per_split: pd.DataFrame, columns=SUMMARY_COLUMNS) -> pd.DataFrame:
    """Mean and sample standard deviation over splits, per method and score (as the paper's tables); NaN where a
    metric does not apply to the score (the authors' OSCR needs per-class scores) and for the std of one split."""
    rows = []
    for (method, score_name), group in per_split.groupby(["method", "score"], sort=False):
        row = {"method": method, "score": score_name, "splits": len(group)}
        for column in columns:
            values = group[column].to_numpy(dtype=float) if column in group else np.array([np.nan])
            mean, std = stats.mean_std(values) if np.all(np.isfinite(values)) else (np.nan, np.nan)
            row[f"{column}_mean"], row[f"{column}_std"] = mean, std
        rows.append(row)
    return pd.DataFrame(rows)


def bootstrap_table(trials: list[TrialPredictions], resamples: int, seed: int = 0) -> pd.DataFrame:
    """95% bootstrap intervals over test samples of AUROC and OSCR (own score), per method and split."""
    rows = []
    for trial in trials:
        known, unknown = trial.scores("own")
        auroc_low, auroc_high = stats.bootstrap_auroc_interval(known, unknown, n_resamples=resamples, seed=seed)
        oscr_low, oscr_high = stats.bootstrap_oscr_interval(known, trial.correct(), unknown, n_resamples=resamples,
                                                            seed=seed)
        rows.append({"method": trial.method, "split": trial.split, "AUROC_low": 100 * auroc_low,
                     "AUROC_high": 100 * auroc_high, "OSCR_low": 100 * oscr_low, "OSCR_high": 100 * oscr_high})
    return pd.DataFrame(rows)


def curves(trials: list[TrialPredictions], split: int) -> tuple[dict, dict, dict]:
    """ROC and OSCR curves (Fig. 9) of every method on ``split``, own score; plus OSCR areas."""
    roc, oscr, areas = {}, {}, {}
    for trial in trials:
        if trial.split != split:
            continue
        known, unknown = trial.scores("own")
        roc[trial.method] = metrics.roc_curve(known, unknown)
        oscr[trial.method] = metrics.oscr_curve(known, trial.correct(), unknown)
        areas[trial.method] = metrics.oscr(known, trial.correct(), unknown)
    return roc, oscr, areas


def save_curves(roc: dict, oscr_curves: dict, folder: str | Path) -> None:
    """Write ``roc.csv`` and ``oscr.csv`` into ``folder``: one row per point of every method's curve (columns
    ``method``, ``point``, then x and y), which ``dvc plots show`` draws as one plot per curve with a line per
    method (template ``.dvc/plots/curves_by_method.json``)."""
    for kind, curves_of_kind, columns in (("roc", roc, ("fpr", "tpr")), ("oscr", oscr_curves, ("fpr", "ccr"))):
        table = pd.concat([pd.DataFrame({"method": method, "point": range(len(x)), columns[0]: x, columns[1]: y})
                           for method, (x, y) in curves_of_kind.items()], ignore_index=True)
        save_table(table, Path(folder) / f"{kind}.csv")


def paper_comparison(summary: pd.DataFrame, dataset: str, backbone: str) -> pd.DataFrame | None:
    """Our own-score AUROC (Table 1) and OSCR (Table 2), mean and std over splits, beside the paper's numbers for
    ``dataset`` (or its nearest published dataset, see :func:`arpl.paper.reference_note`); None when Tables 1-2
    have neither (CIFAR100, DomainNet, ImageNet).

    ``ours_mean`` is computed as the published numbers were (the authors' metric_ood AUROC, their compute_oscr),
    ``ours_definition`` by the paper's definitions; rows quoted from earlier work, and every row when ``dataset``
    is only the nearest published one or the ``backbone`` is not the tables' classifier32, get no difference
    (:func:`arpl.paper.paper_vs_ours`)."""
    from arpl import paper, paper_facts

    published = paper.nearest_paper_dataset(dataset)
    if published not in set(paper.paper_results(table="table1").dataset):
        return None
    own = summary[summary.score == "own"]
    parts = []
    for table, metric in (("table1", "AUROC"), ("table2", "OSCR")):
        column, convention = paper_facts.convention(metric)
        ours = pd.DataFrame({"method": own.method, "dataset": published, "metric": metric,
                             "mean": own[f"{column}_mean"], "std": own[f"{column}_std"],
                             "definition": own[f"{metric}_mean"], "convention": convention})
        reasons = [f"another dataset: {dataset} here, {published} in the paper" if published != dataset else "",
                   paper_facts.backbone_difference(table, backbone)]
        parts.append(paper.paper_vs_ours(ours, table=table, dataset=published, percent=True,
                                         not_comparable="; ".join(reason for reason in reasons if reason)))
    return pd.concat(parts, ignore_index=True)
