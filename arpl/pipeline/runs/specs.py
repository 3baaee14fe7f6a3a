"""The specs of one run from ``params.yaml``: its :class:`~arpl.training.specs.ModelSpec` and
:class:`~arpl.training.specs.TrainSpec`, built from the params sections by field name
(:func:`arpl.training.specs.from_sections`) plus what the run itself decides: its method, classes, seed, data and
algorithm."""

from __future__ import annotations

from dataclasses import replace

from arpl.data import dataset_source
from arpl.methods import get_variant
from arpl.pipeline.params import Params
from arpl.pipeline.runs.images import base_dataset
from arpl.pipeline.runs import seed_offset
from arpl.training.specs import ModelSpec, TrainSpec, from_sections


def model_spec(params: Params, method: str, num_classes: int, **overrides) -> ModelSpec:
    """The classifier of ``method`` (a registered name or import path, :mod:`arpl.methods`) with the profile's
    network and loss."""
    return from_sections(ModelSpec, Sections(params, ("model", "data", "train")), method=method,
                         num_classes=num_classes, **overrides)


class Sections(dict):
    """The sections ``names`` of ``params`` for :func:`arpl.training.specs.from_sections`, each read only when a spec
    field takes its value from it: a stage that gives every field of a section (the figures stage's 2-D network)
    reads, and declares, nothing of it."""

    def __init__(self, params: Params, names: tuple[str, ...]) -> None:
        super().__init__()
        self.params, self.names = params, names

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __getitem__(self, name: str):
        return getattr(self.params, name)


def train_spec(params: Params, run: str, variant: str | None = None, **overrides) -> TrainSpec:
    """The optimisation of run ``run`` (see :mod:`arpl.pipeline.runs`: it sets the seed and data tag); ``variant``
    (cs, cs-no-abn, cs-no-ft: see :mod:`arpl.methods`) turns on Algorithm 2. A run with other ``epochs`` than
    ``train.epochs`` (figures, ablations, incremental) gets the learning-rate milestones scaled to its length, unless
    ``milestones`` is overridden too."""
    sections = {"train": params.train, "run": params.run}
    algorithm = {}
    if variant is not None:
        sections = {**sections, "confusing": params.confusing}
        algorithm = {"confusing": True, "focus_training": get_variant(variant).focus_training}
    spec = from_sections(TrainSpec, sections, seed=params.run.seed + seed_offset(run),
                         augment=dataset_source(base_dataset(params)).augment, data_tag=data_tag(params, run),
                         data_code=data_code(params), **algorithm)
    if "epochs" in overrides and "milestones" not in overrides:
        overrides["milestones"] = scaled_milestones(spec.milestones, spec.epochs, overrides["epochs"])
    return replace(spec, **overrides)


def run_specs(params: Params, method: str, num_classes: int, run: str, variant: str | None = None,
              model_overrides: dict | None = None, train_overrides: dict | None = None) -> tuple[ModelSpec, TrainSpec]:
    """Both specs of run ``run`` of ``method`` (the method a ``variant`` trains), with per-stage overrides."""
    abn = variant is not None and get_variant(variant).abn
    model = model_spec(params, method, num_classes, abn=abn, **(model_overrides or {}))
    return model, train_spec(params, run, variant, **(train_overrides or {}))


def scaled_milestones(milestones: tuple[int, ...], epochs: int, new_epochs: int) -> tuple[int, ...]:
    """The learning-rate milestones of an ``epochs``-long schedule, at the same fractions of a ``new_epochs``-long
    one (at least epoch 1): (5, 7) of 8 epochs -> (2, 3) of 4."""
    return tuple(sorted({max(1, m * new_epochs // epochs) for m in milestones}))


def data_code(params: Params) -> tuple[str, ...]:
    """The modules that load and select a run's training images: this pipeline module and the module of the
    dataset source the images come from (its loader's; a source named by import path: its own module too)."""
    name = base_dataset(params)
    source = dataset_source(name)
    loader = source.load or source.generate
    modules = [base_dataset.__module__, getattr(loader, "func", loader).__module__]
    if ":" in name:
        modules.append(name.partition(":")[0])
    return tuple(dict.fromkeys(module for module in modules if module))


def data_tag(params: Params, run: str) -> str:
    """Identifies the training data of a run, so a checkpoint is never resumed on other data."""
    data = params.data
    return (f"{data.dataset}:{run}:{data.image_size}px:{data.channels}ch:"
            f"{data.train_per_class}/class:seed{params.run.seed}")
