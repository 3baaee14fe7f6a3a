"""Steps 2-4 of ``bash scripts/gpu_check.sh``, the one-command check of the CUDA path (step 1 is
``pytest -m cuda tests/test_cuda.py``, step 5 ``scripts/quick_run.py``). The script runs each under its time limit:

    python scripts/gpu_check.py devices                            # what it runs on; exit 2 without CUDA
    python scripts/gpu_check.py throughput --out DIR --budget-s S  # 2: images/s of K runs at once, ratio to the goals
    python scripts/gpu_check.py fidelity --out DIR --budget-s S    # 3: fashion-mnist-anchor, split 0, vs the anchors
    python scripts/gpu_check.py ddp --out DIR                      # 4: torchrun on every GPU against one process

Each step prints what it does, writes a CSV and a few summary lines (``DIR/<step>.txt``) and exits non-zero on
a failure. ``--device cpu --tiny`` runs a step on the CPU at toy size, so that its code also runs where there
is no GPU (tests/test_gpu_check.py); its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = ROOT / "data" / "raw"
ANCHOR_PROFILE = "fashion-mnist-anchor"

# Step 2: classifier32 at 32 px (the paper's network) with the train options and GAN width of THROUGHPUT_PROFILE,
# trained by fit as benchmarks/train_throughput.py does (a warm-up epoch, then a timed one), by K processes at once.
THROUGHPUT_METHODS = ("Softmax", "ARPL", "ARPL+CS")
THROUGHPUT_WORKERS = (1, 8, 4)  # in this order: one run, then the most the stages start, then between
THROUGHPUT_PROFILE = "cifar10"
THROUGHPUT_STEPS = {"plain": 100, "ARPL+CS": 30}  # timed batches per process (seconds at the goals' rates)
THROUGHPUT_SPAWN_S = 15.0  # starting K processes (Python, torch, CUDA) before their first measurement
# The goals on one H200, in images of the data set per second summed over the runs training at once (an ARPL+CS
# epoch is a confusing-sample pass and a focus-training pass over the same images: its figure is half of fit's).
GOAL_IMAGES_PER_S = {"Softmax": 20_000.0, "ARPL": 20_000.0, "ARPL+CS": 20_000.0 / 3}

# Step 4: `python -m arpl train train ARPL` on split 0 (classifier32, 6,000 training images, one epoch, lr 0.01)
# under torchrun and in one process. Batch norm sees each process's share of the batch, so the two runs differ
# a little (tests/test_distributed.py: at most 0.015 in training loss over four seeds on CPU); a batch not divided
# between the processes or data not sharded moved the loss by 0.38 or more there.
DDP_LOSS_TOLERANCE = 0.1
DDP_BATCH_PER_PROCESS = 32

# Step 3: the anchor profile as it is (40 epochs, lr 0.1, milestones from 30) on split 0, cut after the last epoch
# that fits: its first N epochs are exactly those of the full run.
FIDELITY_METHODS = ("ARPL", "Softmax")
FIDELITY_MIN_EPOCHS = 10
FIDELITY_MIN_ACCURACY = 0.8  # known-class test accuracy after 10 epochs or more (the anchors: 0.97 after 40)


class StepFailed(RuntimeError):
    """A check of a step did not hold; the message says which and why."""


class _OutOfTime(Exception):
    """Raised by the per-epoch evaluation of step 3 when the next epoch would not fit in the budget."""


@dataclass(frozen=True)
class Options:
    """What every step gets: the output folder, the device, toy size or not, and its time budget."""

    out: Path
    device: torch.device
    tiny: bool
    budget_s: float

    def deadline(self, start: float) -> float:
        return start + self.budget_s


# ---------------------------------------------------------------- shared helpers


def write_csv(path: Path, rows: list[dict], append: bool = False) -> None:
    """Write (or append) ``rows`` to ``path`` with the first row's keys as columns."""
    if not rows:
        return
    new = not append or not path.exists()
    with path.open("w" if new else "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)


def write_summary(options: Options, step: str, lines: list[str]) -> None:
    """Print the step's summary lines and save them as ``<step>.txt`` (the script puts them in summary.txt)."""
    text = "\n".join(lines)
    print(text, flush=True)
    (options.out / f"{step}.txt").write_text(text + "\n")


def device_line() -> str:
    """The GPUs (name and count) and the PyTorch / CUDA versions."""
    names = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    gpus = ", ".join(f"{names.count(name)} x {name}" for name in dict.fromkeys(names))
    return f"{gpus}; torch {torch.__version__}, CUDA {torch.version.cuda}"


def anchor_params(options: Options, **data) -> dict:
    """The validated fashion-mnist-anchor profile on split 0 with this repository's data; ``data`` overrides
    keys of its ``data`` section. ``--tiny``: 8 training and 8 test images per class."""
    from arpl.pipeline.params import validate
    from arpl.pipeline.params.profiles import profile_text

    params = yaml.safe_load(profile_text(ANCHOR_PROFILE))
    params["run"].update(device=options.device.type, data_root=str(DATA_ROOT), progress=False)
    params["data"].update(splits=[0], **data)
    params["train"]["closed_set"] = False
    if options.tiny:
        params["data"].update(train_per_class=8, test_per_class=8)
    return validate(params)


# ---------------------------------------------------------------- step 2: throughput


@functools.cache
def throughput_module():
    """benchmarks/train_throughput.py, whose ``measure_together`` trains K runs at once with fit."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import train_throughput

    return train_throughput


def throughput_configs(options: Options, workers: int) -> list:
    """The benchmark Config of every method for ``workers`` processes at once, with the train options (batch
    size, amp, channels_last, compile) and GAN width of :data:`THROUGHPUT_PROFILE`. ``--tiny``: 1 step, batch 4."""
    from arpl.pipeline.params.profiles import profile_params

    bench, params = throughput_module(), profile_params(THROUGHPUT_PROFILE)
    train, batch = params.train, 4 if options.tiny else params.train.batch_size
    return [bench.Config(method, "classifier32", str(options.device), batch,
                         1 if options.tiny else THROUGHPUT_STEPS["ARPL+CS" if method == "ARPL+CS" else "plain"],
                         train.amp, train.channels_last, train.compile, workers, params.confusing.ngf)
            for method in THROUGHPUT_METHODS]


def throughput(options: Options) -> None:
    """Step 2: every method with K = 1, 8, 4 runs at once (``--tiny``: 1 and 2), a row per (K, method) in
    throughput.csv, while the budget lasts (the next K starts only if 1.5 times the last K's time is left); then
    the best K of each method against its goal."""
    start, date = time.perf_counter(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    bench, csv_path = throughput_module(), options.out / "throughput.csv"
    csv_path.unlink(missing_ok=True)
    done, skipped, last_seconds = [], [], THROUGHPUT_SPAWN_S
    for workers in (1, 2) if options.tiny else THROUGHPUT_WORKERS:
        if options.deadline(start) - time.perf_counter() < 1.5 * last_seconds:
            skipped.append(workers)
            continue
        tic = time.perf_counter()
        configs = throughput_configs(options, workers)
        for config, measured in zip(configs, bench.measure_together(configs, workers)):
            row = throughput_row(bench, config, measured, date)
            print(f"  K={workers:<2} {config.method:<8} {float(row['images_per_s']):>9,.0f} images/s in all  "
                  f"{row['peak_memory_mb']:>6} MB peak per run", flush=True)
            write_csv(csv_path, [row], append=True)
            done.append(row)
        last_seconds = time.perf_counter() - tic
    write_summary(options, "throughput", throughput_summary(done, skipped))


def throughput_row(bench, config, measured: dict, date: str) -> dict:
    """A benchmarks/results.csv row (its columns, in its order) with the goal and the ratio to it."""
    row = bench.csv_row(config, measured, date)
    goal = GOAL_IMAGES_PER_S[config.method]
    epoch_images_per_s = bench.EPOCH_IMAGES / measured["seconds_per_epoch"]  # ARPL+CS: both passes as one
    return {**row, "epoch_images_per_s": f"{epoch_images_per_s:.1f}", "goal_images_per_s": f"{goal:.0f}",
            "ratio_to_goal": f"{epoch_images_per_s / goal:.2f}"}


def throughput_summary(rows: list[dict], skipped: list[int]) -> list[str]:
    """The best K of each method, as a ratio to its goal, and what was skipped."""
    lines = [f"{len(rows)} rows in throughput.csv (classifier32, 32 px, {THROUGHPUT_PROFILE}'s train options; "
             f"images/s of the data set summed over K runs at once, ARPL+CS counting both passes of an epoch as one)"]
    for method, goal in GOAL_IMAGES_PER_S.items():
        measured = [row for row in rows if row["method"] == method]
        if measured:
            best = max(measured, key=lambda row: float(row["epoch_images_per_s"]))
            by_k = ", ".join(f"K={row['workers']} {float(row['epoch_images_per_s']):,.0f}" for row in measured)
            lines.append(f"{method}: best {float(best['epoch_images_per_s']):,.0f} images/s at K={best['workers']} "
                         f"= {best['ratio_to_goal']} x the goal of {goal:,.0f} ({by_k})")
    if skipped:
        lines.append(f"skipped (budget): K = {', '.join(map(str, skipped))}")
    return lines


# ---------------------------------------------------------------- step 4: DDP


def ddp_plan(options: Options) -> tuple[int, str]:
    """Processes and backend: one per GPU over NCCL; with one GPU (or the CPU) two processes sharing it over
    gloo, as NCCL refuses two processes on the same GPU."""
    gpus = torch.cuda.device_count() if options.device.type == "cuda" else 0
    return (gpus, "nccl") if gpus >= 2 else (2, "gloo")


def ddp_params(options: Options, processes: int) -> dict:
    """The anchor profile cut to one short epoch: 1,000 training and 200 test images per class, lr 0.01."""
    params = anchor_params(options, train_per_class=1000, test_per_class=200)
    return params.replace("train", epochs=1, lr=0.01, batch_size=DDP_BATCH_PER_PROCESS * processes)


def ddp_command(processes: int, backend: str) -> list[str]:
    """NCCL: the real ``python -m arpl train`` under torchrun. Shared GPU: the same training through
    :func:`ddp_worker` (``arpl train`` would give each process a GPU of its own and NCCL)."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    if backend == "nccl":
        return [*launcher, "-m", "arpl", "train", "train", "ARPL", "--params", "params.yaml"]
    return [*launcher, str(Path(__file__).resolve()), "ddp-worker", "params.yaml"]


def run_training(command: list[str], folder: Path) -> float:
    """Run ``command`` in ``folder``, print its output, return its wall time; raise StepFailed if it fails."""
    print(f"$ {' '.join(command)}   (in {folder.name}/)", flush=True)
    tic = time.perf_counter()
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, env={**os.environ,
                            "PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1"})
    print(result.stdout[-6000:] + result.stderr[-6000:], flush=True)
    if result.returncode != 0:
        raise StepFailed(f"`{' '.join(command)}` exited with code {result.returncode} (output above)")
    return time.perf_counter() - tic


def last_epoch(folder: Path) -> dict:
    """The last history row of the ARPL split-0 checkpoint in ``folder``."""
    from arpl.pipeline.runs import checkpoint_path, split_run
    from arpl.training.checkpoint import read_checkpoint

    return read_checkpoint(folder / checkpoint_path("train", "ARPL", split_run(0)))["history"][-1]


def ddp(options: Options) -> None:
    """Step 4: one short epoch of ARPL on split 0 under torchrun and in one process, same global batch."""
    processes, backend = ddp_plan(options)
    if backend == "nccl":
        how = f"{processes} processes, one per GPU, over NCCL"
    elif options.device.type == "cuda":
        how = "2 processes sharing the one GPU over gloo (NCCL refuses two processes on one GPU)"
    else:
        how = "2 processes on the CPU over gloo"
    print(f"DDP: {how}, against one process", flush=True)
    params = ddp_params(options, processes)
    rows = []
    with tempfile.TemporaryDirectory(prefix="arpl-gpu-check-ddp-") as temp:
        for run, command in (("one process", [sys.executable, "-m", "arpl", "train", "train", "ARPL", "--params",
                                               "params.yaml"]), ("torchrun", ddp_command(processes, backend))):
            folder = Path(temp) / run.replace(" ", "-")
            folder.mkdir()
            (folder / "params.yaml").write_text(yaml.safe_dump(params.model_dump()))
            seconds = run_training(command, folder)
            rows.append({"run": run, "processes": 1 if run == "one process" else processes,
                         "backend": "" if run == "one process" else backend, "device": options.device.type,
                         "global_batch": params.train.batch_size, "seconds": round(seconds, 1),
                         **{key: last_epoch(folder)[key] for key in ("loss", "train_acc", "test_acc", "auroc")}})
    write_csv(options.out / "ddp.csv", rows)
    difference = abs(rows[1]["loss"] - rows[0]["loss"])
    lines = [f"{how}: training loss {rows[1]['loss']:.4f} vs one process {rows[0]['loss']:.4f} (difference "
             f"{difference:.4f}, tolerance {DDP_LOSS_TOLERANCE}); test accuracy {rows[1]['test_acc']:.3f} vs "
             f"{rows[0]['test_acc']:.3f}, AUROC {rows[1]['auroc']:.3f} vs {rows[0]['auroc']:.3f}"]
    write_summary(options, "ddp", lines)
    if difference > DDP_LOSS_TOLERANCE and not options.tiny:
        raise StepFailed(f"the DDP run's loss differs from one process's by {difference:.4f} > {DDP_LOSS_TOLERANCE}")


def ddp_worker(params_path: str) -> int:
    """One process of the shared-device DDP run: ``python -m arpl train train ARPL`` itself, except that the
    process group is gloo and every process takes device 0 of its kind (local rank 0 for all)."""
    import torch.distributed as dist

    from arpl.__main__ import main as arpl_main
    from arpl.training import distributed

    def join_shared_device(device_name: str) -> distributed.DistContext:
        dist.init_process_group("gloo")
        return distributed.DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=0)

    distributed.init_distributed = join_shared_device  # what `arpl train` calls to join the job
    return arpl_main(["train", "train", "ARPL", "--params", params_path])


