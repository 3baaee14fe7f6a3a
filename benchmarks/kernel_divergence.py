"""Where do two CPU kernel settings first give different numbers? A bitwise trace of real training batches.

Trains the first ``--batches`` batches of one run of the default profile (``--method`` on ``--split``: the
profile's network, data, seed and optimiser, through arpl's own ``run_specs`` / ``build_parts`` / ``Batches``)
once per kernel setting, each in a fresh one-thread process whose environment is set before torch is imported.
Every aten operation of forward, backward and optimiser step is logged (a ``TorchDispatchMode``) with a digest
of its output bytes, so the comparison names the first operation, in execution order, whose output differs
from the reference setting (the first one listed), the batch it belongs to and the size of the difference,
and the loss of every batch.

Settings are ``NAME:VAR=VALUE,VAR=VALUE[,mkldnn=0][,nnpack=0]``; the environment variables are any of
ATen's ``ATEN_CPU_CAPABILITY`` (default | avx2 | avx512), oneDNN's ``ONEDNN_MAX_CPU_ISA`` (SSE41 | AVX | AVX2 |
AVX512_CORE ...), MKL's ``MKL_CBWR`` (COMPATIBLE | AVX2 | AUTO ...); ``mkldnn=0`` / ``nnpack=0`` switch those
backends off in torch. On a machine of one ISA, limiting the ISA further emulates an older CPU; a setting
is portable only if limiting further changes nothing.

Across machines: ``--record`` appends each setting's digests (initial and final weights, last loss) with this
CPU's model and ISA to ``benchmarks/kernel_digests.csv`` (committed), and every run compares its digests with the
rows recorded on other CPUs for the same setting, torch, method, split and batches: a portable setting must
match them bitwise; the machine's own kernels need not.

Usage (from the repository root; about 10 s per setting for 20 batches):
    python benchmarks/kernel_divergence.py                       # the settings of KNOWN_SETTINGS
    python benchmarks/kernel_divergence.py --batches 40 native: isa-default:ATEN_CPU_CAPABILITY=default
    python benchmarks/kernel_divergence.py --batches 10 --record native: pinned:ATEN_CPU_CAPABILITY=default,...
Not a test: it reports what this machine's kernels do.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIGESTS = ROOT / "benchmarks" / "kernel_digests.csv"
DIGEST_COLUMNS = ("date", "cpu", "isa", "torch", "capability", "setting", "environment", "method", "split", "batches",
                  "initial", "final", "last_loss")
PINNED = "ATEN_CPU_CAPABILITY=default,MKL_CBWR=COMPATIBLE,mkldnn=0,nnpack=0"
ONEDNN_PINNED = "ATEN_CPU_CAPABILITY=default,MKL_CBWR=COMPATIBLE,ONEDNN_MAX_CPU_ISA=SSE41"
KNOWN_SETTINGS = (
    "native:",
    "aten-default:ATEN_CPU_CAPABILITY=default",
    "aten-default-no-fma:ATEN_CPU_CAPABILITY=default,GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,-AVX",
    "onednn-sse41:ONEDNN_MAX_CPU_ISA=SSE41",
    "mkl-compatible:MKL_CBWR=COMPATIBLE",
    "mkl-compatible-sse42:MKL_CBWR=COMPATIBLE,MKL_ENABLE_INSTRUCTIONS=SSE4_2",
    "no-mkldnn:mkldnn=0,nnpack=0",
    f"pinned:{PINNED}",
    f"pinned-mkl-sse42:{PINNED},MKL_ENABLE_INSTRUCTIONS=SSE4_2",
    f"pinned-no-fma:{PINNED},GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,-AVX",
    f"onednn-pinned:{ONEDNN_PINNED}",
    f"onednn-pinned-avx2:{ONEDNN_PINNED.replace('SSE41', 'AVX2')}",
    f"onednn-pinned-mkl-sse42:{ONEDNN_PINNED},MKL_ENABLE_INSTRUCTIONS=SSE4_2",
)


def parse_setting(text: str) -> tuple[str, dict[str, str], dict[str, bool]]:
    """``NAME:VAR=VALUE,...`` -> (name, environment, torch backend flags)."""
    name, _, rest = text.partition(":")
    env, flags = {}, {}
    for item in filter(None, re.split(r",(?=[A-Za-z_]+=)", rest)):
        key, _, value = item.partition("=")
        if key in ("mkldnn", "nnpack"):
            flags[key] = value not in ("0", "false", "off")
        else:
            env[key] = value
    return name, env, flags


def trace(out: Path, method: str, split: int, batches: int, flags: dict[str, bool]) -> None:
    """Child process: train ``batches`` batches, write the op log, the losses and the final weights to ``out``."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    sys.path.insert(0, str(ROOT))
    from arpl.data.batches import Batches
    from arpl.pipeline.params.profiles import profile_params
    from arpl.pipeline.runs.images import open_set
    from arpl.pipeline.runs.specs import run_specs
    from arpl.pipeline.runs import split_run
    from arpl.training.parts import build_parts
    from arpl.training.step import memory_format

    torch.set_num_threads(1)
    if "mkldnn" in flags:
        torch.backends.mkldnn.enabled = flags["mkldnn"]
    if "nnpack" in flags:
        torch.backends.nnpack.set_flags(flags["nnpack"])
    params = profile_params("cpu-default")
    params.run.data_root = str(ROOT / params.run.data_root)
    data = open_set(params, split)
    model, spec = run_specs(params, method, len(data.train_known.classes), split_run(split))
    parts = build_parts(model, spec, torch.device("cpu"))
    initial = torch.cat([p.detach().flatten() for p in parts.net.parameters()])
    source = Batches(data.train_known.images, data.train_known.labels, batch_size=spec.batch_size, seed=spec.seed)
    log: list[list] = []
    first: dict[str, torch.Tensor] = {}

    class Log(TorchDispatchMode):
        batch = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            result = func(*args, **(kwargs or {}))
            tensors = [t for t in (result if isinstance(result, (tuple, list)) else [result])
                       if isinstance(t, torch.Tensor) and t.is_floating_point()]
            for k, t in enumerate(tensors):
                digest = hashlib.blake2b(t.detach().contiguous().numpy().tobytes(), digest_size=8).hexdigest()
                key = f"{self.batch}:{len(log)}:{k}"
                log.append([self.batch, str(func), k, digest])
                if self.batch < 2:
                    first[key] = t.detach().clone()
            return result

    losses = []
    torch.manual_seed(spec.seed * 1_000_003)  # epoch_seed(seed, 0), as fit does
    parts.net.train()
    mode = Log()
    for index, (x, y) in enumerate(source.epoch(0)):
        if index == batches:
            break
        mode.batch = index
        with mode:
            logits, loss = parts.net(memory_format(x, spec), y)
            parts.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            parts.optimizer.step()
        losses.append(float(loss.detach()).hex())
    weights = torch.cat([p.detach().flatten() for p in parts.net.parameters()])
    torch.save({"initial": initial, "log": log, "first": first, "losses": losses, "weights": weights,
                "capability": torch.backends.cpu.get_cpu_capability(),
                "mkldnn": torch.backends.mkldnn.enabled}, out)


