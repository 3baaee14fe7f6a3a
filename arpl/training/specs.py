"""What defines a model and a training run: plain dataclasses, stored inside every checkpoint.

A field declared with :func:`setting` is read from ``params.yaml`` by its own name (or the key it names) in its
section, so a new training setting is one profile line, one schema line (:mod:`arpl.pipeline.params`), one field here
and its use in :mod:`arpl.training`: :func:`from_sections` carries it over. The other fields describe the run
(its seed, data, algorithm) and are given by :mod:`arpl.pipeline.run_specs`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

Spec = TypeVar("Spec")


def setting(section: str, default: Any = MISSING, key: str | None = None) -> Any:
    """A spec field whose value is ``params[section][key or the field's name]`` (see :func:`from_sections`)."""
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


def from_sections(spec_type: type[Spec], sections: dict[str, dict], **given: Any) -> Spec:
    """A ``spec_type`` whose :func:`setting` fields of the given ``sections`` (``{"train": params["train"], ...}``)
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
        if key not in sections[section]:
            raise KeyError(f"{spec_type.__name__}.{spec_field.name} reads {section}.{key}, which params.yaml lacks; "
                           f"add it to arpl/pipeline/profiles/cpu-default.yaml and the schema in "
                           f"arpl/pipeline/schema.py")
        values[spec_field.name] = _cast(types[spec_field.name], sections[section][key])
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


TRAINING_CODE = ("data", "models", "methods", "training", "registry.py")  # below the arpl package


def code_version() -> str:
    """A hash of the code that shapes training (:data:`TRAINING_CODE`): a checkpoint made by other
    training code is never resumed; editing plots or reports does not invalidate checkpoints."""
    digest = hashlib.sha256()
    root = Path(__file__).parents[1]
    files = [path for name in TRAINING_CODE
             for path in ([root / name] if name.endswith(".py") else (root / name).rglob("*.py"))]
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(model: ModelSpec, train: TrainSpec) -> str:
    """Identity of a run: resuming is allowed only into a checkpoint with the same fingerprint. A method or
    backbone outside ``arpl`` (named ``module:attribute``) adds the source of its module, which shapes the run too."""
    train_dict = spec_dict(train)
    if not train_dict["portable_kernels"]:
        del train_dict["portable_kernels"]  # off: the fingerprints of runs from before the switch existed hold
    parts = [spec_dict(model), train_dict, code_version()]
    for name in (model.method, model.backbone):
        if ":" in name:
            parts.append(module_source_version(name.partition(":")[0]))
    payload = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def module_source_version(module: str) -> str:
    """A hash of the source file of ``module``, found on the Python path."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not Path(spec.origin).is_file():
        raise ValueError(f"cannot find the source of module {module!r}; put it on the Python path")
    return hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()[:16]