# ---------------------------------------------------------------- step 3: fidelity


def train_within(params: dict, method: str, deadline: float, min_epochs: int) -> tuple[list[dict], dict]:
    """Train ``method`` on split 0 with the profile's settings (trained.train_run) and stop after the last epoch that
    ends before ``deadline`` (but not before ``min_epochs``). Returns the per-epoch monitor rows and the final
    model's metrics on every test image (:func:`final_metrics`). Runs in a process of its own."""
    from arpl.pipeline import runs
    from arpl.pipeline.runs import images, trained

    data = images.open_set(params, 0)
    dev = runs.device(params)
    evaluate = trained.open_set_evaluator(data, method, dev)
    start, rows, final = time.perf_counter(), [], {}

    def evaluate_then_check_time(net, epoch: int) -> dict:
        metrics = evaluate(net, epoch)
        now = time.perf_counter()
        rows.append({"method": method, "split": 0, "epoch": epoch, "test_acc": metrics["test_acc"],
                     "auroc": metrics["auroc"], "oscr": metrics["oscr"], "seconds": round(now - start, 1)})
        if epoch >= min_epochs and now + (now - start) / epoch > deadline and epoch < params.train.epochs:
            print(f"[{method}] stopping after epoch {epoch}: the next would not fit in the budget", flush=True)
            final.update(final_metrics(net, data, method, dev))
            raise _OutOfTime
        return metrics

    with tempfile.TemporaryDirectory(prefix="arpl-gpu-check-fidelity-") as run_dir:
        try:
            result = trained.train_run(params, method, data.train_known, Path(run_dir), runs.split_run(0),
                                       evaluate=evaluate_then_check_time)
            final.update(final_metrics(result.net, data, method, dev))
        except _OutOfTime:
            pass
    return rows, {"epochs": rows[-1]["epoch"], **final}


