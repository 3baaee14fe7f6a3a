"""How long the real run will take: every model the training stages of a profile train, and what it costs.

:func:`training_plan` lists the runs of the stages train, confusing, incremental, figures and ablations from the
stages' own run lists, without loading any data: a run's training images are its classes times the images per
class, the smallest of the stage's ``*_per_class`` limits and the dataset's published count
(:attr:`~arpl.data.registry.DatasetSource.train_images_per_class`). :func:`plan_summary` turns the plan into the
lines of ``python -m arpl check``: models and image-epochs per stage and, where ``benchmarks/results.csv`` holds
measured speeds of this device and backbone (for as many runs at once as the stages train, ``run.workers``), the
expected hours of training.
"""

from __future__ import annotations

import contextlib
import csv
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from arpl.data import dataset_source
from arpl.methods import get_variant, registered_name
from arpl.pipeline.params import Params
from arpl.pipeline.runs.workers import worker_count
from arpl.pipeline.runs.images import base_dataset, split_of, with_train_subset
from arpl.pipeline.runs import ALL_CLASSES, known_run, order_run, split_index, split_run, trained_runs
from arpl.pipeline.runs import device as run_device
from arpl.stages.ablations import KNOWN_COUNT_METHODS, LAMBDA_VARIANTS, lambda_runs
from arpl.stages.figures import FeatureModel, figure7_models

STAGES = ("train", "confusing", "incremental", "figures", "ablations")
# The ``--when KEY`` of each stage's command in dvc.yaml (the others always run); tests/test_plan.py compares them.
STAGE_SWITCHES = {"confusing": "confusing.variants", "incremental": "incremental.enabled",
                  "figures": "figures.enabled", "ablations": "figures.enabled"}
CONFUSING_BENCHMARK = "ARPL+CS"  # the method column of benchmarks/results.csv for Algorithm 2
OPTIONS = ("batch_size", "amp", "channels_last", "compile")  # train.* options that results.csv rows record


@dataclass(frozen=True)
class PlannedRun:
    """One model a training stage trains (its checkpoint: ``runs/<stage>/<name>/<run>``)."""

    stage: str
    name: str             # method, ARPL+CS variant, figure model folder or Fig. 8 variant
    run: str              # split<i>, all, order<i>, known<K> (arpl.pipeline.runs), or lambda<w> for Fig. 8
    epochs: int
    images: int | None    # training images per epoch; None: the dataset's own count is not known
    algorithm: int        # 1: plain training (Algorithm 1); 2: with confusing samples and the GAN (Algorithm 2)
    method: str           # the head it trains (ARPL for the ARPL+CS variants)
    backbone: str

    @property
    def image_epochs(self) -> int | None:
        """Images it trains on, over all its epochs (None when :attr:`images` is unknown)."""
        return None if self.images is None else self.images * self.epochs


def training_plan(params: Params) -> list[PlannedRun]:
    """Every model the training stages train for ``params``, stage by stage (switched-off stages train none),
    each once (runs sharing a folder are one model)."""
    runs = [run for stage in STAGES if not switched_off(params, stage) for run in PLANNERS[stage](params)]
    return list({(run.stage, run.name, run.run): run for run in runs}.values())


def switched_off(params: Params, stage: str) -> bool:
    """Whether ``stage`` only records that it is off (its ``--when`` key in dvc.yaml is false or empty)."""
    if stage not in STAGE_SWITCHES:
        return False
    section, key = STAGE_SWITCHES[stage].split(".")
    return not getattr(getattr(params, section), key)


def images_per_class(params: Params, limit: int | None = None) -> int | None:
    """Training images per class of a run: the smallest of ``data.train_per_class``, ``limit`` and the
    dataset's published count (None where all three are unknown)."""
    counts = (params.data.train_per_class, limit, dataset_source(base_dataset(params)).train_images_per_class)
    return min((count for count in counts if count is not None), default=None)


def _images(classes: int, per_class: int | None) -> int | None:
    return None if per_class is None else classes * per_class


def _split_classes(params: Params, run: str) -> int:
    """Known classes of an open-set run ``split<i>`` or, for ``all``, every class of the dataset."""
    if run == ALL_CLASSES:
        return dataset_source(base_dataset(params)).num_classes
    return len(split_of(params, split_index(run)).known)


