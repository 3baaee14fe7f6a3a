"""Training throughput of every method with the real training loop (arpl.training.fit).

For each method (Softmax, GCPL, RPL, ARPL, ARPL+CS) and network (classifier32 on 32x32x3, the paper's
network and protocol, Sec. 5.1; small on 28x28x1, the CPU backbone) this trains on random uint8 images
(fixed seed, six classes) for two epochs of ``--steps`` batches each: the first epoch is an untimed
warm-up, the second is the measurement. It reports fit's own ``images_per_s`` of that epoch (the number
printed in every training log line; checkpointing and evaluation are outside it), the seconds one epoch
of 36,000 images (Fashion-MNIST's six known classes) would take, and the peak memory.

Each measurement runs in a fresh process, so peak memory belongs to that measurement alone:
CUDA: torch.cuda.max_memory_allocated; CPU: peak resident set size of the process (resource.getrusage),
which includes the Python and PyTorch runtime.

Usage, from the repository root:
    python benchmarks/train_throughput.py                         # all methods and networks, current device
    python benchmarks/train_throughput.py --methods ARPL ARPL+CS --networks small --steps 10 --no-save
    python benchmarks/train_throughput.py --amp --channels-last --compile   # TrainSpec flags (amp: CUDA only)
Rows are appended to benchmarks/results.csv unless --no-save. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arpl.stages.plan import EPOCH_IMAGES, NETWORKS, device_name  # noqa: E402  (what results.csv rows mean)
from arpl.training import fit  # noqa: E402
from arpl.training.specs import ModelSpec, TrainSpec  # noqa: E402

METHODS = ("Softmax", "GCPL", "RPL", "ARPL", "ARPL+CS")
NUM_CLASSES = 6
# timed batches per (device type, network): a few seconds each on a 2-core CPU, longer runs on a GPU
DEFAULT_STEPS = {"cpu": {"classifier32": 20, "small": 100}, "cuda": {"classifier32": 200, "small": 200}}
BUSY_WARNING_CORES = 0.2
DATA_SEED = 0
RESULTS_CSV = Path(__file__).resolve().parent / "results.csv"
CSV_COLUMNS = ("date", "device", "torch", "method", "network", "batch_size", "amp", "channels_last", "compile",
               "images_per_s", "seconds_per_epoch", "peak_memory_mb", "workers", "gan_width")
COLUMN_DEFAULTS = {"workers": "1", "gan_width": "64"}  # what rows written before these columns existed measured


@dataclass(frozen=True)
class Config:
    """One measurement: a method on a network with the run-wide options."""

    method: str
    network: str
    device: str
    batch_size: int
    steps: int | None  # None: DEFAULT_STEPS for the device and network
    amp: bool
    channels_last: bool
    compile: bool
    workers: int = 1       # runs measured at once, each in its own process (one thread each on the CPU)
    gan_width: int = 64    # ARPL+CS: the GAN's ngf = ndf (the paper's 64; the CPU default trains 16)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring); rejects options that cannot apply."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu, cuda or cuda:N (default: CUDA when available)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None,
                        help=f"timed batches (after a warm-up epoch of as many); default per network "
                             f"{DEFAULT_STEPS['cpu']} on CPU, {DEFAULT_STEPS['cuda']} on CUDA")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (TrainSpec.amp, CUDA only)")
    parser.add_argument("--channels-last", action="store_true", help="TrainSpec.channels_last")
    parser.add_argument("--compile", action="store_true", help="torch.compile the classifier (TrainSpec.compile)")
    parser.add_argument("--workers", type=int, default=1,
                        help="runs measured at once, each in its own one-thread process (how the stages train)")
    parser.add_argument("--gan-width", type=int, default=64, help="ARPL+CS: the GAN's ngf = ndf (paper: 64)")
    parser.add_argument("--no-save", action="store_true", help=f"do not append rows to {RESULTS_CSV.name}")
    args = parser.parse_args(argv)
    device_type = torch.device(args.device).type
    if device_type not in DEFAULT_STEPS:
        parser.error(f"--device must be cpu or cuda[:N], got {args.device!r}")
    if device_type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was asked for but CUDA is not available; use --device cpu")
    if device_type == "cpu" and args.amp:
        parser.error("--amp only applies on CUDA (fit ignores it on CPU); drop it")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.workers < 1 or args.gan_width < 1:
        parser.error("--workers and --gan-width must be at least 1")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    return args


def synthetic_data(network: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random uint8 images [count, C, H, W] of the network's input geometry and labels 0..5 (fixed seed)."""
    channels, size = NETWORKS[network]
    generator = torch.Generator().manual_seed(DATA_SEED)
    images = torch.randint(0, 256, (count, channels, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (count,), generator=generator)
    return images, labels


def specs_for(config: Config) -> tuple[ModelSpec, TrainSpec]:
    """The specs fit trains with: ARPL+CS is ARPL with confusing samples (Algorithm 2) and ABN (Sec. 4.2)."""
    confusing = config.method == "ARPL+CS"
    channels, size = NETWORKS[config.network]
    model_spec = ModelSpec(method="ARPL" if confusing else config.method, backbone=config.network,
                           num_classes=NUM_CLASSES, in_channels=channels, image_size=size, abn=confusing)
    train_spec = TrainSpec(epochs=2, batch_size=config.batch_size, confusing=confusing, amp=config.amp,
                           channels_last=config.channels_last, compile=config.compile, data_tag="benchmark",
                           ngf=config.gan_width, ndf=config.gan_width)
    return model_spec, train_spec


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process in MiB: allocated CUDA memory, or resident set size on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # Linux reports KiB


def steps_for(config: Config) -> int:
    """Timed batches of a measurement: ``--steps``, else the default for the device type and network."""
    if config.steps is not None:
        return config.steps
    return DEFAULT_STEPS[torch.device(config.device).type][config.network]


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have used since boot (Linux /proc/stat), None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds this process (all its threads) has used."""
    times = os.times()
    return times.user + times.system


def measure(config: Config) -> dict:
    """Train two epochs with fit and return the second (timed) epoch's throughput, the peak memory, the
    memory already in use before training (``runtime_mb``: on CPU, the Python and PyTorch runtime) and
    how many CPU cores other processes kept busy on average meanwhile (``other_cores``, None off Linux)."""
    device = torch.device(config.device)
    runtime_mb = peak_memory_mb(device)
    dataset_images = steps_for(config) * config.batch_size
    images, labels = synthetic_data(config.network, dataset_images)
    model_spec, train_spec = specs_for(config)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    busy_start, own_start, tic = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arpl-bench-") as run_dir, contextlib.redirect_stdout(io.StringIO()):
        result = fit(model_spec, train_spec, images, labels, run_dir, device=device, label=config.method)
    wall = time.perf_counter() - tic
    busy_end = machine_busy_seconds()
    others = None if busy_end is None else (busy_end - busy_start - own_cpu_seconds() + own_start) / wall
    timed = result.history[-1]
    return {"device": device_name(device), "images_per_s": timed["images_per_s"],
            "seconds_per_epoch": timed["seconds"] * EPOCH_IMAGES / dataset_images,
            "peak_memory_mb": peak_memory_mb(device), "runtime_mb": runtime_mb,
            "other_cores": others}


def measure_in_fresh_process(config: Config) -> dict:
    """Run :func:`measure` in a new process, so peak memory and caches do not carry over between rows."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure, config).result()


_BARRIER = None
BARRIER_TIMEOUT_S = 600


def _join_measurement(barrier) -> None:
    global _BARRIER
    _BARRIER = barrier
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


def _measure_in_turn(configs: list[Config]) -> list[dict]:
    """In a worker: each config after all workers reached it, so that their timed epochs overlap."""
    results = []
    for config in configs:
        _BARRIER.wait(BARRIER_TIMEOUT_S)
        results.append(measure(config))
    return results


def measure_together(configs: list[Config], workers: int) -> list[dict]:
    """Each config trained by ``workers`` one-thread processes at once (how the stages train independent runs,
    arpl.pipeline.runs.workers), one config after another in the same processes: per config the aggregate images/s
    (the sum of the processes' timed epochs, which overlap), the seconds an epoch of :data:`EPOCH_IMAGES` takes at
    that rate and the largest peak memory of one process."""
    context = get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_join_measurement,
                             initargs=(context.Barrier(workers),)) as pool:
        per_worker = list(pool.map(_measure_in_turn, [configs] * workers))
    combined = []
    for index in range(len(configs)):
        results = [worker[index] for worker in per_worker]
        images_per_s = sum(result["images_per_s"] for result in results)
        loads = [result["other_cores"] for result in results if result["other_cores"] is not None]
        combined.append({**results[0], "images_per_s": images_per_s,
                         "seconds_per_epoch": EPOCH_IMAGES / images_per_s,
                         "peak_memory_mb": max(result["peak_memory_mb"] for result in results),
                         "other_cores": max(loads) if loads else None})
    return combined


