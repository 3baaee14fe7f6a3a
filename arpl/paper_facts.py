"""What each published number of the paper is, beyond its value: where it comes from (this paper's own runs,
quoted from earlier work, a method not implemented here), and the network and metric convention it was computed
with. What each figure draws on is in :mod:`arpl.paper_figures`.

The comparisons with the paper (:func:`arpl.paper.paper_vs_ours`) and the claims page
(:mod:`arpl.pipeline.report.claims`) read these facts to decide whether a number of ours stands beside the paper's like
for like. Sources: the paper's text (Sec. 5, the tables' citations) and the authors' public code
(``docs/paper_vs_code.md``).
"""

from __future__ import annotations

# Methods of the paper's tables that this project does not implement (their rows are quoted from their papers).
NOT_IMPLEMENTED: dict[str, str] = {
    "OpenMax": "OpenMax [17] is not implemented here",
    "G-OpenMax": "G-OpenMax [22] is not implemented here",
    "OSRCI": "OSRCI [38] is not implemented here",
    "CROSR": "CROSR [19] is not implemented here",
    "C2AE": "C2AE [23] is not implemented here",
    "JCL": "JCL [28] (joint confidence loss) is not implemented here",
}

# Datasets of the paper that no loader here reads.
NOT_AVAILABLE: dict[str, str] = {
    "air300": "Air-300, the authors' long-tailed aircraft set, is not public: no loader or profile here",
}

# Rows of methods this project implements whose published numbers are not the paper's own runs.
QUOTED: dict[tuple[str, str], str] = {
    ("table1", "Softmax"): ("quoted from earlier work (OSRCI [38]) under its protocol: Table 2's own Softmax OSCR "
                            "exceeds it (CIFAR10: 83.8 against 67.7), and OSCR <= AUROC for one model"),
    ("table1", "RPL"): "quoted from the RPL paper [8] under its protocol, not rerun with this paper's code",
}

# The network each table was computed with (Sec. 5.2-5.5; the OSR tables: the authors' classifier32).
TABLE_BACKBONES: dict[str, str] = {"table1": "classifier32", "table2": "classifier32", "table3": "resnet34",
                                   "table4": "resnet34", "table5": "resnet34", "table6": "resnet18"}

# Metric -> (the column of ours computed under the convention of the published number, that convention).
# The published numbers come from the authors' evaluation code (their metric_ood and compute_oscr).
CONVENTIONS: dict[str, tuple[str, str]] = {
    "AUROC": ("AUROC_authors", "authors' metric_ood: a tied known/unknown pair counts 0"),
    "OSCR": ("OSCR_authors", "authors' compute_oscr: CCR and FPR paired one sample apart"),
    "TNR": ("TNR_authors", "authors' metric_ood: the operating point nearest to 95% TPR"),
    "DTACC": ("DTACC_authors", "authors' metric_ood: a tied pair counts against"),
    "AUIN": ("AUIN_authors", "authors' metric_ood: trapezoids with padded end points"),
    "AUOUT": ("AUOUT_authors", "authors' metric_ood: trapezoids with padded end points"),
    "ACC": ("ACC", "accuracy: one convention"),
}
DEFINITION_NOTE = "ours: the paper's definitions (a tie counts 1/2 in AUROC; OSCR by Eq. 21-22; AUIN/AUOUT as AP)"


def row_origin(table: str, method: str, dataset: str) -> tuple[str, str] | None:
    """Why a published row cannot be reproduced by any run here: ``("not implemented", why)`` or
    ``("not comparable", why)``; None when a run of the right profile can reproduce it."""
    if method in NOT_IMPLEMENTED:
        return "not implemented", NOT_IMPLEMENTED[method]
    if dataset in NOT_AVAILABLE:
        return "not implemented", NOT_AVAILABLE[dataset]
    if (table, method) in QUOTED:
        return "not comparable", QUOTED[(table, method)]
    return None


def convention(metric: str) -> tuple[str, str]:
    """``(column, description)``: the column of ours computed like the published ``metric``, and how."""
    if metric not in CONVENTIONS:
        raise ValueError(f"no known convention for metric {metric!r}; known: {sorted(CONVENTIONS)}")
    return CONVENTIONS[metric]


def backbone_difference(table: str, backbone: str) -> str:
    """Empty when ``backbone`` is the network of ``table``, else why the numbers are not comparable."""
    expected = TABLE_BACKBONES[table]
    if backbone == expected:
        return ""
    return f"another backbone: {backbone} here, {expected} in the paper's {table.replace('table', 'Table ')}"
