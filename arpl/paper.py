"""The paper's published numbers and the authors'-code anchors, as data, and their comparison with ours.

Two reference sources ship inside the package (never read from outside it at run time):

- ``paper_results.csv``: Tables 1-6 of the paper (Chen et al., TPAMI), one row per
  (table, dataset, out-of-distribution set, method, metric), mean and std in percent.
- ``anchors_fashion_mnist.csv``: what the authors' public ARPL code scored on Fashion-MNIST
  (classifier32, 40 epochs, their test() and metric functions), split by split, in percent.

Fashion-MNIST, the default profile's dataset, is not in the paper: the anchors are its target and
the paper's MNIST numbers are only the nearest published reference (see :func:`reference_note`).
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import pandas as pd

from arpl.paper_facts import row_origin

PAPER_RESULTS_FILE = "paper_results.csv"
ANCHORS_FILE = "anchors_fashion_mnist.csv"

PAPER_COLUMNS = ("table", "task", "dataset", "out_dataset", "method", "metric", "mean", "std")
ANCHOR_METRICS = ("ACC", "AUROC", "OSCR", "TNR", "DTACC", "AUIN", "AUOUT")
COMPARISON_COLUMNS = ("method", "metric", "paper_mean", "paper_std", "ours_mean", "ours_std", "difference", "note")
OPTIONAL_COLUMNS = ("definition", "convention")  # of ours: our definition's value, the convention of ``mean``
ANCHOR_COMPARISON_COLUMNS = ("method", "split", "metric", "anchor", "ours", "difference", "note")

# Our method name -> the paper's name for it, where a table names it differently.
METHOD_ALIASES: dict[str, dict[str, str]] = {"table3": {"Softmax": "Cross Entropy"}}

# Datasets of this project that the paper does not report -> the nearest dataset it does report.
NEAREST_PAPER_DATASET: dict[str, str] = {"fashion-mnist": "mnist", "kmnist": "mnist"}
ANCHOR_DATASET = "fashion-mnist"

FASHION_MNIST_NOTE = (
    "Fashion-MNIST, this profile's dataset, is not in the paper. The paper's MNIST row is shown only "
    "as the nearest published reference, not as a target: Fashion-MNIST is a harder open-set task "
    "(e.g. shirt, pullover and coat look alike), so lower scores than on MNIST are expected. The "
    "same-work target is the anchor table: what the authors' own ARPL code scored on Fashion-MNIST "
    "with the authors' MNIST splits, classifier32, 40 epochs and their metric functions, split by "
    "split. A gap to the anchors beyond the run-to-run spread is a difference of implementation or "
    "of budget (fewer epochs, a smaller network or subset), which the facts on each page state."
)


def _read_packaged_csv(name: str) -> pd.DataFrame:
    with resources.files("arpl").joinpath(name).open("r", encoding="utf-8") as stream:
        return pd.read_csv(stream, dtype={"out_dataset": "object", "known": "object"})


@lru_cache(maxsize=1)
def _paper_table() -> pd.DataFrame:
    frame = _read_packaged_csv(PAPER_RESULTS_FILE)
    frame["out_dataset"] = frame["out_dataset"].where(frame["out_dataset"].notna(), None)
    return frame


@lru_cache(maxsize=1)
def _anchor_table() -> pd.DataFrame:
    return _read_packaged_csv(ANCHORS_FILE)


def table_name(table: str | int) -> str:
    """Normalise ``1``, ``"1"``, ``"Table 1"`` or ``"table1"`` to the CSV's ``"table1"``."""
    name = str(table).strip().lower().replace(" ", "")
    if not name.startswith("table"):
        name = f"table{name}"
    known = sorted(_paper_table()["table"].unique())
    if name not in known:
        raise ValueError(f"Unknown paper table {table!r}; use one of {known} (or its number).")
    return name


def _require_choice(name: str, value: str, choices) -> None:
    choices = sorted(set(choices))
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not in the paper's results for this selection; use one of {choices}.")


def paper_results(table: str | int | None = None, dataset: str | None = None,
                  metric: str | None = None) -> pd.DataFrame:
    """The paper's published results (Tables 1-6, percent), filtered by table, dataset and metric.

    Columns: table, task, dataset, out_dataset (None unless an OOD table), method, metric, mean, std
    (NaN where the paper gives no std). ``None`` leaves a filter open; a value the paper does not
    have raises ValueError listing the available ones.
    """
    frame = _paper_table()
    if table is not None:
        frame = frame[frame["table"] == table_name(table)]
    if dataset is not None:
        _require_choice("dataset", dataset, frame["dataset"])
        frame = frame[frame["dataset"] == dataset]
    if metric is not None:
        _require_choice("metric", metric, frame["metric"])
        frame = frame[frame["metric"] == metric]
    return frame.reset_index(drop=True).copy()


OOD_TABLES = {"domainnet-real-A": "table5", "imagenet-1k": "table6"}


