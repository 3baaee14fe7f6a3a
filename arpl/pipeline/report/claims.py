"""The claims page: every number of the paper's Tables 1-6 and each of its figures, one row each, with what this
run says about it.

Each claim gets one status:

* **reproduced here**: this run computed the same thing (dataset, out-of-distribution set, network, metric
  convention); ours stands beside it with the difference and whether that lies within the measured seed spread;
* **not run by this profile**: the profile that runs it is named;
* **not implemented**: a method or dataset this project does not have (Table 1's OpenMax, G-OpenMax, OSRCI, CROSR,
  C2AE; Table 3's JCL; Table 4's Air-300);
* **not comparable**: why (quoted from earlier work under another protocol, another backbone, another dataset or
  other data for a figure, another metric convention, a diagram).

The facts about the paper's rows and figures are in :mod:`arpl.paper_facts`; this module applies them to one run's
params and comparison tables (``runs/*/paper_vs_ours.csv``).
"""

from __future__ import annotations

import math

import pandas as pd

from arpl import paper, paper_facts, paper_figures
from arpl.pipeline.params import Params
from arpl.pipeline.report.pages import dataframe_html
from arpl.pipeline.report.spread import Spread, tolerance

REPRODUCED, NOT_RUN, NOT_IMPLEMENTED, NOT_COMPARABLE = STATUSES = (
    "reproduced here", "not run by this profile", "not implemented", "not comparable")
COLUMNS = ("item", "dataset", "out_dataset", "method", "metric", "paper", "ours", "difference", "seed_spread",
           "status", "detail", "convention", "ours_definition", "shows", "paper_data")
OSR_TABLES = ("table1", "table2")
# In-distribution dataset -> the profile that runs the paper's closed-set accuracy of Table 4.
TABLE4_PROFILES = {"cifar10": "ood-cifar10", "cifar100": "cifar100"}


def figure_requirement(figure: str, params: Params) -> str:
    """What a run with ``params`` lacks, beyond the figure's dataset, to draw ``figure`` as the paper did ("" when
    nothing): the 2-D LeNet++ of the feature-space figures, Fig. 9's out-sets, Fig. 13's network and base classes."""
    if figure in ("Fig. 1", "Fig. 7", "Fig. 12") and params.figures.backbone != "lenetpp":
        backbone = params.figures.backbone
        return f"another backbone: the 2-D feature network is {backbone} here, LeNet++ in the paper"
    if figure == "Fig. 9":
        missing = [name for name in ("kmnist", "svhn", "cifar100") if name not in params.ood.sets]
        return f"ood.sets lacks {', '.join(missing)}, which the paper draws it against" if missing else ""
    if figure == "Fig. 13":
        if params.model.backbone != "resnet34":
            return f"another backbone: {params.model.backbone} here, resnet34 in the paper"
        if params.incremental.base_classes != 50:
            return f"{params.incremental.base_classes} base classes here, 50 in the paper"
    return ""


def table_profile(table: str, dataset: str) -> str | None:
    """The profile that runs the paper's ``table`` for ``dataset`` (None: no profile does)."""
    if table in OSR_TABLES:
        return dataset
    if table == "table3":
        return "ood-cifar10"
    if table == "table4":
        return TABLE4_PROFILES.get(dataset)
    return {"table5": "domainnet", "table6": "imagenet"}[table]


def produces(params: Params, table: str, dataset: str, out_dataset: str | None) -> bool:
    """Whether a run with ``params`` computes the numbers of ``table`` for ``dataset`` (and ``out_dataset``): the
    same in-distribution data, open-set trials for Tables 1-2, the all-class models and that out-set otherwise."""
    data = params.data
    if data.dataset != dataset:
        return False
    if table in OSR_TABLES:
        return bool(data.splits)
    if not params.train.closed_set:
        return False
    if out_dataset is None:
        return True
    sets = params.ood.sets
    return out_dataset in sets or f"domainnet-{out_dataset}" in sets


def _key(table: str, dataset: str, out_dataset, method: str, metric: str) -> tuple:
    """A claim's key; accuracy is the in-distribution test set's, whatever out-set the paper lists it with."""
    missing = out_dataset is None or (isinstance(out_dataset, float) and math.isnan(out_dataset))
    return table, dataset, None if missing or metric == "ACC" else out_dataset, method, metric


