"""Seed-to-seed spread of the published numbers: the profile's methods on one split and its all-class models,
trained with a few seeds, evaluated as the pipeline evaluates them.

The pipeline publishes one model per split and one all-class model per method, so each number of ``metrics/``
is one draw: another seed, or another CPU whose kernels round differently (docs/reproducibility.md), draws
another. This script measures how far such draws lie apart. For each seed it sets ``run.seed``, keeps only
``--split`` of ``data.splits`` and trains, with the pipeline's own code (``arpl.pipeline.runs.trained.train_stage``, the
one-thread workers of ``run.workers`` included), every method of ``train.methods`` and the first variant of
``confusing.variants`` (ARPL+CS) on that split and on all classes, in ``--work``/seed<N>/runs (never the
pipeline's ``runs/``). It then evaluates them like the osr, ood and closed_set stages (own score) and appends
one row per number to ``--output`` (default benchmarks/seed_spread.csv, committed), tagged with the profile,
the fingerprint of the settings that shape its file's numbers (``arpl.pipeline.report.spread.params_fingerprint``), torch,
the CPU capability and whether the kernels were portable. The report and ``python -m arpl reproduce`` read the rows of the current settings.
A seed already measured under the same fingerprint and split is skipped (rerun to add seeds).

Seed ``s`` trains split ``i`` with ``s + i`` like the pipeline (seed 0 repeats the pipeline's own model of the
split). Not measured: the incremental, figures and ablations stages.

Usage, from the repository root (run it through `python -m arpl`'s environment for portable kernels: with
``run.portable_kernels: true`` this script sets them itself before importing torch):
    python benchmarks/seed_spread.py                            # params.yaml, split 1, seeds 0-4
    python benchmarks/seed_spread.py --params smoke.yaml --seeds 0 1 --output /tmp/spread.csv
Time on an idle 2-core CPU, default profile: about 5-6 minutes per seed (ARPL and the others on 36,000 images
for 8 epochs, the all-class models, ARPL+CS), so about 30 minutes for seeds 0-4.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arpl.portable import requested, set_environment  # noqa: E402  (no torch import)


def seed_params(params: dict, seed: int, split: int) -> dict:
    """``params`` with ``run.seed`` = ``seed``, only ``split`` as open-set trial, the first ARPL+CS variant and an
    absolute data root (the runs are trained in another folder)."""
    params = copy.deepcopy(params)
    params.run.seed = seed
    params.run.data_root = str((ROOT / params.run.data_root).resolve())
    params.data.splits = [split]
    params.confusing.variants = params.confusing.variants[:1]
    return params


def measure_seed(params: dict) -> list[dict]:
    """Train (or reuse) and evaluate the runs of one seed in the current folder; one row per number:
    ``{"file", "method", "metric", "value"}`` (file: osr = the open-set trial, ood_auroc, closed_set)."""
    from arpl.pipeline.runs import trained
    from arpl.stages import closed_set, ood, osr

    trained.train_stage(params, "train", params.train.methods)
    if params.confusing.variants:
        trained.train_stage(params, "confusing", params.confusing.variants)
    rows = []
    for trial in osr.predict_all(params):
        values = osr.trial_metrics(trial, "own")
        rows += [{"file": "osr", "method": trial.method, "metric": m, "value": values[m]}
                 for m in ("AUROC", "OSCR", "ACC")]
    if params.train.closed_set:
        models = trained.all_class_models(params)
        rows += [{"file": "ood_auroc", "method": r.method, "metric": r.out, "value": r.AUROC}
                 for r in ood.ood_table(ood.predict_sets(params, models)).itertuples()]
        rows += [{"file": "closed_set", "method": r.method, "metric": "ACC", "value": r.ACC}
                 for r in closed_set.accuracy_table(params, models).itertuples()]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--split", type=int, default=None, help="open-set trial (default: 1 if in data.splits, "
                                                                 "else the first)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "seed_spread", help="where the runs go")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "seed_spread.csv")
    args = parser.parse_args()
    set_environment(requested(args.params))

    import pandas as pd
    import torch

    from arpl.pipeline.params import load_params
    from arpl.pipeline.report.spread import COLUMNS, params_fingerprint
    from arpl.portable import active, apply_backend_flags

    apply_backend_flags()
    params = load_params(args.params)
    split = args.split if args.split is not None else (1 if 1 in params.data.splits else params.data.splits[0])
    fingerprint = params_fingerprint(params)  # of the osr rows: a seed is measured once per settings and split
    output = args.output.resolve()
    done = set()
    if output.exists():
        old = pd.read_csv(output, dtype={"fingerprint": str})
        done = set(old[(old.fingerprint == fingerprint) & (old.split == split)].seed)
    tag = {"profile": params.profile, "torch": torch.__version__,
           "cpu_capability": torch.backends.cpu.get_cpu_capability(), "portable": active(), "split": split}
    here = Path.cwd()
    for seed in args.seeds:
        if seed in done:
            print(f"seed {seed}: already in {output} for fingerprint {fingerprint}, split {split}; skipped")
            continue
        folder = (args.work / f"seed{seed}").resolve()
        folder.mkdir(parents=True, exist_ok=True)
        tic = time.perf_counter()
        os.chdir(folder)  # the runs go to <folder>/runs/..., the spawned workers start here too
        try:
            rows = measure_seed(seed_params(params, seed, split))
        finally:
            os.chdir(here)
        table = pd.DataFrame([{**tag, "fingerprint": params_fingerprint(params, row["file"]), "seed": seed, **row,
                               "value": round(row["value"], 4)} for row in rows], columns=COLUMNS)
        table.to_csv(output, mode="a", header=not output.exists(), index=False)
        auroc = table[(table.file == "osr") & (table.metric == "AUROC")]
        print(f"seed {seed}: {len(table)} numbers in {time.perf_counter() - tic:.0f} s; AUROC split {split}: "
              + ", ".join(f"{r.method} {r.value:.1f}" for r in auroc.itertuples()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