def _confusing_budget(params: Params) -> tuple[int, int | None]:
    """Epochs and images-per-class limit of Algorithm 2 (:func:`arpl.pipeline.runs.trained.confusing_settings`)."""
    return params.confusing.epochs or params.train.epochs, params.confusing.train_per_class


def _stage_run(params: Params, stage: str, name: str, run: str) -> PlannedRun:
    """Run ``run`` of method (stage train) or variant (stage confusing) ``name``, as
    :func:`arpl.pipeline.runs.trained.train_stage_run` trains it."""
    if run == ALL_CLASSES:
        params = with_train_subset(params, params.train.closed_set_per_class)
    classes, backbone = _split_classes(params, run), params.model.backbone
    if stage == "train":
        per_class = images_per_class(params)
        return PlannedRun(stage, name, run, params.train.epochs, _images(classes, per_class), 1, name, backbone)
    epochs, limit = _confusing_budget(params)
    images = _images(classes, images_per_class(params, limit))
    return PlannedRun(stage, name, run, epochs, images, 2, get_variant(name).method, backbone)


def _training_runs(params: Params, stage: str, names: list[str]) -> list[PlannedRun]:
    return [_stage_run(params, stage, registered_name(name), run) for name in names
            for run in trained_runs(params, stage, name)]


def train_plan(params: Params) -> list[PlannedRun]:
    """Stage train: every method of ``train.methods`` on each run of :func:`arpl.pipeline.runs.stage_runs`."""
    return _training_runs(params, "train", params.train.methods)


def confusing_plan(params: Params) -> list[PlannedRun]:
    """Stage confusing: every variant of ``confusing.variants`` on its runs (the ablations on fewer splits)."""
    return _training_runs(params, "confusing", params.confusing.variants)


def incremental_plan(params: Params) -> list[PlannedRun]:
    """Stage incremental: a base model per method and class order (:func:`arpl.stages.incremental.base_model`)."""
    settings = params.incremental
    per_class = images_per_class(with_train_subset(params, settings.train_per_class))
    images = _images(settings.base_classes, per_class)
    return [PlannedRun("incremental", registered_name(method), order_run(index), settings.epochs, images, 1,
                       method, params.model.backbone)
            for index in range(settings.orders) for method in settings.methods]


def _figure_run(params: Params, model: FeatureModel, run: str, classes: int) -> PlannedRun:
    """A 2-D model as :func:`arpl.stages.figures.train_2d` trains it (ARPL+CS: Algorithm 2)."""
    epochs, limit = params.figures.epochs, None
    if model.variant is not None and params.confusing.init == "arpl":
        epochs, limit = _confusing_budget(params)
    return PlannedRun("figures", model.folder, run, epochs, _images(classes, images_per_class(params, limit)),
                      2 if model.variant else 1, model.method, params.figures.backbone)


def figures_plan(params: Params) -> list[PlannedRun]:
    """Stage figures: the six models of Fig. 1/7 on split ``figures.split`` and ARPL per K of Fig. 12."""
    params = with_train_subset(params, params.figures.train_per_class)
    split = params.figures.split
    classes = len(split_of(params, split).known)
    models = figure7_models(params.train.weight_pl)
    return ([_figure_run(params, model, split_run(split), classes) for model in models]
            + [_figure_run(params, FeatureModel(f"ARPL K={count}", "ARPL"), known_run(count), count)
               for count in params.figures.known_counts])


def ablations_plan(params: Params) -> list[PlannedRun]:
    """Stage ablations: the lambda runs of Fig. 8 on split ``figures.split`` and the known-count runs of Fig. 11."""
    params = with_train_subset(params, params.figures.train_per_class)
    epochs, backbone, per_class = params.figures.epochs, params.model.backbone, images_per_class(params)
    classes = len(split_of(params, params.figures.split).known)
    lambdas = [PlannedRun("ablations", name, f"lambda{weight:g}", epochs, _images(classes, per_class), 1,
                          LAMBDA_VARIANTS[name][0], backbone) for name, weight in lambda_runs(params)]
    return lambdas + [PlannedRun("ablations", method, known_run(count), epochs, _images(count, per_class), 1, method,
                                 backbone)
                      for count in params.figures.known_counts for method in KNOWN_COUNT_METHODS]


PLANNERS = {"train": train_plan, "confusing": confusing_plan, "incremental": incremental_plan,
            "figures": figures_plan, "ablations": ablations_plan}


