"""The report's front page: headline numbers, the facts they rest on, and the same-work comparison with
the authors' own code (``arpl/anchors_fashion_mnist.csv``) when the anchor profile has been run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd

from arpl import paper
from arpl.atomic import load_json
from arpl.pipeline.params import Params

STAGE_PAGES = [
    ("01_data", "Data and open-set splits", "the trials, their classes and sample images"),
    ("02_train", "Training", "every loss on every split: per-epoch lines, last-epoch metrics, ARPL's margin"),
    ("03_confusing", "Confusing samples (ARPL+CS)", "Algorithm 2 and its ablations; Fig. 4, 6b, 10"),
    ("04_osr", "Open set recognition", "Tables 1-2 with intervals, the paper beside ours, Fig. 9"),
    ("05_ood", "Out-of-distribution detection", "Table 3 on this profile (Table 5 / 6 on DomainNet / ImageNet)"),
    ("06_closed_set", "Closed-set accuracy", "Table 4 on this profile"),
    ("07_incremental", "Class-incremental learning", "Fig. 13 with three kinds of bases"),
    ("08_figures", "Feature spaces", "Fig. 1, 6a, 7, 12"),
    ("09_ablations", "Ablations", "lambda (Fig. 8), margin and AUROC against the number of known classes (Fig. 11)"),
]


def render_stage_pages(notebooks: str | Path = "runs/notebooks", reports: str | Path = "reports") -> list[dict]:
    """Render every executed stage notebook to ``reports/<stem>.html`` (no code), in :data:`STAGE_PAGES` order;
    returns one ``{"title", "file", "summary"}`` per page (a stage switched off in the profile says so)."""
    from arpl.pipeline.notebook import switched_off_by
    from arpl.pipeline.report.pages import render_notebook

    pages = []
    for pattern, title, text in STAGE_PAGES:
        for notebook in sorted(Path(notebooks).glob(f"{pattern}.ipynb")):
            page_title = title if pattern == notebook.stem else f"{title}: {notebook.stem.split('_', 2)[-1]}"
            render_notebook(notebook, Path(reports) / f"{notebook.stem}.html", page_title)
            off = switched_off_by(notebook)
            pages.append({"title": page_title, "file": f"{notebook.stem}.html",
                          "summary": f"switched off in this profile ({off})" if off else text})
    return pages


def headline_table(osr_summary: str | Path = "runs/osr/summary.csv",
                   closed_set: str | Path = "metrics/closed_set.json",
                   ood_table: str | Path = "runs/ood/table3.csv") -> pd.DataFrame:
    """Per method: open-set AUROC and OSCR (own score, mean ± std over splits, percent) and the closed-set
    accuracy of the all-class model. A profile without open-set trials (DomainNet, ImageNet) has no OSR
    summary: its headline is the all-class model's accuracy and AUROC / OSCR against each OOD set."""
    if not Path(osr_summary).exists():
        return ood_headline(ood_table, closed_set)
    summary = pd.read_csv(osr_summary)
    own = summary[summary.score == "own"]
    table = pd.DataFrame({
        "method": own.method,
        "splits": own.splits,
        **{title: [_mean_std(m, s, n) for m, s, n in zip(own[f"{metric}_mean"], own[f"{metric}_std"], own.splits)]
           for title, metric in (("known-class accuracy", "ACC"), ("AUROC", "AUROC"), ("OSCR", "OSCR"))},
    })
    if Path(closed_set).exists():
        accuracy = load_json(closed_set)
        table["closed-set accuracy (all classes)"] = [
            f"{accuracy[m]['ACC']:.1f}" if m in accuracy else "" for m in table.method]
    return table.reset_index(drop=True)


def _mean_std(mean: float, std: float, splits: int) -> str:
    """``mean ± std``; one split has no spread, so only its value."""
    return f"{mean:.1f} ± {std:.1f}" if splits > 1 else f"{mean:.1f}"


