"""What each lever of the CPU default buys: AUROC per split against seconds (issue: a default that means something).

A *recipe* is a set of ``params.yaml`` overrides (dotted keys) on top of ``arpl/pipeline/params/profiles/cpu-default.yaml``.
For each recipe, method and split this trains one open-set model with the pipeline's own code
(``arpl.pipeline.runs.trained.train_run``), scores the full test split with the method's own score, and appends one
row to ``benchmarks/levers.csv``: accuracy, AUROC, OSCR, seconds and images/s of training. Runs go to
independent single-thread worker processes (``--workers``, default: the CPU count), the way the pipeline
trains, because two torch threads on two busy cores are much slower than two one-thread processes.

Usage, from the repository root:
    python benchmarks/levers.py --list
    python benchmarks/levers.py --recipes default full-fd16-e8 --methods Softmax ARPL --splits 0 1 2
    python benchmarks/levers.py --set data.train_per_class=null --set train.epochs=10 --name my-recipe
Not a test: the seconds depend on the machine and its load; the AUROCs are deterministic on CPU.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS_CSV = Path(__file__).resolve().parent / "levers.csv"
CSV_COLUMNS = ("date", "recipe", "overrides", "method", "split", "test_acc", "auroc", "oscr", "epochs",
               "train_images", "seconds", "images_per_s")

# Recipes measured while planning the default profile (overrides on cpu-default).
RECIPES: dict[str, dict] = {
    "old-default": {"model.feat_dim": None, "data.train_per_class": 1000, "data.test_per_class": 500,
                    "train.epochs": 6, "train.milestones": [4]},
    "full-fd16-e8": {"model.feat_dim": 16, "data.train_per_class": None, "data.test_per_class": None,
                     "train.epochs": 8, "train.milestones": [5, 7]},
}


def parse_override(text: str) -> tuple[str, object]:
    """``"train.epochs=8"`` -> ``("train.epochs", 8)`` (YAML-typed value)."""
    key, _, value = text.partition("=")
    return key, yaml.safe_load(value)


def recipe_params(overrides: dict) -> dict:
    """cpu-default with ``overrides`` applied and validated (data root: the repository's data/raw)."""
    from arpl.pipeline.params import validate
    from arpl.pipeline.params.profiles import profile_text

    params = yaml.safe_load(profile_text("cpu-default"))
    for key, value in overrides.items():
        section, name = key.split(".", 1)
        params[section][name] = value
    params["run"]["data_root"] = str(Path(__file__).resolve().parents[1] / "data" / "raw")
    return validate(params)


def measure(job: tuple[str, dict, str, int]) -> dict:
    """Train and score one (recipe, method, split) in this single-thread process."""
    import torch

    torch.set_num_threads(1)
    from arpl import metrics
    from arpl.evaluate import predict
    from arpl.pipeline.runs import images, trained, split_run

    name, overrides, method, split = job
    params = recipe_params(overrides)
    data = images.open_set(params, split)
    with tempfile.TemporaryDirectory() as folder:
        tic = time.perf_counter()
        result = trained.train_run(params, method, data.train_known, Path(folder), split_run(split))
        seconds = time.perf_counter() - tic
    known = predict(result.net, data.test_known.images)
    unknown = predict(result.net, data.test_unknown.images)
    k, u = known.scores("own", method), unknown.scores("own", method)
    correct = known.predicted() == data.test_known.labels.numpy()
    epochs = params.train.epochs
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"), "recipe": name,
            "overrides": " ".join(f"{k}={v}" for k, v in overrides.items()), "method": method, "split": split,
            "test_acc": round(float(correct.mean()) * 100, 2), "auroc": round(metrics.auroc(k, u) * 100, 2),
            "oscr": round(metrics.oscr(k, correct, u) * 100, 2), "epochs": epochs,
            "train_images": len(data.train_known), "seconds": round(seconds, 1),
            "images_per_s": round(len(data.train_known) * epochs / seconds)}


def append_rows(rows: list[dict], path: Path = RESULTS_CSV) -> None:
    """Append ``rows`` to the results CSV (header written once)."""
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="*", default=[], help="names of RECIPES to measure")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an ad-hoc recipe")
    parser.add_argument("--name", default="custom", help="name of the ad-hoc recipe")
    parser.add_argument("--methods", nargs="+", default=["Softmax", "GCPL", "RPL", "ARPL"])
    parser.add_argument("--splits", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--list", action="store_true", help="print the recipes and exit")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        for name, overrides in RECIPES.items():
            print(f"{name}: {overrides}")
        return
    recipes = {name: RECIPES[name] for name in args.recipes}
    if args.set:
        recipes[args.name] = dict(map(parse_override, args.set))
    jobs = [(name, overrides, method, split) for name, overrides in recipes.items()
            for split in args.splits for method in args.methods]
    os.environ["OMP_NUM_THREADS"] = "1"
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        for row in pool.map(measure, jobs):
            print(" ".join(f"{key}={row[key]}" for key in ("recipe", "method", "split", "test_acc", "auroc",
                                                          "seconds", "images_per_s")), flush=True)
            if not args.no_save:
                append_rows([row])


if __name__ == "__main__":
    main()