def csv_row(config: Config, measured: dict, date: str) -> dict:
    """One results.csv row (columns :data:`CSV_COLUMNS`)."""
    return {"date": date, "device": measured["device"], "torch": torch.__version__, "method": config.method,
            "network": config.network, "batch_size": config.batch_size, "amp": config.amp,
            "channels_last": config.channels_last, "compile": config.compile,
            "images_per_s": f"{measured['images_per_s']:.1f}",
            "seconds_per_epoch": f"{measured['seconds_per_epoch']:.1f}",
            "peak_memory_mb": f"{measured['peak_memory_mb']:.0f}", "workers": config.workers,
            "gan_width": config.gan_width}


def append_rows(path: Path, rows: list[dict]) -> None:
    """Append rows to the CSV at ``path``; a file written before a column of :data:`CSV_COLUMNS` existed is
    rewritten first with that column's :data:`COLUMN_DEFAULTS`."""
    old_rows = list(csv.DictReader(path.open())) if path.exists() and path.stat().st_size else []
    if old_rows and tuple(old_rows[0]) != CSV_COLUMNS:
        rewritten = [{column: row.get(column, COLUMN_DEFAULTS.get(column, "")) for column in CSV_COLUMNS}
                     for row in old_rows]
        write_rows(path, rewritten)
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        if not old_rows:
            writer.writeheader()
        writer.writerows(rows)