# ----------------------------------------------------------------------------- the lines of `python -m arpl check`


def plan_summary(params: Params, results_csv: str | Path = "benchmarks/results.csv",
                 device: str | None = None) -> list[str]:
    """Lines for ``python -m arpl check``: models and image-epochs per stage and in total (Algorithm 2 apart) and
    the expected hours of training where ``results_csv`` has speeds of ``device`` (as its ``device`` column names
    it; None: this machine's, for ``run.device``) for every backbone and method of the plan."""
    plan = training_plan(params)
    device = device or device_label(params)
    cs_note = "; Algorithm 2 (confusing samples and a GAN) costs more per image" if any(
        run.algorithm == 2 for run in plan) else ""
    return ([f"plan: {_cost(plan)} in all (profile {params.profile!r}){cs_note}"]
            + [_stage_line(params, stage, [run for run in plan if run.stage == stage]) for stage in STAGES]
            + _time_lines(params, plan, results_csv, device))


# What benchmarks/train_throughput.py measures, which writes results.csv: the networks on their images (channels,
# size) and the images of one epoch (Fashion-MNIST, six known classes x 6,000 training images).
NETWORKS = {"classifier32": (3, 32), "small": (1, 28)}
EPOCH_IMAGES = 36_000


def device_name(device: torch.device) -> str:
    """A device as results.csv names it: the GPU's name, or the CPU model with the number of threads PyTorch uses."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model} ({torch.get_num_threads()} threads)"


def device_label(params: Params) -> str:
    """This machine's device for ``run.device`` as benchmarks/train_throughput.py names it in results.csv: the GPU's
    name, or the CPU model with the threads of one training process (one where runs train side by side)."""
    device = run_device(params)
    name = device_name(device)
    if device.type == "cpu" and worker_count(params) > 1:
        name = re.sub(r"\(\d+ threads\)$", "(1 threads)", name)
    return name


def _cost(runs: list[PlannedRun]) -> str:
    """``N models, X image-epochs (Y of them Algorithm 2)``, with the runs of unknown size counted apart."""
    known = [run for run in runs if run.images is not None]
    second = sum(run.image_epochs for run in known if run.algorithm == 2)
    text = f"{len(runs)} model{'s' * (len(runs) != 1)}, {sum(run.image_epochs for run in known):,} image-epochs"
    text += f" ({second:,} of them Algorithm 2)" if second else ""
    unknown = len(runs) - len(known)
    return text + (f", {unknown} of unknown size (the dataset gives no train_images_per_class)" if unknown else "")


def _stage_line(params: Params, stage: str, runs: list[PlannedRun]) -> str:
    if switched_off(params, stage):
        return f"  {stage:<12} switched off by {STAGE_SWITCHES[stage]}"
    return f"  {stage:<12} {_cost(runs)}"


def benchmark_method(run: PlannedRun) -> str:
    """The ``method`` of the results.csv rows whose speed ``run`` trains at (ARPL+CS for Algorithm 2)."""
    return CONFUSING_BENCHMARK if run.algorithm == 2 else run.method


Rates = dict[tuple[str, str], dict[int, float]]  # (network, method) -> {runs at once: images/s summed over them}


def measured_rates(results_csv: str | Path, device: str, params: Params) -> Rates:
    """Training images per second by (network, method) and number of runs training at once on ``device``
    (results.csv's ``seconds_per_epoch`` over the benchmark's epoch, which counts both passes of Algorithm 2 as
    one): of each, the latest row with the profile's ``train`` options (batch size, amp, channels_last, compile)
    and, for Algorithm 2, its GAN width, else the latest row. Empty without the file."""
    path = Path(results_csv)
    rows = list(csv.DictReader(path.open())) if path.is_file() else []
    wanted = {option: str(getattr(params.train, option)) for option in OPTIONS}
    best: dict[tuple[str, str, int], tuple[bool, dict]] = {}
    for row in (row for row in rows if row["device"] == device):
        matches = all(row[o] == v for o, v in wanted.items())
        if row["method"] == CONFUSING_BENCHMARK:
            matches = matches and row.get("gan_width", "64") == str(params.confusing.ngf)
        key = (row["network"], row["method"], int(row.get("workers") or 1))
        if key not in best or matches >= best[key][0]:
            best[key] = (matches, row)
    epoch_images = EPOCH_IMAGES
    rates: Rates = {}
    for (network, method, workers), (_, row) in best.items():
        rates.setdefault((network, method), {})[workers] = epoch_images / float(row["seconds_per_epoch"])
    return rates


def rate_at(measured: dict[int, float], together: int) -> float:
    """Images/s summed over ``together`` runs at once: measured, else that of the most runs measured below it (no
    gain assumed beyond), else the fewest measured scaled down in proportion."""
    if together in measured:
        return measured[together]
    below = [count for count in measured if count < together]
    if below:
        return measured[max(below)]
    fewest = min(measured)
    return measured[fewest] * together / fewest


def stage_seconds(runs: list[PlannedRun], rates: Rates, workers: int) -> float:
    """Training time of a stage's ``runs`` in ``workers`` processes (arpl.pipeline.runs.workers): the runs start in
    plan order as processes come free; while m of them train at once, each goes at 1/m of the rate measured for m
    runs of its network and method at once (:func:`rate_at`)."""
    queue = [[float(run.image_epochs), (run.backbone, benchmark_method(run))] for run in runs if run.images]
    active, clock = [], 0.0
    while queue or active:
        while queue and len(active) < workers:
            active.append(queue.pop(0))
        speeds = [rate_at(rates[key], len(active)) / len(active) for _, key in active]
        step = min(left / speed for (left, _), speed in zip(active, speeds))
        clock += step
        for job, speed in zip(active, speeds):
            job[0] -= speed * step
        active = [job for job in active if job[0] > 1e-6]  # images left; the finished one is at rounding error
    return clock


def missing_speeds(params: Params, plan: list[PlannedRun], rates: Rates) -> list[str]:
    """The backbones of ``plan`` of which a method's speed is not in ``rates``."""
    return sorted({run.backbone for run in plan if (run.backbone, benchmark_method(run)) not in rates})


