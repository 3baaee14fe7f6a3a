"""The measured seed-to-seed spread of the published numbers, and what it makes of a difference.

The pipeline publishes one model per split (and one all-class model), so every number in ``metrics/`` carries the
noise of one training run: another seed, or another CPU whose kernels round differently (docs/reproducibility.md),
gives another model. ``benchmarks/seed_spread.py`` measures that noise: it trains the profile's methods on one
split and the all-class models with a few seeds, through the pipeline's own training and evaluation code, and
writes one row per number to :data:`SPREAD_CSV`, tagged with the :func:`params_fingerprint` of the settings that
shape the numbers of its metrics file. The report, the OOD and closed-set pages and ``python -m arpl reproduce`` read
the rows of the current settings only.

From the seeds' standard deviation ``sigma`` of a number (one model), a published number that averages ``n``
models (the splits of ``metrics/osr.json``; 1 otherwise) has standard deviation ``sigma / sqrt(n)``; two runs
that differ only by noise differ by ``sqrt(2) sigma / sqrt(n)`` on average, and by less than
:func:`tolerance` ``= 2 sqrt(2) sigma / sqrt(n)`` in about 95% of cases. The same holds for the difference of
two methods in one run: a difference below ``2 sqrt(sigma_a^2 + sigma_b^2) / sqrt(n)`` is not meaningful.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from arpl.pipeline.params import Params, section_dict

SPREAD_CSV = Path("benchmarks/seed_spread.csv")
COLUMNS = ("profile", "fingerprint", "torch", "cpu_capability", "portable", "split", "seed", "file", "method",
           "metric", "value")
# Keys that do not change what a run computes, or that the measurement itself varies.
_NOT_FINGERPRINTED = {"run": ("seed", "workers", "checkpoint_every", "progress", "device", "data_root"),
                      "data": ("splits",)}
Z95 = 2.0  # about 95% of a normal distribution lies within two standard deviations


def training_settings(params: Params) -> dict:
    """The settings that shape the trained models, and so the open-set and closed-set numbers (``osr``,
    ``closed_set`` rows): the sections ``run``, ``data``, ``model``, ``train`` and ``confusing``, without the seed,
    the splits, the worker count, the progress bars, the data folder and the device."""
    sections = {"run": params.run, "data": params.data, "model": params.model, "train": params.train,
                "confusing": params.confusing}
    return {name: {key: value for key, value in section_dict(section).items()
                   if key not in _NOT_FINGERPRINTED.get(name, ())} for name, section in sections.items()}


def ood_settings(params: Params) -> dict:
    """The settings that shape the out-of-distribution numbers (``ood_auroc`` rows): :func:`training_settings`
    and the ``ood`` section (its sets and the number of noise images)."""
    return {**training_settings(params), "ood": section_dict(params.ood)}


def all_settings(params: Params) -> list[dict]:
    """The settings of every measured file (:func:`training_settings`, :func:`ood_settings`)."""
    return [training_settings(params), ood_settings(params)]


def settings_for(params: Params, file: str) -> dict:
    """The settings that shape the numbers of metrics file ``file`` (``osr``, ``closed_set``, ``ood_auroc``)."""
    return ood_settings(params) if file == "ood_auroc" else training_settings(params)


def settings_fingerprint(settings: dict) -> str:
    """A short hash of ``settings`` (:func:`training_settings` or :func:`ood_settings`), the tag of the rows
    measured under them."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def params_fingerprint(params: Params, file: str = "osr") -> str:
    """The fingerprint of the settings that shape the numbers of metrics file ``file`` (:func:`settings_for`)."""
    return settings_fingerprint(settings_for(params, file))


@dataclass(frozen=True)
class Spread:
    """The seed-to-seed standard deviation of each number of one model, measured under one fingerprint."""

    table: pd.DataFrame  # file, method, metric, sigma, seeds, low, high, split
    fingerprint: str
    split: int
    seeds: int

    def sigma(self, file: str, method: str, metric: str) -> float | None:
        """Standard deviation over seeds of ``metric`` of ``method`` in ``file`` (None: not measured)."""
        match = self.table[(self.table.file == file) & (self.table.method == method) & (self.table.metric == metric)]
        return None if match.empty else float(match.sigma.iloc[0])


