"""What portable CPU kernels (``run.portable_kernels``, arpl/portable.py) cost in training speed.

Measures the default profile's training (the ``small`` network, 28x28x1, batch 64, channels-last, one thread:
what each pipeline worker does) with ``benchmarks/train_throughput.py``'s ``measure`` (the real ``fit``, one
warm-up epoch then one timed epoch of ``--steps`` batches), alternately with the machine's own kernels
(``native``), with :data:`arpl.portable.PORTABLE_ENV` plus oneDNN/NNPACK off (``portable``, what the switch
does) and with the portable environment but oneDNN kept at its lowest ISA (``portable-onednn``, an
alternative that is not verifiably portable: see docs/reproducibility.md). Each measurement runs in a fresh
process whose environment is set before torch is imported; rounds alternate the settings, so a change of load
on a shared machine hits all of them alike. Prints images/s per setting (median over rounds) and the ratio to
native, both as wall-clock images/s and as images per CPU-second of the measuring process (the better
figure on a loaded machine), and appends one row per measurement to benchmarks/portable_cost.csv (unless --no-save).

Usage (about 15 s per measurement on an idle 2-core CPU):
    python benchmarks/portable_cost.py                          # ARPL and Softmax, 3 rounds
    python benchmarks/portable_cost.py --methods ARPL --rounds 5 --steps 200
Not a test: numbers depend on the machine and its load (column other_cores).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_CSV = Path(__file__).resolve().parent / "portable_cost.csv"
CSV_COLUMNS = ("date", "device", "torch", "method", "setting", "channels_last", "round", "steps", "images_per_s",
               "images_per_cpu_s", "other_cores")
SETTINGS = ("native", "portable", "portable-onednn")


def environment(setting: str) -> dict:
    """The environment of a measurement's process: without any of the portable variables (native), with
    all of them and the arpl switch (portable), or with them but oneDNN on at SSE4.1 (portable-onednn)."""
    sys.path.insert(0, str(ROOT))
    from arpl.portable import PORTABLE_ENV, SWITCH

    env = {key: value for key, value in os.environ.items() if key not in (*PORTABLE_ENV, SWITCH)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if setting == "portable":
        env.update(PORTABLE_ENV, **{SWITCH: "1"})
    elif setting == "portable-onednn":
        env.update(PORTABLE_ENV)
    return env


def child(method: str, steps: int, channels_last: bool = True) -> None:
    """One measurement in this process: print measure()'s result and the kernel state as JSON."""
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from train_throughput import Config, measure

    from arpl.portable import state

    before = os.times()
    result = measure(Config(method, "small", "cpu", 64, steps, amp=False, channels_last=channels_last,
                            compile=False))
    after = os.times()
    cpu_seconds = (after.user + after.system) - (before.user + before.system)
    # both epochs (warm-up and timed) per CPU-second of this process: much less sensitive to other load
    result["images_per_cpu_s"] = 2 * steps * 64 / cpu_seconds
    print(json.dumps({**result, "state": state()}))


def measure_setting(setting: str, method: str, steps: int, channels_last: bool = True) -> dict:
    """Run :func:`child` in a fresh process with :func:`environment` ``(setting)``."""
    command = [sys.executable, __file__, "--child", "--methods", method, "--steps", str(steps)]
    command += [] if channels_last else ["--no-channels-last"]
    done = subprocess.run(command, env=environment(setting), cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["ARPL", "Softmax"])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100, help="timed batches of 64 (after as many warm-up ones)")
    parser.add_argument("--no-channels-last", action="store_true", help="contiguous tensors (train.channels_last: "
                        "false) instead of the default's channels-last")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.methods[0], args.steps, not args.no_channels_last)
        return 0
    date = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = []
    for round_ in range(1, args.rounds + 1):
        for method in args.methods:
            for setting in args.settings:
                measured = measure_setting(setting, method, args.steps, not args.no_channels_last)
                expected = setting == "portable"
                if measured["state"]["portable"] != expected or measured["state"]["mkldnn"] == expected:
                    raise RuntimeError(f"{setting}: the process did not get its kernels: {measured['state']}")
                import torch

                row = {"date": date, "device": measured["device"], "torch": torch.__version__, "method": method,
                       "setting": setting, "channels_last": not args.no_channels_last, "round": round_, "steps": args.steps,
                       "images_per_s": round(measured["images_per_s"], 1),
                       "images_per_cpu_s": round(measured["images_per_cpu_s"], 1),
                       "other_cores": None if measured["other_cores"] is None else round(measured["other_cores"], 2)}
                rows.append(row)
                print(f"round {round_} {method:<8} {setting:<16} {row['images_per_s']:>8.0f} images/s, "
                      f"{row['images_per_cpu_s']:>6.0f} per CPU-second "
                      f"(other processes kept {row['other_cores']} cores busy)", flush=True)
    print("\nmedian over rounds (images/s wall; images per CPU-second), and against native:")
    for method in args.methods:
        for column in ("images_per_s", "images_per_cpu_s"):
            medians = {setting: statistics.median(r[column] for r in rows
                                                  if r["method"] == method and r["setting"] == setting)
                       for setting in args.settings}
            for setting, value in medians.items():
                ratio = f"  {value / medians['native']:.2f}x native" if "native" in medians else ""
                print(f"  {method:<8} {column:<17} {setting:<16} {value:>8.0f}{ratio}")
    if not args.no_save:
        new = not RESULTS_CSV.exists()
        with RESULTS_CSV.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerows(rows)
        print(f"appended {len(rows)} rows to {RESULTS_CSV.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