def ood_headline(ood_table: str | Path, closed_set: str | Path) -> pd.DataFrame:
    """Per method: closed-set accuracy, then AUROC / OSCR (own score, percent) for each OOD set (Tables 5-6)."""
    table = pd.read_csv(ood_table)
    accuracy = load_json(closed_set)
    rows = []
    for method, group in table.groupby("method", sort=False):
        row = {"method": method, "accuracy": f"{accuracy[method]['ACC']:.1f}" if method in accuracy else ""}
        row.update({f"{r.out} AUROC / OSCR": f"{r.AUROC:.1f} / {r.OSCR:.1f}" for r in group.itertuples()})
        rows.append(row)
    return pd.DataFrame(rows)


def facts(params: Params, splits_csv: str | Path = "runs/data/splits.csv") -> dict[str, str]:
    """What the numbers rest on: profile, data, trials, image counts, network, schedule, device."""
    data, train = params.data, params.train
    splits = pd.read_csv(splits_csv)
    first = splits.iloc[0]
    counts = (f"{first['train images']} training, {first['test known']} known test and {first['test unknown']} "
              f"unknown test images " + ("per trial" if data.splits else "(all classes; unknowns: the OOD sets)"))
    return {
        "profile": params.profile,
        "dataset": f"{data.dataset} at {data.image_size} px, {data.channels} channel(s)",
        "trials (splits)": ", ".join(map(str, data.splits)) or "none (all-class model only)",
        "images": counts,
        "network": f"{params.model.backbone} (feature size {params.model.feat_dim or 'default'})",
        "schedule": f"{train.epochs} epochs, batch {train.batch_size}, {train.optimizer} lr {train.lr}",
        "ARPL": f"lambda {train.weight_pl}, temperature {train.temperature}, margin form {train.margin_form}",
        "device": params.run.device,
        "git commit": _git_commit(),
    }


def quick_warning(params: Params) -> str:
    """The front page's first line for a quick run (``run.quick``, :mod:`arpl.pipeline.params.quick`); empty
    otherwise."""
    if not params.run.quick:
        return ""
    width = params.model.width
    narrow = f", the network {width} channels wide" if width is not None else ""
    return (f"Quick run of profile {params.profile}: {params.train.epochs} epoch(s) on "
            f"{params.data.train_per_class} images per class{narrow}. It shows that every stage runs; its "
            f"numbers mean nothing. `python -m arpl profile {params.profile}` writes the real run.")


def spread_note(osr_per_split: str | Path = "runs/osr/per_split.csv") -> str:
    """How far apart the splits are: the per-split range of AUROC for each method (own score); empty
    without open-set trials."""
    if not Path(osr_per_split).exists():
        return ""
    per_split = pd.read_csv(osr_per_split)
    own = per_split[per_split.score == "own"]
    ranges = own.groupby("method", sort=False).AUROC.agg(["min", "max", "count"])
    ranges = ranges[ranges["count"] > 1]
    if ranges.empty:
        return ""
    parts = [f"{method} {row['min']:.1f}-{row['max']:.1f}" for method, row in ranges.iterrows()]
    return ("Spread between splits (AUROC range, own score): " + "; ".join(parts) + ". The splits differ in "
            "difficulty and every method is trained on the same ones, so a difference between methods is judged "
            "against the seed-to-seed spread of one split, not against this range.")


def own_per_split(osr_per_split: str | Path = "runs/osr/per_split.csv") -> pd.DataFrame | None:
    """The open-set numbers of every split, own score (None without open-set trials)."""
    if not Path(osr_per_split).exists():
        return None
    per_split = pd.read_csv(osr_per_split)
    return per_split[per_split.score == "own"]


def auroc_means(osr_summary: str | Path = "runs/osr/summary.csv") -> dict[str, tuple[float, int]]:
    """Per method: the open-set AUROC averaged over splits (own score) and the number of splits averaged."""
    if not Path(osr_summary).exists():
        return {}
    own = pd.read_csv(osr_summary).query("score == 'own'")
    return {r.method: (float(r.AUROC_mean), int(r.splits)) for r in own.itertuples()}