def load_spread(settings: list[dict], path: str | Path = SPREAD_CSV) -> Spread | None:
    """The spread measured under any of ``settings`` (:func:`all_settings`, or the settings of the files a stage
    shows), from ``path`` (None: not measured for these settings). A seed measured twice counts once (the last
    row)."""
    path = Path(path)
    if not path.exists():
        return None
    fingerprints = [settings_fingerprint(entry) for entry in settings]
    rows = pd.read_csv(path, dtype={"fingerprint": str})
    rows = rows[rows.fingerprint.isin(fingerprints)]
    if rows.empty:
        return None
    rows = rows.drop_duplicates(["split", "seed", "file", "method", "metric"], keep="last")
    split = int(rows.split.mode().iloc[0])
    rows = rows[rows.split == split]
    table = (rows.groupby(["file", "method", "metric"], sort=False).value
             .agg(sigma=lambda v: float(v.std(ddof=1)) if len(v) > 1 else math.nan, seeds="count", low="min",
                  high="max")
             .reset_index())
    table = table[table.seeds > 1]
    if table.empty:
        return None
    return Spread(table=table, fingerprint=", ".join(sorted(set(rows.fingerprint))), split=split,
                  seeds=int(table.seeds.max()))


def tolerance(sigma: float, models: int = 1) -> float:
    """How far two runs of a number that averages ``models`` models may lie apart by noise alone (95%)."""
    return Z95 * math.sqrt(2.0) * sigma / math.sqrt(models)


def difference_threshold(sigma_a: float, sigma_b: float, models_a: int = 1, models_b: int = 1) -> float:
    """The smallest difference between two methods' numbers (averaging ``models_a`` and ``models_b`` models)
    that noise alone explains in fewer than about 5% of runs."""
    return Z95 * math.sqrt(sigma_a ** 2 / models_a + sigma_b ** 2 / models_b)


def spread_table(spread: Spread, per_split: pd.DataFrame | None = None) -> pd.DataFrame:
    """The front page's spread table, per method: the seed-to-seed standard deviation and range of the open-set
    AUROC on the measured split, the split-to-split standard deviation of the same run (``per_split``:
    ``runs/osr/per_split.csv``, own score) and the seed-to-seed standard deviation of the OOD AUROC per set and
    of the closed-set accuracy (all-class models)."""
    rows = []
    for method in dict.fromkeys(spread.table.method):
        row = {"method": method}
        own = spread.table[(spread.table.method == method)]
        auroc = own[(own.file == "osr") & (own.metric == "AUROC")]
        if not auroc.empty:
            a = auroc.iloc[0]
            row[f"AUROC split {spread.split}: sigma over seeds"] = round(a.sigma, 2)
            row[f"AUROC split {spread.split}: range over seeds"] = f"{a.low:.1f}-{a.high:.1f}"
        if per_split is not None:
            splits = per_split[(per_split.method == method)]
            if len(splits) > 1:
                row["AUROC: sigma over splits"] = round(float(splits.AUROC.std(ddof=1)), 2)
        for r in own[own.file == "ood_auroc"].itertuples():
            row[f"OOD AUROC {r.metric}: sigma"] = round(r.sigma, 2)
        accuracy = own[(own.file == "closed_set") & (own.metric == "ACC")]
        if not accuracy.empty:
            row["closed-set accuracy: sigma"] = round(float(accuracy.sigma.iloc[0]), 2)
        rows.append(row)
    return pd.DataFrame(rows)


def comparable(means: dict[str, tuple[float, int]]) -> dict[str, tuple[float, int]]:
    """The methods of ``means`` (method -> (number, models it averages)) that average the most models: the main
    methods over every split. A method averaging fewer (an ablation trained on split 0 only) stands on other
    splits, so its number is compared with none of theirs."""
    most = max(models for _, models in means.values())
    return {method: value for method, value in means.items() if value[1] == most}


