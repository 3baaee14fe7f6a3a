"""Training runs of the pipeline: train (or resume, or reuse a finished) run, every run of a training stage,
the per-epoch test metrics they record, and the trained models the evaluation stages load.

Every stage that trains (train, confusing, incremental, figures, ablations) goes through :func:`train_run`, so
resuming, reusing a finished run and the one-thread workers of :mod:`arpl.pipeline.runs.workers` work the same in
each."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

import torch

from arpl import metrics
from arpl.data.imageset import ImageSet
from arpl.data.openset import OpenSetData, per_class_subset
from arpl.evaluate import predict
from arpl.methods import get_variant
from arpl.models import build_gan
from arpl.pipeline.params import Params
from arpl.pipeline.runs.workers import train_ahead, worker_count
from arpl.pipeline.runs.images import all_classes, open_set, with_train_subset
from arpl.pipeline.runs.specs import data_tag, run_specs
from arpl.pipeline.runs import (ALL_CLASSES, checkpoint_path, device, method_name, run_path, split_index, stage_runs,
                                trained_runs)
from arpl.portable import check_process
from arpl.training import EvaluateFn, FitResult, fit
from arpl.training.checkpoint import checkpoint_in, load_model, read_checkpoint
from arpl.training.distributed import DistContext
from arpl.training.network import build_model
from arpl.training.specs import ModelSpec, TrainSpec, fingerprint


def train_run(params: Params, method: str, images: ImageSet, run_dir: Path, run: str, variant: str | None = None,
              evaluate: EvaluateFn | None = None, context: DistContext = DistContext(),
              model_overrides: dict | None = None, train_overrides: dict | None = None,
              label: str | None = None) -> FitResult:
    """Train (or resume, or reuse a finished) ``method`` on ``images`` into ``run_dir``; ``run`` (see
    :mod:`arpl.pipeline.runs`) sets its seed and data tag, ``variant`` (cs, cs-no-abn, cs-no-ft) turns on Algorithm 2.
    ``label`` names the run in its epoch lines (default: method and run); give it whatever else tells runs apart.
    A finished run is loaded, not trained again (:func:`finished_result`). While :func:`train_ahead_unfinished`
    probes, nothing is trained or loaded (see there)."""
    model, train = run_specs(params, method, len(images.classes), run, variant, model_overrides, train_overrides)
    checkpoint = checkpoint_in(run_dir)
    payload = finished_payload(model, train, checkpoint)
    if _PROBING:
        if payload is None:
            raise _Unfinished(checkpoint)
        return FitResult(net=None, generator=None, history=payload["history"], checkpoint=checkpoint,
                         resumed_from=payload["epoch"])
    run_device = device(params, context)
    if payload is not None:
        return finished_result(model, train, payload, checkpoint, run_device)
    label = label or f"{method_name(variant or method)} {run}"
    return fit(model, train, images.images, images.labels, run_dir, device=run_device, evaluate=evaluate,
               context=context, progress=params.run.progress, label=label,
               checkpoint_every=checkpoint_every(params, run_device))


GPU_CHECKPOINT_EVERY = 10  # epochs; a GPU epoch takes seconds, its checkpoint and evaluation a good part of that


def checkpoint_every(params: Params, run_device: torch.device) -> int:
    """``run.checkpoint_every``, or for 0 every epoch on the CPU and every :data:`GPU_CHECKPOINT_EVERY` on a GPU."""
    chosen = params.run.checkpoint_every
    return chosen or (1 if run_device.type == "cpu" else GPU_CHECKPOINT_EVERY)


_PROBING: list[bool] = []   # non-empty while train_ahead_unfinished probes the runs of a stage


class _Unfinished(Exception):
    """Raised by a probed :func:`train_run` whose run would train (see :func:`train_ahead_unfinished`)."""


def finished_payload(model: ModelSpec, train: TrainSpec, checkpoint: Path) -> dict | None:
    """The payload of ``checkpoint`` when it holds the finished run of ``model`` and ``train`` (the same fingerprint,
    every epoch), else None."""
    payload = read_checkpoint(checkpoint) if checkpoint.is_file() else None
    if payload is None or payload["fingerprint"] != fingerprint(model, train) or payload["epoch"] < train.epochs:
        return None
    return payload


def finished_result(model: ModelSpec, train: TrainSpec, payload: dict, checkpoint: Path,
                    run_device: torch.device) -> FitResult:
    """What :func:`arpl.training.fit` returns for a finished run, without building its optimisers (creating the
    first one imports torch's compiler, seconds per stage): the networks built after the same seed (so the random
    state afterwards is the same too), with the checkpoint's weights, on the device in the same memory layout as
    :func:`arpl.training.parts.build_parts` gives them (tests/test_training.py compares the two)."""
    check_process(train.portable_kernels and run_device.type == "cpu")
    if run_device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as fit sets it
    torch.manual_seed(train.seed)
    net = build_model(model)
    generator = None
    if train.confusing:
        generator, _ = build_gan(model.image_size, model.in_channels, nz=train.nz, ngf=train.ngf, ndf=train.ndf)
        generator.load_state_dict(payload["states"]["generator"])
        generator = generator.to(run_device)
        if train.channels_last and run_device.type == "cuda":
            generator = generator.to(memory_format=torch.channels_last)
    net.load_state_dict(payload["states"]["net"])
    net = net.to(run_device)
    if train.channels_last:
        net = net.to(memory_format=torch.channels_last)
    return FitResult(net=net.eval(), generator=generator.eval() if generator is not None else None,
                     history=payload["history"], checkpoint=checkpoint, resumed_from=payload["epoch"])


def unfinished(runs: list[Callable[[], object]]) -> list[Callable[[], object]]:
    """The runs among ``runs`` (callables that train through :func:`train_run`, as :func:`train_ahead` takes them)
    that would train: each is called in this process with :func:`train_run` only probing, which reads the run's
    checkpoint and raises at the first run that is not finished (a run whose model starts from another, ARPL+CS,
    passes through the first)."""
    _PROBING.append(True)
    try:
        return [run for run in runs if not _finished(run)]
    finally:
        _PROBING.pop()


def _finished(run: Callable[[], object]) -> bool:
    try:
        run()
    except _Unfinished:
        return False
    return True


def train_ahead_unfinished(params: Params, runs: list[Callable[[], object]]) -> None:
    """:func:`arpl.pipeline.runs.workers.train_ahead` of the :func:`unfinished` runs only: when every run is finished,
    no
    worker process starts (it would only load the finished checkpoints the stage loads again)."""
    if worker_count(params) > 1:
        train_ahead(params, unfinished(runs))


# The per-epoch lines and learning curves are computed on a fixed stratified subset of at most this many test
# images per class (on the CPU default, all 10,000 would cost about 8% of the training time); the OSR, OOD and
# closed-set tables always use every test image.
MONITOR_PER_CLASS = 250


def monitor_subset(images: ImageSet, seed: int = 0) -> ImageSet:
    """The test images a per-epoch evaluator sees: :data:`MONITOR_PER_CLASS` per class."""
    return per_class_subset(images, MONITOR_PER_CLASS, seed=seed)


def open_set_evaluator(data: OpenSetData, head: str, dev: torch.device) -> EvaluateFn:
    """Per-epoch test metrics of an open-set model on :func:`monitor_subset` of the known and unknown test images:
    accuracy, AUROC and OSCR with its own score; for ARPL also the margin ``R`` and the share of known test images
    whose margin term is active (Eq. 12)."""
    test_known, test_unknown = monitor_subset(data.test_known), monitor_subset(data.test_unknown)

    def evaluate(net, epoch: int) -> dict:
        known = predict(net, test_known.images, device=dev)
        unknown = predict(net, test_unknown.images, device=dev)
        k, u = known.scores("own", head), unknown.scores("own", head)
        correct = known.predicted() == test_known.labels.numpy()
        row = {"test_acc": float(correct.mean()), "auroc": metrics.auroc(k, u), "oscr": metrics.oscr(k, correct, u)}
        if hasattr(net.head, "margin_active_fraction"):
            features = torch.from_numpy(known.features).to(dev)
            row["R"] = net.head.radius
            row["margin_active"] = net.head.margin_active_fraction(features, test_known.labels.to(dev))
        return row

    return evaluate


def closed_set_evaluator(test: ImageSet, dev: torch.device) -> EvaluateFn:
    """Per-epoch closed-set accuracy on :func:`monitor_subset` of the test images."""
    test = monitor_subset(test)

    def evaluate(net, epoch: int) -> dict:
        predicted = predict(net, test.images, device=dev).predicted()
        return {"test_acc": float((predicted == test.labels.numpy()).mean())}

    return evaluate


def train_stage_run(params: Params, stage: str, name: str, run: str, context: DistContext = DistContext()) -> dict:
    """Train (or reuse) run ``run`` (see :func:`arpl.pipeline.runs.stage_runs`) of ``name``, a method of
    ``train.methods`` or, for stage ``confusing``, a variant; returns its last epoch's row."""
    variant = name if stage == "confusing" else None
    method = get_variant(variant).method if variant else name
    dev = device(params, context)
    if run == ALL_CLASSES:
        params = with_train_subset(params, params.train.closed_set_per_class)
        train, test = all_classes(params)
        evaluate = closed_set_evaluator(test, dev)
    else:
        data = open_set(params, split_index(run))
        train, evaluate = data.train_known, open_set_evaluator(data, method, dev)
    overrides = {}
    if variant is not None:
        source = checkpoint_path("train", get_variant(variant).method, run)
        train, overrides = confusing_settings(params, train, run, variant, source)
    result = train_run(params, method, train, run_path(stage, name, run), run, variant, evaluate, context,
                       train_overrides=overrides)
    return {"run": run, **result.history[-1]}


