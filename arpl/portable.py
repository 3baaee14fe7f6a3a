"""Portable CPU kernels (``run.portable_kernels``): the same floating-point results on every x86-64 CPU.

PyTorch picks its CPU kernels by the CPU it runs on, and kernels of different vector widths round and sum in
different orders: ATen's own kernels (elementwise ops, reductions, batch norm, and the random number kernels
that initialise the weights) come in ``default`` / ``avx2`` / ``avx512`` builds, oneDNN (the convolutions)
generates code for the machine's ISA, and MKL (matrix products) takes a code path per CPU. On the same
params and seed, an AVX2 machine and an AVX-512 one therefore start from different initial weights and
part further with every batch (``benchmarks/kernel_divergence.py`` shows where; ``docs/reproducibility.md``
has the findings and the cost).

With ``run.portable_kernels: true`` every process of the pipeline computes with kernels that do not depend
on the CPU (:data:`PORTABLE_ENV` and :func:`apply_backend_flags`):

- ``ATEN_CPU_CAPABILITY=default``: ATen's baseline build, the same machine code on every x86-64 CPU;
- ``MKL_CBWR=COMPATIBLE``: MKL's conditional numerical reproducibility, one code path on every CPU;
- oneDNN and NNPACK off: convolutions go through ATen's own im2col and MKL's matrix product;
- one thread per process (the pipeline's CPU workers have one anyway).

How it reaches every process: each DVC stage runs ``python -m arpl ...``, which calls :func:`set_environment`
with ``params.yaml`` before anything imports torch; the papermill kernel of a stage notebook and the spawned
one-thread workers of :mod:`arpl.pipeline.runs.workers` inherit that environment, and ``import arpl`` in each of them
calls :func:`apply_backend_flags` (the two backend switches are per process, not environment variables).
A process started another way (a script of your own) gets the same by setting :data:`PORTABLE_ENV` and
``ARPL_PORTABLE_KERNELS=1`` before it starts.

This module must not import torch at import time: it runs before torch's first import.
"""

from __future__ import annotations

import os
from pathlib import Path

SWITCH = "ARPL_PORTABLE_KERNELS"  # "1" in the environment of every process that runs with portable kernels
# What ATen, MKL and oneDNN read once, when they start: set before torch is imported.
PORTABLE_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41"}


def requested(params_path: str | Path = "params.yaml") -> bool:
    """``run.portable_kernels`` of ``params_path`` (False when the file or the key is absent). Reads the YAML
    only, without the schema (which imports the package's registries, and so torch): the stage itself
    validates the file right after."""
    import yaml

    path = Path(params_path)
    if not path.is_file():
        return False
    try:
        params = yaml.safe_load(path.read_text())
        return params["run"]["portable_kernels"] is True
    except (yaml.YAMLError, TypeError, KeyError):
        return False  # the stage's own validation reports the broken file


def set_environment(on: bool) -> None:
    """Put the portable settings into ``os.environ`` (``on``), so that this process's torch, once imported,
    and every process started from it use them; ``on=False`` changes nothing. Raises RuntimeError if torch is
    already imported, since ATen and MKL would then have read their settings already."""
    if not on:
        return
    import sys

    if "torch" in sys.modules and not active():
        raise RuntimeError("run.portable_kernels: torch was imported before the portable kernel settings were "
                           "set; call arpl.portable.set_environment before the first `import torch`")
    os.environ.update(PORTABLE_ENV)
    os.environ[SWITCH] = "1"


def active() -> bool:
    """Whether this process runs with portable kernels (its environment says so)."""
    return os.environ.get(SWITCH) == "1"


def apply_backend_flags() -> None:
    """Turn oneDNN and NNPACK off and compute with one thread in this process when :func:`active` (called by
    ``import arpl``): a parallel reduction splits its work by the thread count, so a run trained in the stage's
    own process (``run.workers: 1``, or a stage with one run) would otherwise depend on the machine's cores."""
    if not active():
        return
    import torch

    torch.backends.mkldnn.enabled = False
    torch.backends.nnpack.set_flags(False)
    torch.set_num_threads(1)


def state() -> dict:
    """What this process computes with, for the report and the checks: the switch, the environment
    variables and torch's kernel choices."""
    import torch

    return {"portable": active(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(),
            "mkldnn": bool(torch.backends.mkldnn.enabled), "nnpack": bool(torch._C._get_nnpack_enabled()),
            **{name: os.environ.get(name) for name in PORTABLE_ENV}}


def check_process(wanted: bool) -> None:
    """Raise RuntimeError when a run asks for portable kernels (``wanted``) but this process computes with the
    machine's own: its checkpoint would claim numbers it does not have."""
    if wanted and not active():
        raise RuntimeError("run.portable_kernels is true, but this process was started without the portable "
                           "kernel settings: run the stage through `python -m arpl ...` (dvc repro does), or set "
                           f"{SWITCH}=1 and {', '.join(f'{k}={v}' for k, v in PORTABLE_ENV.items())} before "
                           "starting python")