def method_differences(means: dict[str, tuple[float, int]], spread: Spread, file: str = "osr",
                       metric: str = "AUROC") -> pd.DataFrame:
    """Pairwise differences (row minus column) of the :func:`comparable` ``means`` (method -> (published number,
    models it averages)), each marked "(not meaningful)" when smaller than :func:`difference_threshold` of the two
    methods' measured sigmas, or "(no spread)" when a method's sigma was not measured."""
    means = comparable(means)
    methods = list(means)
    table = pd.DataFrame(index=methods, columns=methods, dtype=object)
    for a in methods:
        for b in methods:
            if a == b:
                table.loc[a, b] = ""
                continue
            (value_a, models_a), (value_b, models_b) = means[a], means[b]
            difference = value_a - value_b
            sa, sb = spread.sigma(file, a, metric), spread.sigma(file, b, metric)
            if sa is None or sb is None:
                mark = " (no spread)"
            else:
                meaningful = abs(difference) >= difference_threshold(sa, sb, models_a, models_b)
                mark = "" if meaningful else " (not meaningful)"
            table.loc[a, b] = f"{difference:+.1f}{mark}"
    return table.rename_axis(f"{metric}: row - column")


def versus_best(means: dict[str, tuple[float, int]], spread: Spread | None, file: str = "osr",
                metric: str = "AUROC") -> dict[str, str]:
    """For the headline table, per method: its distance to the best method's ``metric`` (``means``: method ->
    (published number, models it averages)), marked "(not meaningful)" when within :func:`difference_threshold`
    of the two methods' measured sigmas; "best" for the best one, "no measured spread" without a sigma. The best
    is taken among the :func:`comparable` methods; the others are not compared."""
    candidates = comparable(means)
    best = max(candidates, key=lambda method: candidates[method][0])
    column = {}
    for method, (value, models) in means.items():
        if method not in candidates:
            column[method] = f"not compared ({models} split{'s' if models > 1 else ''} only)"
            continue
        if method == best:
            column[method] = "best"
            continue
        sigmas = (spread.sigma(file, method, metric), spread.sigma(file, best, metric)) if spread else (None, None)
        if None in sigmas:
            column[method] = f"{value - means[best][0]:+.1f} (no measured spread)"
            continue
        meaningful = means[best][0] - value >= difference_threshold(*sigmas, models, means[best][1])
        column[method] = f"{value - means[best][0]:+.1f}" + ("" if meaningful else " (not meaningful)")
    return column


def with_spread(table: pd.DataFrame, spread: Spread | None, file: str, value: str,
                by: str | None = None) -> pd.DataFrame:
    """``table`` (one row per method; with ``by``, per method and value of column ``by``) with two columns added:
    the measured seed-to-seed sigma of ``value`` for one model, and its distance to the best method's
    (:func:`versus_best`: "(not meaningful)" within the two methods' spread). ``file`` and the metric name locate
    the sigma among the measured numbers: the OOD table (``file="ood_auroc"``, ``by="out"``) has one per
    out-of-distribution set, the closed-set table (``file="closed_set"``, ``value="ACC"``) one per method."""
    parts = []
    for key, group in table.groupby(by, sort=False) if by else [(value, table)]:
        means = {method: (number, 1) for method, number in zip(group.method, group[value])}
        marks = versus_best(means, spread, file, key)
        parts.append(group.assign(**{
            "sigma over seeds": [spread.sigma(file, m, key) if spread else None for m in group.method],
            "vs best": [marks[m] for m in group.method]}))
    return pd.concat(parts, ignore_index=True)


def spread_note(settings: list[dict], spread: Spread | None) -> str:
    """One paragraph for the front page: what the spread is and how the tables use it, or that it was not
    measured for these ``settings`` (and the command that measures it)."""
    if spread is None:
        fingerprints = ", ".join(settings_fingerprint(entry) for entry in settings)
        return (f"Seed-to-seed spread: not measured for these settings (fingerprint {fingerprints}; "
                f"`python benchmarks/seed_spread.py` measures it into {SPREAD_CSV}). Without it, differences "
                f"between methods and between machines cannot be judged: each number is one trained model.")
    return (f"Seed-to-seed spread measured with {spread.seeds} seeds on split {spread.split} ({SPREAD_CSV}, "
            f"fingerprint {spread.fingerprint}): each published number is one model per split, and another seed "
            f"or another CPU's rounding moves it like the sigmas below. A difference between two methods smaller "
            f"than 2 sqrt(sigma_a^2/n_a + sigma_b^2/n_b) (n = splits averaged) is marked \"not meaningful\".")