def run_setting(text: str, method: str, split: int, batches: int, folder: Path) -> dict:
    """Trace one setting in a fresh process; returns what it wrote."""
    name, env, flags = parse_setting(text)
    out = folder / f"{name}.pt"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **env}
    for var in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "GLIBC_TUNABLES"):
        if var not in env:
            environment.pop(var, None)
    command = [sys.executable, __file__, "--child", str(out), "--method", method, "--split", str(split),
               "--batches", str(batches), "--flags", json.dumps(flags)]
    subprocess.run(command, env=environment, check=True, cwd=ROOT)
    import torch

    return {"name": name, **torch.load(out, weights_only=False)}


def compare(reference: dict, other: dict) -> str:
    """One line: identical, or the first differing op (batch, index, name) and how much the run moved."""
    import torch

    init_gap = float((other["initial"] - reference["initial"]).abs().max())
    init = "initial weights identical" if init_gap == 0 else f"initial weights differ (max |diff| {init_gap:.3g})"
    if other["losses"] == reference["losses"] and torch.equal(other["weights"], reference["weights"]):
        same_ops = [a[:3] for a in other["log"]] == [a[:3] for a in reference["log"]]
        return "identical initial weights, losses, every op and final weights" if same_ops and init_gap == 0 \
            else init + "; identical losses and final weights" + ("" if same_ops else " (other op sequence)")
    first_loss = next(i for i, (a, b) in enumerate(zip(reference["losses"], other["losses"])) if a != b) \
        if other["losses"] != reference["losses"] else None
    text = init + "; " + (f"losses first differ at batch {first_loss}" if first_loss is not None else "losses equal")
    weight_gap = float((other["weights"] - reference["weights"]).abs().max())
    text += f"; final weights max |diff| {weight_gap:.3g}"
    for index, (a, b) in enumerate(zip(reference["log"], other["log"])):
        if a[:3] != b[:3]:
            return text + f"; op sequences part at op {index} of batch {a[0]} ({a[1]} vs {b[1]})"
        if a[3] != b[3]:
            key = f"{a[0]}:{index}:{a[2]}"
            gap = ""
            if key in reference["first"] and key in other["first"]:
                x, y = reference["first"][key], other["first"][key]
                if x.shape == y.shape:
                    gap = f", max |diff| {float((x - y).abs().max()):.3g} of max |x| {float(x.abs().max()):.3g}"
            return text + f"; first differing op: batch {a[0]}, op {index} ({a[1]}{gap})"
    return text