def final_metrics(net, data, method: str, dev) -> dict:
    """Known-class accuracy and AUROC of ``net`` on every test image of the split, in percent: AUROC under the
    authors' convention (``metric_ood``: tied scores count against, as in the anchors) and under ours (ties
    count one half)."""
    from arpl import metrics
    from arpl.evaluate import predict

    known, unknown = predict(net, data.test_known.images, device=dev), predict(net, data.test_unknown.images,
                                                                               device=dev)
    k, u = known.scores("own", method), unknown.scores("own", method)
    return {"ACC": 100 * metrics.accuracy(known.predicted(), data.test_known.labels.numpy()),
            "AUROC": 100 * metrics.authors_ood_metrics(k, u)["AUROC"], "AUROC_ours": 100 * metrics.auroc(k, u)}


def fidelity(options: Options) -> None:
    """Step 3: ARPL and Softmax on split 0 with the anchor profile, side by side in two processes, each as many of
    its 40 epochs as fit (at least 10); accuracy and AUROC (the anchors' convention, and ours beside it) against
    arpl/anchors_fashion_mnist.csv. Fails when fewer than 10 epochs fit or the accuracy says nothing was learnt.
    ``--tiny``: at most 2 epochs, at least 1."""
    import pandas as pd

    from arpl import paper

    start = time.perf_counter()
    params = anchor_params(options)
    params.run.checkpoint_every = 1  # an evaluation after every epoch tells when to stop
    if options.tiny:
        params.train.epochs = 2
    min_epochs = 1 if options.tiny else FIDELITY_MIN_EPOCHS
    with ProcessPoolExecutor(len(FIDELITY_METHODS), mp_context=get_context("spawn")) as pool:
        jobs = [pool.submit(train_within, params, method, options.deadline(start), min_epochs)
                for method in FIDELITY_METHODS]
        outcomes = [job.result() for job in jobs]
    write_csv(options.out / "fidelity_epochs.csv", [row for rows, _ in outcomes for row in rows])
    results = [{"method": method, "split": 0, **final} for method, (_, final) in zip(FIDELITY_METHODS, outcomes)]
    table = paper.anchors_vs_ours(pd.DataFrame(results).drop(columns="AUROC_ours"))
    table["ours_ties_half"] = table.apply(lambda row: next(
        (r["AUROC_ours"] for r in results if r["method"] == row["method"]), float("nan"))
        if row["metric"] == "AUROC" else float("nan"), axis=1)
    table.to_csv(options.out / "fidelity.csv", index=False)
    write_summary(options, "fidelity", fidelity_summary(table, params.train.epochs))
    check_fidelity(results, min_epochs, 0.0 if options.tiny else FIDELITY_MIN_ACCURACY)


