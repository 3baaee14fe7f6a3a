"""What defines a model and a training run: plain dataclasses, stored inside every checkpoint.

A field declared with :func:`setting` is read from ``params.yaml`` by its own name (or the key it names) in its
section, so a new training setting is one profile line, one schema line (:mod:`arpl.pipeline.params`), one field here
and its use in :mod:`arpl.training`: :func:`from_sections` carries it over. The other fields describe the run
(its seed, data, algorithm) and are given by :mod:`arpl.pipeline.runs.specs`.
"""

from __future__ import annotations

import hashlib
import json
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, TypeVar

from arpl.code_identity import identity
from arpl.methods import get_method, head_options
from arpl.models import backbone_entry
from arpl.registry import is_import_path

Spec = TypeVar("Spec")


def setting(section: str, default: Any = MISSING, key: str | None = None) -> Any:
    """A spec field whose value is ``params.<section>.<key or the field's name>`` (see :func:`from_sections`)."""
    return field(default=default, metadata={"section": section, "key": key})


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a classifier: backbone, head (loss) and input geometry."""

    method: str                     # a registered method (arpl.methods): Softmax | GCPL | RPL | ARPL, or "module:Class"
    backbone: str = setting("model")  # a name of arpl.models.BACKBONES, or "module:attribute"
    num_classes: int
    in_channels: int = setting("data", 1, key="channels")
    image_size: int = setting("data", 28)
    feat_dim: int | None = setting("model", None)  # None: the backbone's own feature size
    width: int | None = setting("model", None)     # backbones that take one ('small'): first convolution's channels
    abn: bool = False               # auxiliary batch norm (Sec. 4.2)
    temperature: float = setting("train", 1.0)     # gamma = 1 / temperature (Eq. 7)
    weight_pl: float = setting("train", 0.1)       # lambda (Eq. 14)
    margin_form: str = setting("train", "code")    # "code" | "paper" (Eq. 12)
    distance: str | None = None     # RPL/ARPL only: "l2" | "l2-dot"; None = the method's own (Fig. 8 ablation)


@dataclass(frozen=True)
class TrainSpec:
    """The optimisation of one run (Sec. 5.1-5.2), plain or with confusing samples (Algorithm 2)."""

    epochs: int = setting("train", 10)
    batch_size: int = setting("train", 64)
    optimizer: str = setting("train", "sgd")
    lr: float = setting("train", 0.1)
    momentum: float = setting("train", 0.9)
    weight_decay: float = setting("train", 1e-4)
    milestones: tuple[int, ...] = setting("train", (30, 60, 90, 120))
    lr_gamma: float = setting("train", 0.1)
    seed: int = 0                   # run.seed + the run's offset (arpl.pipeline.runs)
    augment: bool = False           # crop + flip, when the dataset source asks for it (Sec. 5.1)
    confusing: bool = False         # Algorithm 2 (ARPL+CS)
    focus_training: bool = True     # the plain pass after each CS pass (step 6 of Algorithm 2)
    beta: float = setting("confusing", 0.1)            # Eq. 18-19
    entropy_form: str = setting("confusing", "code")   # "code" | "paper" (Eq. 17)
    gan_lr: float = setting("confusing", 2e-4)
    nz: int = setting("confusing", 100)
    ngf: int = setting("confusing", 64)
    ndf: int = setting("confusing", 64)
    amp: bool = setting("train", False)                # bf16 autocast, CUDA only
    channels_last: bool = setting("train", False)
    compile: bool = setting("train", False)
    on_nonfinite: str = setting("run", "stop")         # "stop" | "skip_batch"
    portable_kernels: bool = setting("run", False)     # CPU kernels independent of the CPU (arpl.portable)
    data_tag: str = ""              # identifies the training data (dataset, split, subset)
    init_from: str = ""             # warm start: "<checkpoint path>@<its fingerprint>" ("" = from scratch)
    data_code: tuple[str, ...] = ()  # modules that load and select the training images (their code is fingerprinted)


def from_sections(spec_type: type[Spec], sections: dict[str, Any], **given: Any) -> Spec:
    """A ``spec_type`` whose :func:`setting` fields of the given ``sections`` (``{"train": params.train, ...}``)
    are read by name, cast to the field's type (a YAML ``1`` becomes ``1.0`` for a float, a list a tuple), and
    whose other fields are ``given`` or keep their defaults. A setting of a section not passed keeps its
    default (the Algorithm 2 settings of a plain run)."""
    types = typing.get_type_hints(spec_type)
    values = {}
    for spec_field in fields(spec_type):
        section = spec_field.metadata.get("section")
        if spec_field.name in given or section not in sections:
            continue
        key = spec_field.metadata["key"] or spec_field.name
        if not hasattr(sections[section], key):
            raise KeyError(f"{spec_type.__name__}.{spec_field.name} reads {section}.{key}, which params.yaml lacks; "
                           f"add it to arpl/pipeline/params/profiles/cpu-default.yaml and to "
                           f"arpl/pipeline/params/__init__.py")
        values[spec_field.name] = _cast(types[spec_field.name], getattr(sections[section], key))
    return spec_type(**values, **given)


def _cast(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    if kind is float:
        return float(value)
    if typing.get_origin(kind) is tuple:
        return tuple(value)
    return value


def spec_dict(spec: ModelSpec | TrainSpec) -> dict:
    """A JSON-safe dict of a spec (tuples become lists)."""
    return json.loads(json.dumps(asdict(spec)))


def model_spec_from_dict(data: dict) -> ModelSpec:
    """Rebuild a :class:`ModelSpec` from :func:`spec_dict` output."""
    return ModelSpec(**data)


# The loss settings of a ModelSpec. A method receives (and so is shaped by) those its ``__init__`` names among its
# keyword arguments (arpl.methods.Method): the method's own declaration of its settings, a plugin's as well.
HEAD_SETTINGS = ("temperature", "weight_pl", "margin_form", "distance")
# The settings of Algorithm 2 (TrainSpec), which shape only runs with confusing samples.
CONFUSING_SETTINGS = ("focus_training", "beta", "entropy_form", "gan_lr", "nz", "ngf", "ndf")
# Code that runs in every training run: the loop (Algorithms 1 and 2, network, checkpoints, optimisers) and the
# modules that turn a dataset into the images of a run. The method's, the backbone's and the dataset source's
# modules are added per run (:func:`run_modules`).
TRAINING_ROOTS = ("arpl.training.loop", "arpl.data.registry", "arpl.data.openset", "arpl.data.splits")


def fingerprinted(model: ModelSpec, train: TrainSpec) -> dict:
    """What can change the numbers of a run, and nothing else (docs/reproducibility.md, "What a checkpoint's
    fingerprint holds"):

    - the model spec, with only the loss settings the method takes (:data:`HEAD_SETTINGS`: Softmax is not
      shaped by lambda, nor GCPL by the margin form);
    - the train spec without ``on_nonfinite`` (both policies compute the same numbers until a loss is not
      finite, when ``stop`` ends the run at its last good checkpoint, which ``skip_batch`` then resumes), without
      the Algorithm-2 settings in a plain run, ``momentum`` under Adam, and ``portable_kernels`` when off;
    - the code the run executes, by its meaning (:func:`run_code`).
    """
    model_fields = spec_dict(model)
    taken = set(head_options(model.method))
    for name in HEAD_SETTINGS:
        if name not in taken:
            del model_fields[name]
    train_fields = spec_dict(train)
    dropped = {"on_nonfinite", "data_code"} | (set() if train.confusing else set(CONFUSING_SETTINGS))
    dropped |= {"momentum"} if train.optimizer != "sgd" else set()
    dropped |= {"portable_kernels"} if not train.portable_kernels else set()
    train_fields = {key: value for key, value in train_fields.items() if key not in dropped}
    return {"model": model_fields, "train": train_fields, "code": run_code(model, train)}


def run_modules(model: ModelSpec, train: TrainSpec) -> list[str]:
    """The root modules of the code a run executes: :data:`TRAINING_ROOTS`, its method's module, its backbone's
    and the modules that load its images (``train.data_code``; without them, every dataset source's)."""
    backbone = backbone_entry(model.backbone).build
    modules = [*TRAINING_ROOTS, get_method(model.method).__module__,
               getattr(backbone, "func", backbone).__module__, *(train.data_code or ("arpl.data",))]
    for name in (model.method, model.backbone):
        if is_import_path(name):
            modules.append(name.partition(":")[0])
    return list(dict.fromkeys(modules))


def run_code(model: ModelSpec, train: TrainSpec) -> str:
    """The identity of the code a run executes (:func:`arpl.code_identity.identity` of :func:`run_modules`):
    docstrings, comments and formatting do not count, nor modules the run does not import (editing
    ``arpl/methods/gcpl.py`` changes GCPL's runs only)."""
    return identity(run_modules(model, train))


def fingerprint(model: ModelSpec, train: TrainSpec) -> str:
    """Identity of a run (:func:`fingerprinted`): resuming or reusing a checkpoint is allowed only with the same
    fingerprint."""
    payload = json.dumps(fingerprinted(model, train), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
