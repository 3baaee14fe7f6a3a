"""Steps 2-4 of ``bash scripts/gpu_check.sh``, the one-command check of the CUDA path (step 1 is
``pytest -m cuda tests/test_cuda.py``). The script runs each step under its own time limit:

    python scripts/gpu_check.py devices                            # what it runs on; exit 2 without CUDA
    python scripts/gpu_check.py throughput --out DIR --budget-s S  # 2: images/s and peak memory, ratio to the goals
    python scripts/gpu_check.py ddp --out DIR                      # 3: torchrun on every GPU against one process
    python scripts/gpu_check.py fidelity --out DIR --budget-s S    # 4: fashion-mnist-anchor, split 0, vs the anchors

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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = ROOT / "data" / "raw"
ANCHOR_PROFILE = "fashion-mnist-anchor"

# Step 2: classifier32 at 32 px (the paper's network), every row trained by fit as benchmarks/train_throughput.py
# does: a warm-up epoch, then a timed epoch of THROUGHPUT_STEPS batches.
THROUGHPUT_METHODS = ("ARPL", "ARPL+CS", "Softmax")  # those with a goal first; ARPL+CS with the paper's GAN width
#                                                      64 (the TrainSpec default)
THROUGHPUT_BATCHES = (64, 128)
THROUGHPUT_SETTINGS = {  # name -> (amp, channels_last, compile), cheapest first; compiling takes the longest
    "fp32": (False, False, False), "bf16": (True, False, False), "channels_last": (False, True, False),
    "bf16+channels_last": (True, True, False), "bf16+channels_last+compile": (True, True, True)}
THROUGHPUT_STEPS = 100
ROW_RESERVE_S = {False: 20.0, True: 75.0}  # the longest a row is expected to take on one GPU (compiled: with the
#                                            compilation); a row starts only when this much of the budget is left
# The goals, on an H100-class GPU, in images of the data set per second (an ARPL+CS epoch is a confusing-sample
# pass and a focus-training pass over the same images, so its figure is half of fit's images_per_s).
GOAL_IMAGES_PER_S = {"ARPL": 20_000.0, "ARPL+CS": 20_000.0 / 3}

# Step 3: `python -m arpl train train ARPL` on split 0 (classifier32, 6,000 training images, one epoch, lr 0.01)
# under torchrun and in one process. Batch norm sees each process's share of the batch, so the two runs differ
# a little (tests/test_distributed.py: at most 0.015 in training loss over four seeds on CPU); a batch not divided
# between the processes or data not sharded moved the loss by 0.38 or more there.
DDP_LOSS_TOLERANCE = 0.1
DDP_BATCH_PER_PROCESS = 32

# Step 4: the anchor profile as it is (40 epochs, lr 0.1, milestones from 30) on split 0, cut after the last epoch
# that fits: its first N epochs are exactly those of the full run.
FIDELITY_METHODS = ("ARPL", "Softmax")
FIDELITY_MIN_EPOCHS = 10
FIDELITY_MIN_ACCURACY = 0.8  # known-class test accuracy after 10 epochs or more (the anchors: 0.97 after 40)


class StepFailed(RuntimeError):
    """A check of a step did not hold; the message says which and why."""


class _OutOfTime(Exception):
    """Raised by the per-epoch evaluation of step 4 when the next epoch would not fit in the budget."""


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
    from arpl.pipeline.profile import profile_text

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
    """benchmarks/train_throughput.py, whose ``measure`` trains one row with fit (the benchmark's own code)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import train_throughput

    return train_throughput


def throughput_rows(options: Options) -> list[tuple[str, object]]:
    """(setting, benchmark Config) of every row, in the order they run: the eager rows, then the compiled ones
    (largest batch first). ``--tiny``: batch 4, one step, one setting (on the CPU fit ignores bf16 and
    channels_last, and compiling takes minutes)."""
    bench = throughput_module()
    if options.tiny:
        settings, batches, steps = ("bf16+channels_last",), (4,), 1
    else:
        settings, batches, steps = tuple(THROUGHPUT_SETTINGS), THROUGHPUT_BATCHES, THROUGHPUT_STEPS
    compiled = {setting for setting in settings if THROUGHPUT_SETTINGS[setting][2]}
    plan = [(setting, batch) for batch in batches for setting in settings if setting not in compiled]
    plan += [(setting, batch) for batch in reversed(batches) for setting in settings if setting in compiled]
    return [(setting, bench.Config(method, "classifier32", str(options.device), batch, steps,
                                   *THROUGHPUT_SETTINGS[setting]))
            for setting, batch in plan for method in THROUGHPUT_METHODS]


def measure_row(config, date: str) -> dict:
    """One row, in this process (each row resets torch.compile's caches and the peak-memory counter)."""
    bench = throughput_module()
    if config.compile:
        torch._dynamo.reset()
    measured = bench.measure(config)
    epoch_images_per_s = bench.EPOCH_IMAGES / measured["seconds_per_epoch"]
    goal = GOAL_IMAGES_PER_S.get(config.method)
    row = bench.csv_row(config, measured, date)
    row.update(steps=config.steps, epoch_images_per_s=f"{epoch_images_per_s:.1f}",
               goal_images_per_s="" if goal is None else f"{goal:.0f}",
               ratio_to_goal="" if goal is None else f"{epoch_images_per_s / goal:.2f}")
    return row


def throughput(options: Options) -> None:
    """Step 2: one row per (batch size, method, setting) into throughput.csv, then the best row of ARPL and
    ARPL+CS against the goals. Rows that would not fit in the budget are skipped and counted."""
    start, date = time.perf_counter(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    csv_path = options.out / "throughput.csv"
    csv_path.unlink(missing_ok=True)
    done, skipped = [], []
    for setting, config in throughput_rows(options):
        if options.deadline(start) - time.perf_counter() < ROW_RESERVE_S[config.compile]:
            skipped.append(f"{config.method} {setting} batch {config.batch_size}")
            continue
        print(f"  {config.method:<8} batch {config.batch_size:>3} {setting:<27}", end=" ", flush=True)
        row = measure_row(config, date)
        goal = f"  = {row['ratio_to_goal']} x its goal" if row["ratio_to_goal"] else ""
        print(f"{float(row['epoch_images_per_s']):>9,.0f} images/s  {row['peak_memory_mb']:>6} MB peak{goal}",
              flush=True)
        write_csv(csv_path, [{"setting": setting, **row}], append=True)
        done.append({"setting": setting, **row})
    write_summary(options, "throughput", throughput_summary(done, skipped))


def throughput_summary(rows: list[dict], skipped: list[str]) -> list[str]:
    """The best row of each method with a goal, as a ratio to it, and what was skipped."""
    lines = [f"{len(rows)} rows in throughput.csv (classifier32, 32 px; images/s = images of the data set per "
             f"second, ARPL+CS counting both passes of an epoch as one)"]
    for method, goal in GOAL_IMAGES_PER_S.items():
        measured = [row for row in rows if row["method"] == method]
        if not measured:
            continue
        best = max(measured, key=lambda row: float(row["epoch_images_per_s"]))
        lines.append(f"{method}: best {float(best['epoch_images_per_s']):,.0f} images/s (batch {best['batch_size']}, "
                     f"{best['setting']}, {best['peak_memory_mb']} MB peak) = {best['ratio_to_goal']} x the goal "
                     f"of {goal:,.0f} on an H100-class GPU")
    if skipped:
        lines.append(f"skipped (budget): {len(skipped)} rows: " + "; ".join(skipped))
    return lines


# ---------------------------------------------------------------- step 3: DDP


def ddp_plan(options: Options) -> tuple[int, str]:
    """Processes and backend: one per GPU over NCCL; with one GPU (or the CPU) two processes sharing it over
    gloo, as NCCL refuses two processes on the same GPU."""
    gpus = torch.cuda.device_count() if options.device.type == "cuda" else 0
    return (gpus, "nccl") if gpus >= 2 else (2, "gloo")


def ddp_params(options: Options, processes: int) -> dict:
    """The anchor profile cut to one short epoch: 1,000 training and 200 test images per class, lr 0.01."""
    params = anchor_params(options, train_per_class=1000, test_per_class=200)
    params["train"].update(epochs=1, lr=0.01, batch_size=DDP_BATCH_PER_PROCESS * processes)
    return params


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
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, env={**os.environ,
                            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
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
    """Step 3: one short epoch of ARPL on split 0 under torchrun and in one process, same global batch."""
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
            (folder / "params.yaml").write_text(yaml.safe_dump(params))
            seconds = run_training(command, folder)
            rows.append({"run": run, "processes": 1 if run == "one process" else processes,
                         "backend": "" if run == "one process" else backend, "device": options.device.type,
                         "global_batch": params["train"]["batch_size"], "seconds": round(seconds, 1),
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


# ---------------------------------------------------------------- step 4: fidelity


def train_within(params: dict, method: str, data, deadlines: tuple[float, float], min_epochs: int,
                 epochs_csv: Path) -> dict:
    """Train ``method`` with the profile's settings (trained.train_run) and stop after the last epoch that
    ends before the first of ``deadlines`` (this method's share of the time), or, before ``min_epochs``, before
    the second (the whole step's). Every epoch's test metrics go to ``epochs_csv``; returns the last epoch's."""
    from arpl.pipeline import runs, trained

    evaluate = trained.open_set_evaluator(data, method, runs.device(params))
    share, hard = deadlines
    start, rows = time.perf_counter(), []

    def evaluate_then_check_time(net, epoch: int) -> dict:
        metrics = evaluate(net, epoch)
        now = time.perf_counter()
        rows.append({"method": method, "split": 0, "epoch": epoch, "test_acc": metrics["test_acc"],
                     "auroc": metrics["auroc"], "oscr": metrics["oscr"], "seconds": round(now - start, 1)})
        write_csv(epochs_csv, rows[-1:], append=True)
        next_end = now + (now - start) / epoch
        if next_end > hard or (epoch >= min_epochs and next_end > share):
            print(f"[{method}] stopping after epoch {epoch}: the next would not fit in the budget", flush=True)
            raise _OutOfTime
        return metrics

    with tempfile.TemporaryDirectory(prefix="arpl-gpu-check-fidelity-") as run_dir:
        try:
            trained.train_run(params, method, data.train_known, Path(run_dir), runs.split_run(0),
                                 evaluate=evaluate_then_check_time)
        except _OutOfTime:
            pass
    return rows[-1]


def fidelity(options: Options) -> None:
    """Step 4: ARPL and Softmax on split 0 with the anchor profile, as many of its 40 epochs as fit (at least
    10), each method getting an equal share of the time left; AUROC and accuracy beside
    arpl/anchors_fashion_mnist.csv. Fails when fewer than 10 epochs fit or the accuracy says nothing was learnt.
    ``--tiny``: at most 2 epochs, at least 1."""
    import pandas as pd

    from arpl import paper
    from arpl.pipeline import profile_data

    start = time.perf_counter()
    params = anchor_params(options)
    if options.tiny:
        params["train"]["epochs"] = 2
    data = profile_data.open_set(params, 0)
    epochs_csv = options.out / "fidelity_epochs.csv"
    epochs_csv.unlink(missing_ok=True)
    min_epochs = 1 if options.tiny else FIDELITY_MIN_EPOCHS
    results = []
    for index, method in enumerate(FIDELITY_METHODS):
        now = time.perf_counter()
        share = now + (options.deadline(start) - now) / (len(FIDELITY_METHODS) - index)
        last = train_within(params, method, data, (share, options.deadline(start)), min_epochs, epochs_csv)
        results.append({"method": method, "split": 0, "epochs": last["epoch"], "ACC": 100 * last["test_acc"],
                        "AUROC": 100 * last["auroc"]})
    table = paper.anchors_vs_ours(pd.DataFrame(results))
    table.to_csv(options.out / "fidelity.csv", index=False)
    write_summary(options, "fidelity", fidelity_summary(table, params["train"]["epochs"]))
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
    """One line per method: our AUROC and accuracy beside the authors' code, with the epochs each trained."""
    lines = []
    for method, rows in table.groupby("method", sort=False):
        auroc, acc = (rows[rows.metric == metric].iloc[0] for metric in ("AUROC", "ACC"))
        lines.append(f"{method} split 0: AUROC {auroc.ours:.1f} (anchor {auroc.anchor:.1f}, difference "
                     f"{auroc.difference:+.1f}), known-class accuracy {acc.ours:.1f} (anchor {acc.anchor:.1f}); "
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