def check_fidelity(results: list[dict], min_epochs: int, min_accuracy: float) -> None:
    """Raise StepFailed when a method trained fewer than ``min_epochs`` or stayed below ``min_accuracy``."""
    short = [f"{row['method']} {row['epochs']}" for row in results if row["epochs"] < min_epochs]
    if short:
        raise StepFailed(f"fewer than {min_epochs} epochs fitted in the budget ({', '.join(short)}); "
                         f"see fidelity_epochs.csv for the seconds per epoch")
    low = [f"{row['method']} {row['ACC']:.1f}%" for row in results if row["ACC"] < 100 * min_accuracy]
    if low:
        raise StepFailed(f"known-class accuracy below {min_accuracy:.0%} after {min_epochs} epochs or more "
                         f"({', '.join(low)}): training on this device does not learn")


def fidelity_summary(table, profile_epochs: int) -> list[str]:
    """One line per method: our AUROC (both conventions) and accuracy beside the authors' code."""
    lines = []
    for method, rows in table.groupby("method", sort=False):
        auroc, acc = (rows[rows.metric == metric].iloc[0] for metric in ("AUROC", "ACC"))
        lines.append(f"{method} split 0: AUROC {auroc.ours:.1f} (anchor {auroc.anchor:.1f}, difference "
                     f"{auroc.difference:+.1f}; ties as one half: {auroc.ours_ties_half:.1f}), known-class "
                     f"accuracy {acc.ours:.1f} (anchor {acc.anchor:.1f}); "
                     f"{auroc.note or f'{profile_epochs} epochs, as the anchor'}")
    return lines