def confusing_settings(params: Params, train: ImageSet, run: str, variant: str, source: Path) -> tuple[ImageSet, dict]:
    """The training images and :class:`~arpl.training.specs.TrainSpec` overrides of an ARPL+CS run (Algorithm 2):
    its own epochs, learning rate and images per class (``confusing.*``; null = as the plain runs) and, with
    ``confusing.init: arpl``, a warm start from ``source``, the finished checkpoint of the same run of the
    method ``variant`` trains (ARPL)."""
    cs, seed = params.confusing, params.run.seed
    overrides = {"epochs": cs.epochs or params.train.epochs, "lr": float(cs.lr or params.train.lr)}
    if cs.train_per_class is not None:
        train = per_class_subset(train, cs.train_per_class, seed=seed)
        overrides["data_tag"] = f"{data_tag(params, run)}:cs{cs.train_per_class}/class"
    if cs.init == "arpl":
        overrides["init_from"] = f"{source}@{read_checkpoint(source)['fingerprint']}"
        overrides["milestones"] = ()
    return train, overrides


def train_stage(params: Params, stage: str, names: list[str],
                context: DistContext = DistContext()) -> dict[str, list[dict]]:
    """Train every run (:func:`arpl.pipeline.runs.stage_runs`) of every method (or, for stage ``confusing``,
    variant) in ``names``; independent runs go to parallel one-thread processes on the CPU
    (:mod:`arpl.pipeline.runs.workers`). Returns one summary row per run, by name."""
    runs_of = {name: trained_runs(params, stage, name) for name in names}
    jobs = [(name, run) for run in reversed(stage_runs(params)) for name in names if run in runs_of[name]]
    runs = [partial(train_stage_run, params, stage, name, run) for name, run in jobs]  # all-class first
    train_ahead_unfinished(params, runs)
    return {name: [train_stage_run(params, stage, name, run, context) for run in runs_of[name]] for name in names}


def trained_models(params: Params) -> list[tuple[str, str, str]]:
    """``(display name, stage, name)`` of every open-set model the pipeline trains."""
    models = [(method_name(m), "train", m) for m in params.train.methods]
    return models + [(method_name(v), "confusing", v) for v in params.confusing.variants]


def all_class_models(params: Params) -> dict[str, tuple[str, object]]:
    """Every all-class model of the pipeline: display name -> (head method, network in eval mode)."""
    _, test = all_classes(params)
    models = {}
    for display, stage, name in trained_models(params):
        net, payload = load_model(checkpoint_path(stage, name, ALL_CLASSES),
                                  expected={"num_classes": len(test.classes)}, device=device(params))
        models[display] = (payload["model_spec"]["method"], net)
    return models