def ood_reference(dataset: str) -> pd.DataFrame:
    """The paper's out-of-distribution table for in-distribution ``dataset`` (Table 5 for DomainNet real-A,
    Table 6 for ImageNet-1K, else Table 3), methods by rows and (out-set, metric) by columns."""
    table = OOD_TABLES.get(dataset, "table3")
    return paper_results(table=table).pivot_table(index="method", columns=["out_dataset", "metric"], values="mean",
                                                  sort=False)


def paper_method_name(method: str, table: str | int) -> str:
    """The paper's name for our ``method`` in ``table`` (our Softmax is "Cross Entropy" in Table 3)."""
    return METHOD_ALIASES.get(table_name(table), {}).get(method, method)


def nearest_paper_dataset(dataset: str) -> str | None:
    """The paper's dataset to show next to ``dataset``: itself if the paper reports it, else the nearest one."""
    if dataset in set(_paper_table()["dataset"]):
        return dataset
    return NEAREST_PAPER_DATASET.get(dataset)


def reference_note(dataset: str) -> str:
    """What the published numbers mean for ``dataset``: a target, a nearest reference, or nothing."""
    if dataset == ANCHOR_DATASET:
        return FASHION_MNIST_NOTE
    paper = _paper_table()
    tables = sorted(paper.loc[paper["dataset"] == dataset, "table"].unique())
    if tables:
        listed = ", ".join(name.replace("table", "Table ") for name in tables)
        if set(tables) <= set(OOD_TABLES.values()):
            return (f"{dataset} is in the paper ({listed}): the published numbers are the target. They come "
                    "from one training run per method, without a spread; compare with our epochs, network "
                    "and the schedule in the facts in mind.")
        return (f"{dataset} is in the paper ({listed}): the published numbers are the target. Tables 1-2 "
                "give mean ± std over five known/unknown splits; compare with our number of splits, epochs "
                "and network in mind.")
    nearest = NEAREST_PAPER_DATASET.get(dataset)
    if nearest is not None:
        return (f"{dataset} is not in the paper. The paper's {nearest} results are shown only as the nearest "
                "published reference, not as a target; no authors'-code anchors exist for it.")
    return f"{dataset} is not in the paper and has no authors'-code anchors: there is no published reference."


def _require_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.")
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}; it has {list(frame.columns)}.")


def _require_percent(values: pd.Series, what: str) -> None:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if len(numbers) and numbers.abs().max() <= 1.0 and numbers.abs().max() > 0.0:
        raise ValueError(f"{what} are all <= 1: they look like fractions; multiply by 100 (the paper reports percent).")