def is_anchor_profile(params: Params) -> bool:
    """True when ``params`` follow the protocol of the authors'-code runs in ``arpl/anchors_fashion_mnist.csv``
    (Fashion-MNIST, full data, 32 px x 3 channels, classifier32, 40 epochs)."""
    data, train = params.data, params.train
    return (data.dataset == "fashion-mnist" and data.image_size == 32 and data.channels == 3
            and data.train_per_class is None and data.test_per_class is None
            and params.model.backbone == "classifier32" and train.epochs == 40)


ANCHOR_METRICS = ("ACC", "AUROC", "OSCR")


def anchor_comparison(params: Params, osr_per_split: str | Path = "runs/osr/per_split.csv") -> pd.DataFrame | None:
    """Split by split and method (own score, percent): our accuracy, AUROC and OSCR beside what the authors'
    own code scored on the same Fashion-MNIST split (``arpl/anchors_fashion_mnist.csv``: Softmax and ARPL),
    and the difference; None off Fashion-MNIST or without open-set results.

    The anchors' AUROC and OSCR came from the authors' ``metric_ood`` (a tied pair counts against) and
    ``compute_oscr``, so ours are taken under the same conventions (``AUROC_authors``, ``OSCR_authors``) to compare
    like with like; ``AUROC (ties 1/2)`` is our AUROC by its definition, as in the OSR tables."""
    if params.data.dataset != "fashion-mnist" or not Path(osr_per_split).exists():
        return None
    per_split = pd.read_csv(osr_per_split)
    own = per_split[per_split.score == "own"]
    ours = own.drop(columns=["OSCR", "AUROC"]).rename(columns={"OSCR_authors": "OSCR", "AUROC_authors": "AUROC"})
    long = paper.anchors_vs_ours(ours[["method", "split", *ANCHOR_METRICS]])
    rows = []
    for (method, split), group in long.groupby(["method", "split"], sort=False):
        values = group.set_index("metric")
        row = {"method": method, "split": split}
        for metric in ANCHOR_METRICS:
            row.update({metric: values.at[metric, "ours"], f"{metric} anchor": values.at[metric, "anchor"],
                        f"{metric} difference": values.at[metric, "difference"]})
        row["AUROC (ties 1/2)"] = own[(own.method == method) & (own.split == split)].AUROC.iloc[0]
        rows.append(row)
    return pd.DataFrame(rows)


def convention_gaps(osr_per_split: str | Path = "runs/osr/per_split.csv",
                    ood_table: str | Path = "runs/ood/table3.csv") -> pd.DataFrame:
    """How far the two AUROC conventions lie apart on this run's own scores: per method and open-set split or
    out-of-distribution set, our AUROC (a tied known/unknown pair counts 1/2) and the authors' (``metric_ood``: it
    counts 0), and the gap (ours - theirs, points; never negative). Ties come from saturated scores (MSP at 1.0)."""
    parts = []
    if Path(osr_per_split).exists():
        own = pd.read_csv(osr_per_split).query("score == 'own'")
        parts.append(pd.DataFrame({"method": own.method, "on": [f"split {s}" for s in own.split],
                                   "AUROC": own.AUROC, "AUROC_authors": own.AUROC_authors}))
    if Path(ood_table).exists():
        ood = pd.read_csv(ood_table)
        parts.append(pd.DataFrame({"method": ood.method, "on": ood.out, "AUROC": ood.AUROC,
                                   "AUROC_authors": ood.AUROC_authors}))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["method", "on", "AUROC",
                                                                                   "AUROC_authors"])
    gap = (table.AUROC - table.AUROC_authors).round(6).clip(lower=0.0) + 0.0  # float rounding: no -0.00 on the page
    return table.assign(gap=gap)


