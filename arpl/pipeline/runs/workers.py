"""Independent training runs side by side: one single-thread process per CPU core, or several processes
sharing a GPU.

On a few CPU cores, one process whose torch threads compete with anything else running slows down
several-fold, while one-thread processes side by side keep their speed. On a GPU one run of the paper's small
networks leaves most of the chip idle between its kernels; several runs in their own processes fill it. A stage
that trains several independent runs (splits, methods, lambdas, class orders) therefore hands them to
:func:`train_ahead` first: the runs are trained in worker processes into their run folders, and the stage's own
loop then finds every checkpoint finished and only loads it (``arpl.training.fit`` reuses a finished run whose
fingerprint matches). Results do not depend on the number of workers: each run is seeded by itself, and
workers always compute with one thread. Under torchrun the runs stay in this process, one after another.

What a worker prints (its epoch lines) is printed again by this process, line by line, so that in a stage
notebook it reaches the cell's output and papermill's log once, like the stage's own prints.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Callable

import torch

from arpl.pipeline.params import Params


GPU_RUN_MEMORY_GB = 6.0  # GPU memory one run may take, its CUDA context included (the paper's 32-64 px networks
#                          at batch 64-128 take 1-3 GB; ResNet at 224 px more)
MAX_GPU_WORKERS = 8      # processes sharing one GPU: beyond this they mostly wait for each other's kernels


def worker_count(params: Params) -> int:
    """Processes for independent runs: ``run.workers``, or for 0 one per CPU core on the CPU and, on a GPU, as
    many as its free memory holds at :data:`GPU_RUN_MEMORY_GB` each (at most :data:`MAX_GPU_WORKERS` and the
    CPU cores). One under torchrun, whose processes share each run."""
    from arpl.training.distributed import resolve_device

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1
    device = resolve_device(params.run.device)
    if params.run.workers:
        return params.run.workers
    cores = len(os.sched_getaffinity(0))
    if device.type == "cpu":
        return cores
    free_bytes, _ = torch.cuda.mem_get_info(device)
    return max(1, min(MAX_GPU_WORKERS, cores, int(free_bytes / 2**30 // GPU_RUN_MEMORY_GB)))


def train_ahead(params: Params, runs: list[Callable[[], object]]) -> None:
    """Train ``runs`` (picklable zero-argument callables, e.g. ``functools.partial`` of a module-level
    function that calls ``arpl.pipeline.runs.trained.train_run``) in :func:`worker_count` single-thread processes, in
    the order given (longest first balances the workers best). With one worker this does nothing: the caller's loop
    trains them in this process."""
    workers = min(worker_count(params), len(runs))
    if workers <= 1:
        return
    context = get_context("spawn")
    lines = context.Queue()
    printer = threading.Thread(target=_print_lines, args=(lines,), daemon=True)
    printer.start()
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(lines,)) as pool:
            for _ in pool.map(_discard_result, runs):
                pass
    finally:
        lines.put(None)
        printer.join()


class _LineSender(io.TextIOBase):
    """A worker's ``sys.stdout``: whole lines go to the parent's queue (no interleaving of two workers' lines)."""

    def __init__(self, lines) -> None:
        super().__init__()
        self.lines, self.pending = lines, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        complete, newline, self.pending = (self.pending + text).rpartition("\n")
        if newline:
            self.lines.put(complete + newline)
        return len(text)

    def flush(self) -> None:
        pass


def _print_lines(lines) -> None:
    while (text := lines.get()) is not None:
        sys.stdout.write(text)
        sys.stdout.flush()


def _start_worker(lines) -> None:
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    sys.stdout = _LineSender(lines)


def _discard_result(run: Callable[[], object]) -> None:
    run()  # the trained model is on disk; sending it back would only cost time