def _text_or_none(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _paper_entry(paper: pd.DataFrame, dataset: str, out_dataset: str | None, method: str,
                 metric: str) -> pd.Series | None:
    rows = paper[(paper["dataset"] == dataset) & (paper["method"] == method) & (paper["metric"] == metric)]
    if out_dataset is not None:
        rows = rows[rows["out_dataset"] == out_dataset]
    if len(rows) > 1:
        choices = sorted(rows["out_dataset"].dropna().unique())
        raise ValueError(f"The paper has {len(rows)} {method} {metric} entries for {dataset} (out sets {choices}); "
                         "pass out_dataset (or an out_dataset column) to choose one.")
    return None if rows.empty else rows.iloc[0]


def _resolve_dataset(paper: pd.DataFrame, dataset: str | None, table: str) -> str:
    datasets = sorted(paper["dataset"].unique())
    if dataset is None:
        if len(datasets) != 1:
            raise ValueError(f"{table} covers datasets {datasets}; pass dataset= (or a dataset column).")
        return datasets[0]
    if dataset not in datasets:
        raise ValueError(f"{table} has no dataset {dataset!r}; use one of {datasets} "
                         f"(nearest_paper_dataset() maps datasets the paper lacks).")
    return dataset


def paper_vs_ours(ours: pd.DataFrame, table: str | int, dataset: str | None = None,
                  out_dataset: str | None = None, percent: bool = False, not_comparable: str = "") -> pd.DataFrame:
    """Put our results beside the paper's ``table`` row by row; ``difference`` = ours - paper (percent).

    ``ours`` has columns method, metric, mean (percent), optionally std, dataset and out_dataset (per-row
    values override the ``dataset``/``out_dataset`` arguments), and optionally ``definition`` (the same number by
    our definitions, when ``mean`` is computed under the published number's convention) and ``convention`` (which
    convention ``mean`` follows); those two come out as ``ours_definition`` and ``convention``. Method names
    follow the paper's strings, except that our "Softmax" is the paper's "Cross Entropy" in Table 3. Our rows the
    paper has no entry for are kept with NaN paper values and a ``note`` saying so. A row the paper quotes from
    earlier work (:func:`arpl.paper_facts.row_origin`), and every row when ``not_comparable`` gives a reason (such
    as another backbone), keeps both numbers but no difference, the reason in ``note``. Values that are all <= 1
    are refused as fractions unless ``percent`` says they are percentages.
    """
    _require_columns(ours, ("method", "metric", "mean"), "ours")
    if not percent:  # the pipeline's own tables are percent by construction, and may all be <= 1 % (quick runs)
        _require_percent(ours["mean"], "ours['mean'] values")
    name = table_name(table)
    paper = paper_results(name)
    per_row_keys = [column for column in ("dataset", "out_dataset") if column in ours.columns]
    records = [_compare_with_paper(paper, name, row, dataset, out_dataset, per_row_keys, not_comparable)
               for _, row in ours.iterrows()]
    optional = [f"ours_{c}" if c == "definition" else c for c in OPTIONAL_COLUMNS if c in ours.columns]
    columns = ["table", "method", "metric", *per_row_keys, *COMPARISON_COLUMNS[2:-1], *optional, "note"]
    return pd.DataFrame.from_records(records, columns=columns)


def _compare_with_paper(paper: pd.DataFrame, table: str, row: pd.Series, dataset: str | None,
                        out_dataset: str | None, per_row_keys: list[str], not_comparable: str) -> dict:
    row_dataset = _resolve_dataset(paper, _text_or_none(row.get("dataset")) or dataset, table)
    row_out = _text_or_none(row.get("out_dataset")) or out_dataset
    method, metric = str(row["method"]), str(row["metric"])
    paper_method = paper_method_name(method, table)
    entry = _paper_entry(paper, row_dataset, row_out, paper_method, metric)
    ours_mean = float(row["mean"])
    ours_std = float(row["std"]) if "std" in row.index and pd.notna(row["std"]) else math.nan
    difference = math.nan
    if entry is None:
        paper_mean = paper_std = math.nan
        note = f"no {paper_method} {metric} entry in the paper's {table.replace('table', 'Table ')} for {row_dataset}"
    else:
        paper_mean = float(entry["mean"])
        paper_std = float(entry["std"]) if pd.notna(entry["std"]) else math.nan
        origin = row_origin(table, paper_method, row_dataset)
        reasons = [f"paper: {paper_method}" if paper_method != method else "",
                   f"not comparable: {origin[1]}" if origin else "",
                   f"not comparable: {not_comparable}" if not_comparable else ""]
        note = "; ".join(reason for reason in reasons if reason)
        if not origin and not not_comparable:
            difference = ours_mean - paper_mean
    record = {"table": table, "method": method, "metric": metric, **{key: row[key] for key in per_row_keys}}
    record.update(paper_mean=paper_mean, paper_std=paper_std, ours_mean=ours_mean, ours_std=ours_std,
                  difference=difference, note=note)
    if "definition" in row.index:
        record["ours_definition"] = float(row["definition"]) if pd.notna(row["definition"]) else math.nan
    if "convention" in row.index:
        record["convention"] = row["convention"]
    return record


def anchors() -> pd.DataFrame:
    """The authors' own ARPL code on Fashion-MNIST, one row per (method, split), metrics in percent.

    Columns: dataset, method, split, known (space-separated known classes), epochs, and the metrics
    ACC, AUROC, OSCR (as their compute_oscr() gives it), TNR, DTACC, AUIN, AUOUT.
    """
    return _anchor_table().copy()


def anchors_vs_ours(ours_per_split: pd.DataFrame) -> pd.DataFrame:
    """Compare our per-split results with the authors'-code anchors, split by split (long format).

    ``ours_per_split`` has columns method, split and any of the anchor metrics (ACC, AUROC, OSCR, TNR,
    DTACC, AUIN, AUOUT) in percent, optionally epochs. Returns columns method, split, metric, anchor,
    ours, difference (ours - anchor) and note; our rows without an anchor keep NaN anchor values.
    """
    _require_columns(ours_per_split, ("method", "split"), "ours_per_split")
    metrics = [metric for metric in ANCHOR_METRICS if metric in ours_per_split.columns]
    if not metrics:
        raise ValueError(f"ours_per_split has none of the anchor metrics {list(ANCHOR_METRICS)}; "
                         f"its columns are {list(ours_per_split.columns)}.")
    _require_percent(ours_per_split[metrics].stack(), "ours_per_split metric values")
    table = _anchor_table()
    records = []
    for _, row in ours_per_split.iterrows():
        method, split = str(row["method"]), int(row["split"])
        match = table[(table["method"] == method) & (table["split"] == split)]
        anchor = None if match.empty else match.iloc[0]
        note = _anchor_note(anchor, row, method, split)
        for metric in metrics:
            ours_value = float(row[metric]) if pd.notna(row[metric]) else math.nan
            anchor_value = math.nan if anchor is None else float(anchor[metric])
            records.append({"method": method, "split": split, "metric": metric, "anchor": anchor_value,
                            "ours": ours_value, "difference": ours_value - anchor_value, "note": note})
    return pd.DataFrame.from_records(records, columns=list(ANCHOR_COMPARISON_COLUMNS))


def _anchor_note(anchor: pd.Series | None, ours: pd.Series, method: str, split: int) -> str:
    if anchor is None:
        return f"the authors' code was not run for {method} on split {split}"
    if "epochs" in ours.index and pd.notna(ours["epochs"]) and int(ours["epochs"]) != int(anchor["epochs"]):
        return f"anchor trained {int(anchor['epochs'])} epochs, ours {int(ours['epochs'])}"
    return ""