def convention_note(gaps: pd.DataFrame) -> str:
    """One sentence for the front page: the largest gap between the two AUROC conventions on this run."""
    if gaps.empty:
        return ""
    worst = gaps.loc[gaps.gap.idxmax()]
    rule = ("AUROC conventions: the authors' metric_ood counts a tied known/unknown pair against the method, ours "
            "counts it 1/2; every comparison with the paper or the anchors uses theirs, beside ours (the claims page).")
    if worst.gap == 0.0:
        return f"{rule} On this run they agree: no own score ties a known with an unknown image."
    return (f"{rule} On this run they differ by {gaps.gap.median():.3f} points at the median and at most "
            f"{worst.gap:.3f} ({worst.method}, {worst.on}).")


def anchor_note(params: Params) -> str:
    """What the anchor comparison compares: the same protocol, or this profile's budget against the authors'."""
    if is_anchor_profile(params):
        return ("Same protocol as the anchors (classifier32, full data, 32 px x 3, 40 epochs): a difference is a "
                "difference of implementation (and of seed). AUROC and OSCR follow the anchors' conventions (the "
                "authors' metric_ood, where a tied pair counts against, and compute_oscr); AUROC (ties 1/2) is ours.")
    data, train = params.data, params.train
    return (f"Anchors: the authors' code with their full protocol (classifier32, all images, 32 px x 3, 40 epochs). "
            f"Ours: this profile's budget ({params.model.backbone} network, "
            f"{data.train_per_class or 'all'} training images per class, {train.epochs} epochs). "
            f"AUROC and OSCR here follow the anchors' conventions (the authors' metric_ood, where a tied pair counts "
            f"against, and compute_oscr); AUROC (ties 1/2) is ours by its definition.")


COMPARISON_FILES = ("runs/osr/paper_vs_ours.csv", "runs/ood/paper_vs_ours.csv", "runs/closed_set/paper_vs_ours.csv")


def comparisons(files=COMPARISON_FILES) -> pd.DataFrame:
    """This run's tables of ours beside the paper (those the run wrote), one frame: the claims page's numbers."""
    frames = [pd.read_csv(path, dtype={"out_dataset": "object"}) for path in files if Path(path).exists()]
    columns = ["table", "dataset", "out_dataset", "method", "metric", "ours_mean", "ours_definition", "difference",
               "note"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def stages_run(notebooks: str | Path = "runs/notebooks") -> set[str]:
    """The stages whose executed notebook ran (not switched off in the profile), by stage name (``osr``, ...)."""
    from arpl.pipeline.notebook import switched_off_by

    return {path.stem.split("_", 1)[1] for pattern, _, _ in STAGE_PAGES
            for path in Path(notebooks).glob(f"{pattern}.ipynb") if not switched_off_by(path)}


def stage_times(notebooks: str | Path = "runs/notebooks") -> pd.DataFrame:
    """Wall time of each executed stage notebook (papermill's record of its last run), in pipeline order,
    with a last row for the total; switched-off stages are listed with 0 s."""
    rows = []
    for pattern, title, _ in STAGE_PAGES:
        for path in sorted(Path(notebooks).glob(f"{pattern}.ipynb")):
            seconds = json.loads(path.read_text()).get("metadata", {}).get("papermill", {}).get("duration") or 0.0
            rows.append({"stage": path.stem, "seconds": float(seconds)})
    rows.append({"stage": "total", "seconds": sum(row["seconds"] for row in rows)})
    table = pd.DataFrame(rows, columns=["stage", "seconds"])
    return table.assign(seconds=table.seconds.round().astype(int))


# Files in git that `dvc repro` itself rewrites: a run does not make the code "uncommitted".
PIPELINE_RECORDS = (":(exclude)dvc.lock", ":(exclude)metrics")


def _git_commit() -> str:
    try:
        result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *PIPELINE_RECORDS],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return result.stdout.strip() + (" (with uncommitted changes)" if dirty else "") or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
