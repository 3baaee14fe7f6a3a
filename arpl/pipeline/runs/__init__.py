"""Training runs: their names, folders, checkpoints, seeds, display names and device, in one place.

A run lives in ``runs/<stage>/<method or variant>/<folder>`` and is named for the data it trains on:

=============  ===========================================================  ============
run            trains on                                                    seed offset
=============  ===========================================================  ============
``split<i>``   the known classes of open-set trial ``i`` (Sec. 5.2)         ``i``
``all``        every class (the OOD and closed-set model, Sec. 5.3, 5.5.1)  100
``order<i>``   the base classes of class order ``i`` (Sec. 5.5.4)           200 + ``i``
``known<K>``   a random split with ``K`` known classes (Fig. 11, 12)        300 + ``K``
=============  ===========================================================  ============

Its seed is ``run.seed`` plus the offset, so runs on different data never share a random stream, and the same
run in another stage (a figure model on split 0) starts from the same seed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from arpl.methods import display_name, get_variant, registered_name
from arpl.training.checkpoint import checkpoint_in
from arpl.training.distributed import DistContext, resolve_device

if TYPE_CHECKING:   # not at run time: the params module is no part of a run's code (arpl.code_identity)
    from arpl.pipeline.params import Params

RUNS = Path("runs")
ALL_CLASSES = "all"
SEED_OFFSETS = {"split": 0, ALL_CLASSES: 100, "order": 200, "known": 300}
_RUN_NAME = re.compile(r"^(?P<kind>split|order|known)(?P<number>\d+)$")


def split_run(index: int) -> str:
    """The run of open-set trial ``index``."""
    return f"split{index}"


def order_run(index: int) -> str:
    """The base model of class order ``index`` (class-incremental stage)."""
    return f"order{index}"


def known_run(count: int) -> str:
    """A model of a random split with ``count`` known classes (ablations and figures)."""
    return f"known{count}"


def split_index(run: str) -> int:
    """The trial index of run ``split<i>``."""
    match = _RUN_NAME.match(run)
    if match is None or match["kind"] != "split":
        raise ValueError(f"run {run!r} is no open-set trial; those are named split<i> (split_run)")
    return int(match["number"])


def seed_offset(run: str) -> int:
    """What a run adds to ``run.seed`` (see the table above): ``split3`` -> 3, ``all`` -> 100, ``order2`` -> 202,
    ``known4`` -> 304."""
    if run == ALL_CLASSES:
        return SEED_OFFSETS[ALL_CLASSES]
    match = _RUN_NAME.match(run)
    if match is None:
        raise ValueError(f"run {run!r} is not one of split<i>, all, order<i>, known<K>; name it with "
                         f"split_run, order_run or known_run of arpl.pipeline.runs")
    return SEED_OFFSETS[match["kind"]] + int(match["number"])


def run_path(stage: str, name: str, folder: str) -> Path:
    """Folder of one training run: ``runs/<stage>/<method or variant>/<folder>`` (the folder is the run's name,
    or, for the ablations, the lambda it varies; a method named by import path, ``module:Class``, goes by its
    registered name)."""
    return RUNS / stage / registered_name(name) / folder


def checkpoint_path(stage: str, name: str, folder: str) -> Path:
    """The checkpoint of run :func:`run_path` ``(stage, name, folder)``."""
    return checkpoint_in(run_path(stage, name, folder))


def stage_runs(params: Params, variant: str | None = None) -> list[str]:
    """The runs of a method (or of ARPL+CS ``variant``): ``split<i>`` per trial, and ``all`` (the all-class
    model) when ``train.closed_set`` is on. The ablations of ARPL+CS (w/o ABN, w/o FT) train only on the first
    ``confusing.ablation_trials`` splits (null = all): the paper shows them in Tables 3-4 (all classes) and
    Fig. 10 (one run), not in Tables 1-2."""
    splits = params.data.splits
    if variant is not None and get_variant(variant).ablation and params.confusing.ablation_trials is not None:
        splits = splits[:params.confusing.ablation_trials]
    return [split_run(split) for split in splits] + ([ALL_CLASSES] if params.train.closed_set else [])


def trained_runs(params: Params, stage: str, name: str) -> list[str]:
    """The runs that ``stage`` trains of method (stage ``train``) or ARPL+CS variant (stage ``confusing``)
    ``name``: :func:`stage_runs`, restricted for the variants that are ablations."""
    return stage_runs(params, name if stage == "confusing" else None)


def method_name(method_or_variant: str) -> str:
    """Display name: Softmax, GCPL, RPL, ARPL, ARPL+CS, ARPL+CS (w/o ABN), ARPL+CS (w/o FT), or a registered
    method's own."""
    return display_name(method_or_variant)


def device(params: Params, context: DistContext = DistContext()) -> torch.device:
    """The device of ``run.device`` (``auto``: CUDA when available)."""
    return resolve_device(params.run.device, context)