# ---------------------------------------------------------------- command line


def devices(options: Options) -> int:
    """Print what the check would run on; 2 when there is no CUDA device (and not ``--tiny``)."""
    if options.tiny:
        print(f"CPU, tiny mode (numbers mean nothing); torch {torch.__version__}")
        return 0
    if not torch.cuda.is_available():
        print(f"no CUDA device (torch {torch.__version__}, built for CUDA {torch.version.cuda}: "
              f"torch.cuda.is_available() is False)")
        return 2
    print(device_line())
    return 0


STEPS = {"throughput": throughput, "ddp": ddp, "fidelity": fidelity}


def main(argv: list[str] | None = None) -> int:
    """Run one step; returns the exit code (1 when a check fails, with the reason on stderr)."""
    parser = argparse.ArgumentParser(prog="python scripts/gpu_check.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["devices", *STEPS, "ddp-worker"])
    parser.add_argument("params", nargs="?", help="ddp-worker only: the params.yaml to train with")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/gpu_check")))
    parser.add_argument("--budget-s", type=float, default=300.0, help="time the step may take (seconds)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help=argparse.SUPPRESS)
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step == "ddp-worker":
        return ddp_worker(args.params)
    options = Options(out=args.out, device=torch.device(args.device), tiny=args.tiny, budget_s=args.budget_s)
    if args.step == "devices":
        return devices(options)
    if options.device.type == "cuda" and not torch.cuda.is_available():
        print(f"error: step {args.step} needs a CUDA device and there is none", file=sys.stderr)
        return 2
    options.out.mkdir(parents=True, exist_ok=True)
    try:
        STEPS[args.step](options)
    except StepFailed as error:
        print(f"error: step {args.step}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