def write_rows(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` (columns :data:`CSV_COLUMNS`) to ``path`` through a temporary file."""
    partial = path.with_suffix(".partial")
    with partial.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, path)


def format_table(configs: list[Config], rows: list[dict], measured: list[dict]) -> str:
    """A fixed-width table of the measurements; ``others`` = CPU cores other processes kept busy meanwhile."""
    lines = [f"{'method':<9} {'network':<13} {'steps':>6} {'images/s':>9} {'s/epoch':>9} {'peak MB':>8} "
             f"{'others':>7}"]
    for config, row, result in zip(configs, rows, measured):
        others = "-" if result["other_cores"] is None else f"{result['other_cores']:.2f}"
        lines.append(f"{row['method']:<9} {row['network']:<13} {steps_for(config):>6} {row['images_per_s']:>9} "
                     f"{row['seconds_per_epoch']:>9} {row['peak_memory_mb']:>8} {others:>7}")
    return "\n".join(lines)


def print_warnings(measured: list[dict], dvc_was_running: bool) -> None:
    """Say when other work on the machine made the numbers lower than on an idle one."""
    if dvc_was_running:
        print("warning: a `dvc repro` was running during this benchmark; numbers are lower than on an idle machine")
    loads = [result["other_cores"] for result in measured if result["other_cores"] is not None]
    if loads and max(loads) > BUSY_WARNING_CORES:
        print(f"warning: other processes kept up to {max(loads):.2f} CPU cores busy during the measurements "
              f"(column 'others'); rows with a high value are lower than on an idle machine")


def dvc_repro_running() -> bool:
    """Whether a ``dvc repro`` process is running on this machine (it would slow CPU numbers down)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            arguments = cmdline.read_bytes().split(b"\0")
            if any(arg.endswith(b"dvc") for arg in arguments) and b"repro" in arguments:
                return True
    return False


def main(argv: list[str] | None = None) -> None:
    """Measure every requested (method, network), print the table and append the rows to results.csv."""
    args = parse_args(argv)
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    configs = [Config(method, network, args.device, args.batch_size, args.steps, args.amp, args.channels_last,
                      args.compile, args.workers, args.gan_width)
               for network in args.networks for method in args.methods]
    print(f"device={args.device} batch={args.batch_size} amp={args.amp} channels_last={args.channels_last} "
          f"compile={args.compile}; each row: a warm-up epoch, then a timed epoch of `steps` batches", flush=True)
    on_cpu = torch.device(args.device).type == "cpu"
    dvc_was_running = on_cpu and dvc_repro_running()
    if args.workers > 1:
        print(f"  measuring every row with {args.workers} processes at once ...", flush=True)
        measured = measure_together(configs, args.workers)
    else:
        measured = []
        for config in configs:
            print(f"  measuring {config.method} on {config.network} ...", flush=True)
            measured.append(measure_in_fresh_process(config))
    dvc_was_running = dvc_was_running or (on_cpu and dvc_repro_running())
    rows = [csv_row(config, result, date) for config, result in zip(configs, measured)]
    runtime_mb = [result["runtime_mb"] for result in measured]
    print(f"\n{rows[0]['device']}, torch {torch.__version__}")
    print(format_table(configs, rows, measured))
    print(f"images/s: fit's own figure for the timed epoch (ARPL+CS counts each image twice: confusing-sample "
          f"pass + focus pass); s/epoch: {EPOCH_IMAGES:,} images; peak MB includes "
          f"{min(runtime_mb):.0f}-{max(runtime_mb):.0f} MB in use before training")
    print_warnings(measured, dvc_was_running)
    if not args.no_save:
        append_rows(RESULTS_CSV, rows)
        print(f"appended {len(rows)} rows to {RESULTS_CSV}")


if __name__ == "__main__":
    main()