def training_seconds(params: Params, plan: list[PlannedRun], rates: Rates) -> dict[str, float]:
    """Expected seconds of training per stage, in the stages' worker processes (:func:`stage_seconds`)."""
    workers = worker_count(params)
    return {stage: stage_seconds([run for run in plan if run.stage == stage], rates, workers) for stage in STAGES}


def _time_lines(params: Params, plan: list[PlannedRun], results_csv: str | Path, device: str) -> list[str]:
    """The expected hours, or for each backbone without a measured speed the line that says how to measure it."""
    rates = measured_rates(results_csv, device, params)
    missing = missing_speeds(params, plan, rates)
    if missing:
        return [f"time: no measured speed for {device}/{backbone} in {results_csv}: run {_measure_command(params)} "
                f"--networks {backbone} to measure it" for backbone in missing]
    workers = worker_count(params)
    seconds = training_seconds(params, plan, rates)
    per_stage = ", ".join(f"{stage} {_duration(value)}" for stage, value in seconds.items() if value)
    return [f"time: about {_duration(sum(seconds.values()))} of training on {device} ({per_stage}), from the speeds "
            f"in {results_csv}; evaluation is not counted",
            f"  {_assumption(workers)}", *_geometry_notes(params, plan)]


def _measure_command(params: Params) -> str:
    """The benchmark command that measures this profile's speeds on this machine."""
    options = [f"--batch-size {params.train.batch_size}", f"--gan-width {params.confusing.ngf}"]
    options += [flag for flag, key in (("--amp", "amp"), ("--channels-last", "channels_last"),
                                       ("--compile", "compile")) if getattr(params.train, key)]
    workers = worker_count(params)
    options += [f"--workers {workers}"] if workers > 1 else []
    return "python benchmarks/train_throughput.py " + " ".join(options)


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _geometry_notes(params: Params, plan: list[PlannedRun]) -> list[str]:
    """Where the benchmark measured a backbone on other images than the profile trains (its speed then differs)."""
    shape = (params.data.channels, params.data.image_size)
    networks = NETWORKS
    return [f"  {backbone} was measured on {networks[backbone][1]} px, {networks[backbone][0]}-channel images; this "
            f"profile trains {shape[1]} px, {shape[0]}-channel ones, so expect a different time"
            for backbone in sorted({run.backbone for run in plan}) if networks.get(backbone, shape) != shape]


def _assumption(workers: int) -> str:
    if workers == 1:
        return "The runs train one after another, at the measured speed."
    return (f"The runs train {workers} at a time in separate processes (run.workers), each at its share of the speed "
            f"measured for that many runs at once.")
