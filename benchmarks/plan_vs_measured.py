"""How far `python -m arpl check`'s expected training time is from a run that happened.

After `dvc repro` of a profile, this compares, per training stage, the plan's expected seconds of training
(arpl.stages.plan: the stage's runs in its worker processes at the speeds of benchmarks/results.csv) with the
stage's measured wall time (papermill's record of the executed notebook, which also holds loading the data,
evaluating and writing the stage's outputs), prints both and appends a row per stage to
benchmarks/plan_vs_measured.csv.

Usage, from the repository root after a run:
    python benchmarks/plan_vs_measured.py                     # params.yaml, runs/notebooks
    python benchmarks/plan_vs_measured.py --no-save
Not a test: both numbers depend on the machine and on what else ran on it.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arpl.pipeline.params import load_params  # noqa: E402
from arpl.pipeline.runs.workers import worker_count  # noqa: E402
from arpl.stages.plan import (STAGES, device_label, measured_rates, missing_speeds, switched_off,  # noqa: E402
                              training_plan, training_seconds)
from arpl.stages.report import stage_times  # noqa: E402

RESULTS_CSV = Path(__file__).resolve().parent / "results.csv"
OUT_CSV = Path(__file__).resolve().parent / "plan_vs_measured.csv"
NOTEBOOKS = {"train": "02_train", "confusing": "03_confusing", "incremental": "07_incremental",
             "figures": "08_figures", "ablations": "09_ablations"}
COLUMNS = ("date", "commit", "profile", "device", "workers", "stage", "expected_s", "measured_s", "ratio")


def compare(params: dict, notebooks: Path) -> list[dict]:
    """A row per training stage that ran: expected and measured seconds and their ratio (expected / measured)."""
    plan, device = training_plan(params), device_label(params)
    rates = measured_rates(RESULTS_CSV, device, params)
    missing = missing_speeds(params, plan, rates)
    if missing:
        raise SystemExit(f"no measured speed for {device}/{', '.join(missing)} in {RESULTS_CSV}: run python "
                         f"-m arpl check for the command that measures it")
    expected = training_seconds(params, plan, rates)
    times = stage_times(notebooks)
    measured = dict(zip(times.stage, times.seconds))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = []
    for stage in (stage for stage in STAGES if not switched_off(params, stage)):
        seconds = measured.get(NOTEBOOKS[stage])
        if not seconds:
            continue
        rows.append({"date": date, "commit": commit, "profile": params.profile, "device": device,
                     "workers": worker_count(params), "stage": stage, "expected_s": round(expected[stage]),
                     "measured_s": round(seconds), "ratio": f"{expected[stage] / seconds:.2f}"})
    total_expected, total_measured = (sum(row[key] for row in rows) for key in ("expected_s", "measured_s"))
    rows.append({**rows[0], "stage": "all training stages", "expected_s": total_expected,
                 "measured_s": total_measured, "ratio": f"{total_expected / total_measured:.2f}"})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--notebooks", type=Path, default=Path("runs/notebooks"))
    parser.add_argument("--no-save", action="store_true", help=f"do not append to {OUT_CSV.name}")
    args = parser.parse_args(argv)
    rows = compare(load_params(args.params), args.notebooks)
    print(f"{rows[0]['profile']} on {rows[0]['device']}, {rows[0]['workers']} worker processes")
    print(f"{'stage':<22} {'expected s':>10} {'measured s':>10} {'ratio':>6}")
    for row in rows:
        print(f"{row['stage']:<22} {row['expected_s']:>10} {row['measured_s']:>10} {row['ratio']:>6}")
    if not args.no_save:
        new = not OUT_CSV.exists()
        with OUT_CSV.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            if new:
                writer.writeheader()
            writer.writerows(rows)
        print(f"appended {len(rows)} rows to {OUT_CSV}")


if __name__ == "__main__":
    main()
