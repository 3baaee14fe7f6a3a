"""``python -m arpl reproduce``: a finished run's ``metrics/*.json`` against a committed baseline, number by number.

Each number is *identical* to the baseline's, *within the measured spread* (it moved by less than
:func:`arpl.pipeline.report.spread.tolerance` of its seed-to-seed sigma, measured by ``benchmarks/seed_spread.py``
for these
settings: what another CPU's rounding or another seed moves it by), or *outside it*. A number without a
measured sigma (the spread was not measured for this profile, or not for that number) that moved is
*moved (no measured spread)*. The baseline is read at git revision REV by ``dvc.api.DVCFileSystem`` (default
``HEAD``: the committed baseline of the default profile).
"""

from __future__ import annotations

import json
import math
from pathlib import Path, PurePosixPath

import pandas as pd
from dvc.api import DVCFileSystem
from dvc.exceptions import DvcException

from arpl.pipeline.report.spread import Spread, tolerance

IDENTICAL, WITHIN, OUTSIDE, UNMEASURED = ("identical", "within the measured spread", "outside it",
                                          "moved (no measured spread)")
MISSING = "missing in one of the two"
COUNT_KEYS = ("splits",)  # how many models a number of osr.json averages: compared, never a metric


def committed_metrics(rev: str = "HEAD", folder: str = "metrics", repo: str | Path = ".") -> dict[str, dict]:
    """The metric files of ``folder`` at git revision ``rev`` of ``repo``, read through DVC's file system of that
    revision (a file tracked by git or by DVC alike): file stem -> parsed JSON."""
    try:
        revision = DVCFileSystem(str(repo), rev=rev)
        files = {PurePosixPath(path).stem: json.loads(revision.read_text(path))
                 for path in sorted(revision.glob(f"{folder}/*.json"))}
    except DvcException as error:  # an unknown revision, or no git repository
        raise ValueError(f"baseline {rev!r}: {error}") from error
    if not files:
        raise FileNotFoundError(f"revision {rev!r} has no metric files in {folder}/")
    return files


def current_metrics(folder: str | Path = "metrics") -> dict[str, dict]:
    """The metric files of a finished run in ``folder``: file stem -> parsed JSON."""
    files = {path.stem: json.loads(path.read_text()) for path in sorted(Path(folder).glob("*.json"))}
    if not files:
        raise FileNotFoundError(f"{folder}/ holds no metric files; run `dvc repro` first")
    return files


def numbers(tree: dict) -> dict[tuple[str, str], float]:
    """``{method: {metric: value}}`` -> ``{(method, metric): value}`` (the layout of every metric file)."""
    return {(method, metric): value for method, values in tree.items() if isinstance(values, dict)
            for metric, value in values.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}


def compare(current: dict[str, dict], baseline: dict[str, dict], spread: Spread | None) -> pd.DataFrame:
    """One row per number of either side: file, method, metric, baseline, current, difference, tolerance (None
    without a measured sigma) and the verdict."""
    rows = []
    for file in sorted(set(current) | set(baseline)):
        ours, theirs = numbers(current.get(file, {})), numbers(baseline.get(file, {}))
        for method, metric in dict.fromkeys([*theirs, *ours]):
            new, old = ours.get((method, metric)), theirs.get((method, metric))
            row = {"file": f"{file}.json", "method": method, "metric": metric, "baseline": old, "current": new,
                   "difference": None, "tolerance": None}
            if new is None or old is None:
                rows.append({**row, "verdict": MISSING})
                continue
            row["difference"] = round(new - old, 4)
            models = int(current[file][method].get("splits", 1)) if metric not in COUNT_KEYS else 1
            sigma = spread.sigma(file, method, metric) if spread is not None and metric not in COUNT_KEYS else None
            if sigma is not None and not math.isnan(sigma):
                row["tolerance"] = round(tolerance(sigma, models), 2)
            rows.append({**row, "verdict": verdict(new, old, row["tolerance"])})
    return pd.DataFrame(rows)


def verdict(new: float, old: float, limit: float | None) -> str:
    """identical / within the measured spread / outside it / moved without a measured spread."""
    if new == old:
        return IDENTICAL
    if limit is None:
        return UNMEASURED
    return WITHIN if abs(new - old) <= limit else OUTSIDE


def summary_line(table: pd.DataFrame, baseline: str) -> str:
    """How many numbers got each verdict, in one line."""
    counts = table.verdict.value_counts()
    parts = [f"{counts[v]} {v}" for v in (IDENTICAL, WITHIN, OUTSIDE, UNMEASURED, MISSING) if v in counts]
    return f"{len(table)} numbers against {baseline}: " + ", ".join(parts)