def cpu_model() -> tuple[str, str]:
    """This CPU's model name and the widest vector ISA it has (avx512 / avx2 / sse4.2), from /proc/cpuinfo."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    isa = next((name for flag, name in (("avx512f", "avx512"), ("avx2", "avx2"), ("sse4_2", "sse4.2")) if flag in flags),
               "?")
    return model, isa


def digest_row(result: dict, text: str, method: str, split: int, batches: int) -> dict:
    """One row of :data:`DIGESTS`: the digests of one setting's run on this CPU."""
    import torch

    def digest(tensor) -> str:
        return hashlib.blake2b(tensor.contiguous().numpy().tobytes(), digest_size=8).hexdigest()

    model, isa = cpu_model()
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "cpu": model, "isa": isa,
            "torch": torch.__version__, "capability": result["capability"], "setting": result["name"],
            "environment": text.partition(":")[2], "method": method, "split": split, "batches": batches,
            "initial": digest(result["initial"]), "final": digest(result["weights"]), "last_loss": result["losses"][-1]}


def across_machines(row: dict, recorded: list[dict]) -> str:
    """How ``row`` compares with the rows recorded on other CPUs for the same run (empty: none recorded)."""
    same_run = [r for r in recorded if all(str(r[k]) == str(row[k]) for k in ("environment", "torch", "method", "split",
                                                                               "batches"))
                and (r["cpu"], r["isa"]) != (row["cpu"], row["isa"])]
    return "; ".join(f"{'same digests as' if r['final'] == row['final'] and r['initial'] == row['initial'] else 'DIFFERS from'} "
                     f"{r['cpu']} ({r['isa']}, {r['date'][:10]})" for r in same_run)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", nargs="*", default=list(KNOWN_SETTINGS))
    parser.add_argument("--method", default="ARPL")
    parser.add_argument("--split", type=int, default=1)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--record", action="store_true", help=f"append the digests to {DIGESTS.relative_to(ROOT)}")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--flags", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        trace(args.child, args.method, args.split, args.batches, json.loads(args.flags))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        results = [run_setting(text, args.method, args.split, args.batches, Path(folder)) for text in args.settings]
    print(f"{args.method} split {args.split}, {args.batches} batches; each setting against the longest earlier "
          f"one its name starts with, else the first ({results[0]['name']})")
    for index, result in enumerate(results[1:], 1):
        bases = [r for r in results[:index] if result["name"].startswith(r["name"] + "-")] or results[:1]
        reference = max(bases, key=lambda r: len(r["name"]))
        print(f"  {result['name']} vs {reference['name']} (ATen {result['capability']}, mkldnn {result['mkldnn']}, "
              f"{len(result['log'])} ops): {compare(reference, result)}", flush=True)
    recorded = list(csv.DictReader(DIGESTS.open())) if DIGESTS.exists() else []
    rows = [digest_row(result, text, args.method, args.split, args.batches) for result, text in zip(results, args.settings)]
    print(f"final-weight digests on {rows[0]['cpu']} ({rows[0]['isa']}), against other CPUs in {DIGESTS.name}:")
    for row in rows:
        print(f"  {row['setting']}: {row['final']}  {across_machines(row, recorded) or '(no other CPU recorded)'}")
    if args.record:
        new = not DIGESTS.exists()
        with DIGESTS.open("a", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=DIGEST_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