def _ours_by_key(comparisons: pd.DataFrame) -> dict[tuple, pd.Series]:
    """The rows of this run's comparison tables, keyed like the paper's rows (the paper's method names)."""
    found = {}
    for _, row in comparisons.iterrows():
        method = paper.paper_method_name(row["method"], row["table"])
        found[_key(row["table"], row["dataset"], row.get("out_dataset"), method, row["metric"])] = row
    return found


def _spread_number(table: str, metric: str, out_dataset: str | None) -> tuple[str, str] | None:
    """Where the seed spread of the number behind a claim is measured: (file, metric) of ``metrics/``, or None."""
    if table in OSR_TABLES:
        return "osr", metric
    if metric == "ACC":
        return "closed_set", "ACC"
    if metric == "AUROC":
        return "ood_auroc", out_dataset
    return None


def _spread_judgement(claim: dict, ours: pd.Series, spread: Spread | None, splits: int) -> str:
    """Whether the difference to the paper lies within the seed-to-seed spread measured for these settings (the
    sigma of our number by its definition: the authors' convention moves with it)."""
    number = _spread_number(claim["item"].replace("Table ", "table"), claim["metric"], claim["out_dataset"])
    sigma = spread.sigma(number[0], ours["method"], number[1]) if spread is not None and number else None
    if sigma is None or math.isnan(sigma):
        return "not measured for these settings"
    limit = tolerance(sigma, splits if claim["item"] in ("Table 1", "Table 2") else 1)
    return f"{'within' if abs(ours['difference']) <= limit else 'outside'} it (±{limit:.1f})"


def table_claim(params: Params, row: pd.Series, ours: pd.Series | None, spread: Spread | None) -> dict:
    """The claim of one row of ``paper_results.csv`` for a run with ``params`` (``ours``: its row of the run's
    comparison tables, None when the run has none)."""
    table, dataset, method, metric = row["table"], row["dataset"], row["method"], row["metric"]
    out = None if pd.isna(row["out_dataset"]) else row["out_dataset"]
    claim = {"item": table.replace("table", "Table "), "dataset": dataset, "out_dataset": out, "method": method,
             "metric": metric, "paper": float(row["mean"]), "convention": paper_facts.convention(metric)[1]}
    origin = paper_facts.row_origin(table, method, dataset)
    runner = table_profile(table, dataset)
    if origin is not None:
        return {**claim, "status": origin[0], "detail": origin[1]}
    if not produces(params, table, dataset, out):
        return {**claim, "status": NOT_RUN, "detail": f"the {runner} profile runs it"}
    if ours is None:
        return {**claim, "status": NOT_RUN, "detail": f"this run has no {method} result; the {runner} profile runs it"}
    claim.update({"ours": ours["ours_mean"], "ours_definition": ours.get("ours_definition", math.nan)})
    if "not comparable: " in str(ours["note"]):  # the reason :func:`arpl.paper.paper_vs_ours` gave
        reason = str(ours["note"]).split("not comparable: ", 1)[1]
        return {**claim, "status": NOT_COMPARABLE, "detail": f"{reason}; the {runner} profile runs it"}
    if pd.isna(ours["ours_mean"]):
        return {**claim, "status": NOT_COMPARABLE,
                "detail": "another metric convention: this score has no per-class scores for the authors' metric"}
    splits = len(params.data.splits)
    detail = "the same data, network and metric convention"
    if table in OSR_TABLES and splits != 5:
        detail += f"; mean over {splits} split(s), the paper's over five"
    return {**claim, "status": REPRODUCED, "difference": ours["difference"], "detail": detail,
            "seed_spread": _spread_judgement(claim, ours, spread, splits)}


def figure_claim(params: Params, figure: pd.Series, stages_run: set[str]) -> dict:
    """The claim of one of the paper's figures (:func:`arpl.paper_figures.paper_figures`) for a run with ``params``
    whose stages ``stages_run`` ran (the others were switched off)."""
    claim = {"item": figure["figure"], "dataset": figure["dataset"] or None, "shows": figure["shows"],
             "paper_data": figure["paper_data"]}
    if not figure["stage"]:
        return {**claim, "status": NOT_COMPARABLE, "detail": "a diagram of the method: nothing to reproduce"}
    where = f"the {figure['profile']} profile draws it"
    if figure["stage"] not in stages_run:
        return {**claim, "status": NOT_RUN, "detail": f"the {figure['stage']} stage is switched off here; {where}"}
    if params.data.dataset != figure["dataset"]:
        return {**claim, "status": NOT_COMPARABLE,
                "detail": f"drawn on {params.data.dataset} here, the paper on {figure['paper_data']}; {where}"}
    reason = figure_requirement(figure["figure"], params) or figure["difference"]
    if reason:
        return {**claim, "status": NOT_COMPARABLE, "detail": reason}
    orders = params.incremental.orders
    budget = f"; {orders} class order(s), the paper five" if figure["figure"] == "Fig. 13" and orders != 5 else ""
    return {**claim, "status": REPRODUCED, "detail": f"drawn by the {figure['stage']} stage{budget}"}


def claims(params: Params, comparisons: pd.DataFrame, stages_run: set[str], spread: Spread | None) -> pd.DataFrame:
    """Every row of ``paper_results.csv`` (Tables 1-6, in its order) and every figure, one claim each (:data:`COLUMNS`).

    ``comparisons`` concatenates the run's ``paper_vs_ours`` tables (columns table, dataset, out_dataset, method,
    metric, ours_mean, ours_definition, difference, note); ``stages_run`` names the stages that ran; ``spread`` is
    the measured seed spread of these settings (None: not measured)."""
    ours = _ours_by_key(comparisons)
    rows = [table_claim(params, row, ours.get(_key(row["table"], row["dataset"], row["out_dataset"], row["method"],
                                                    row["metric"])), spread)
            for _, row in paper.paper_results().iterrows()]
    rows += [figure_claim(params, figure, stages_run) for _, figure in paper_figures.paper_figures().iterrows()]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def status_counts(table: pd.DataFrame) -> pd.DataFrame:
    """How many claims have each status, every status listed (also with 0), and the total."""
    counts = [{"status": status, "claims": int((table.status == status).sum())} for status in STATUSES]
    return pd.DataFrame(counts + [{"status": "total", "claims": len(table)}])


INTRO = (
    "Every number of the paper's Tables 1-6 and each of its figures, one row each, with what this run says about "
    "it. <b>reproduced here</b>: this run computed the same thing; ours stands beside the paper's under the "
    "convention of the published number (the authors' <code>metric_ood</code> AUROC, where a tied known/unknown "
    "pair counts 0, and their <code>compute_oscr</code>), ours by the paper's definitions beside it "
    "(<code>ours_definition</code>), with the difference (ours - paper, points) and whether it lies within the seed "
    "spread measured for these settings. <b>not run by this profile</b>: the profile that runs it is named. "
    "<b>not implemented</b>: a method or dataset this project does not have. <b>not comparable</b>: why. "
    "The same table is <code>metrics/claims.csv</code>.")
TABLE_COLUMNS = ["dataset", "out_dataset", "method", "metric", "paper", "ours", "difference", "seed_spread", "status",
                 "detail", "ours_definition"]
FIGURE_COLUMNS = ["item", "shows", "paper_data", "status", "detail"]


def page_body(table: pd.DataFrame, gaps: pd.DataFrame | None = None) -> str:
    """The claims page's HTML body: the status counts, the two AUROC conventions on this run (``gaps``:
    :func:`arpl.stages.report.convention_gaps`), then one table per paper table and one for the figures."""
    parts = [f"<p>{INTRO}</p>", "<h2>Claims by status</h2>", dataframe_html(status_counts(table))]
    if gaps is not None and not gaps.empty:
        parts += ["<h2>The two AUROC conventions on this run</h2>",
                  "<p>Own score of every model: our AUROC (a tie counts 1/2) and the authors' (a tie counts 0); "
                  "the gap is what tied scores (saturated MSP) cost under their convention, in points.</p>",
                  dataframe_html(gaps, float_format="{:.3f}")]
    for item, rows in table.groupby("item", sort=False):
        if item.startswith("Table"):
            columns = [c for c in TABLE_COLUMNS if rows[c].notna().any()]  # a column nothing here fills: left out
            parts += [f"<h2>{item}</h2>", dataframe_html(rows[columns])]
    figures = table[table.item.str.startswith("Fig")]
    parts += ["<h2>Figures</h2>", dataframe_html(figures[FIGURE_COLUMNS])]
    return "\n".join(parts)
