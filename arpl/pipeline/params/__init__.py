"""``params.yaml`` as typed sections (pydantic), validated before any work.

Each section of the file is a model below; :func:`load_params` reads and checks the whole file, so a typo, a wrong
type or a value out of range stops ``dvc repro`` within seconds with a message that names the key, the bad value and
what is allowed, and then the checks across sections run (:func:`check_across_sections`). A stage reads its params
through :func:`arpl.pipeline.params.declared.stage_params`, which hands it only the keys it declares in ``dvc.yaml``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

IMAGE_SIZES = (28, 32, 64, 80, 224)
SCORES = ("own", "msp", "max_logit", "energy", "max_distance")
SPLITS_PER_DATASET = 5  # the authors' five lists per dataset (random splits use the same count)


class ParamsError(ValueError):
    """``params.yaml`` does not fit the sections below; the message names key, value and what is allowed."""


def open_set_dataset(name: str) -> Any:
    """The dataset source ``name`` if it can be ``data.dataset`` (not an out-of-distribution set)."""
    return _source_in_role(name, "open_set", "is an out-of-distribution set, not an open-set dataset")


def _ood_set(name: str) -> Any:
    return _source_in_role(name, "ood", "is no out-of-distribution set", " (a DatasetSource with ood=True)")


def _source_in_role(name: str, role: str, mistake: str, hint: str = "") -> Any:
    from arpl.data import DATASETS, dataset_source

    source = dataset_source(name)
    if not getattr(source, role):
        usable = [entry.name for entry in DATASETS.entries() if getattr(entry, role)]
        raise ValueError(f"{name!r} {mistake}; use one of {', '.join(usable)} or your own as 'module:attribute'{hint}")
    return source


def _backbone(name: str) -> Any:
    from arpl.models import backbone_entry

    return backbone_entry(name)


def _method(name: str) -> Any:
    from arpl.methods import get_method

    return get_method(name)


def _variant(name: str) -> Any:
    from arpl.methods import get_variant

    return get_variant(name)


def _registered(lookup) -> AfterValidator:
    """A name the registry ``lookup`` knows (its ValueError says which it knows), or an import path of one."""
    def check(name: str) -> str:
        lookup(name)
        return name
    return AfterValidator(check)


def _unique(values: list) -> list:
    if len(set(map(repr, values))) != len(values):
        raise ValueError(f"{values!r} repeats a value; list each once")
    return values


def _not_empty(values: list) -> list:
    if not values:
        raise ValueError("it is an empty list; give at least one value")
    return values


Count = Annotated[int, Field(ge=1)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Method = Annotated[str, _registered(_method)]
Backbone = Annotated[str, _registered(_backbone)]


def _list_of(item: Any, empty: bool = False) -> Any:
    checks = [AfterValidator(_unique)] + ([] if empty else [AfterValidator(_not_empty)])
    return Annotated[(list[item], *checks)]


class Section(BaseModel):
    """A section of ``params.yaml``: every key required, none unknown, types exact (an integer is a number too)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class RunParams(Section):
    device: Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto|cpu|cuda|cuda:N")]
    seed: Annotated[int, Field(ge=0, description="the seed every run's streams derive from")]
    progress: bool = Field(description="tqdm bars on a terminal")
    on_nonfinite: Literal["stop", "skip_batch"] = Field(description="what a NaN/inf loss does")
    data_root: str = Field(description="folder of the raw data (tracked by data.dvc)")
    workers: Annotated[int, Field(ge=0, description="processes for independent runs (0 = sized for the device)")]
    checkpoint_every: Annotated[int, Field(ge=0, description="epochs between checkpoints (0 = CPU: 1, GPU: 10)")]
    quick: bool = Field(description="a quick run (python -m arpl profile NAME --quick): its numbers mean nothing")
    portable_kernels: bool = Field(description="CPU kernels that give the same numbers on every x86-64 CPU")


class DataParams(Section):
    dataset: Annotated[str, _registered(open_set_dataset), Field(description="open-set dataset")]
    splits: _list_of(Annotated[int, Field(ge=0)], empty=True) = Field(description="indices of the authors' lists")
    num_known: Optional[Count] = Field(description="known classes of a seeded random split (null = the authors')")
    image_size: Literal[IMAGE_SIZES] = Field(description="image side in pixels")
    channels: Literal[1, 3] = Field(description="image channels")
    train_per_class: Optional[Count] = Field(description="training images per class (null = all)")
    test_per_class: Optional[Count] = Field(description="test images per class (null = all)")
    download: bool = Field(description="let torchvision download missing data")


class ModelParams(Section):
    backbone: Backbone = Field(description="network")
    feat_dim: Optional[Count] = Field(description="feature size (null = the backbone's own)")
    width: Optional[Count] = Field(description="channels of the first convolution (null = the network's own)")


class TrainParams(Section):
    methods: _list_of(Method) = Field(description="losses to train")
    closed_set: bool = Field(description="also train all-class models for the OOD / closed-set stages")
    closed_set_per_class: Optional[Count] = Field(description="images per class of the all-class models")
    epochs: Count = Field(description="training epochs")
    batch_size: Count = Field(description="batch size")
    optimizer: Literal["sgd", "adam"] = Field(description="optimiser")
    lr: Positive = Field(description="learning rate")
    momentum: Annotated[float, Field(ge=0, le=1, description="SGD momentum")]
    weight_decay: NonNegative = Field(description="weight decay")
    milestones: _list_of(Count) = Field(description="epochs at which lr is multiplied by lr_gamma")
    lr_gamma: Annotated[float, Field(gt=0, le=1, description="learning-rate decay factor")]
    temperature: Positive = Field(description="softmax temperature (gamma = 1 / temperature, Eq. 7)")
    weight_pl: NonNegative = Field(description="lambda, weight of the margin term (Eq. 14)")
    margin_form: Literal["code", "paper"] = Field(description="margin term: authors' code or Eq. 12")
    amp: bool = Field(description="bf16 autocast on CUDA")
    channels_last: bool = Field(description="channels-last memory format")
    compile: bool = Field(description="torch.compile the backbone")


class ConfusingParams(Section):
    variants: _list_of(Annotated[str, _registered(_variant)], empty=True) = Field(description="ARPL+CS variants")
    ablation_trials: Optional[Count] = Field(description="trials of the ablations w/o ABN and w/o FT (null = all)")
    init: Literal["scratch", "arpl"] = Field(description="start of ARPL+CS: scratch (paper) or the ARPL model")
    epochs: Optional[Count] = Field(description="epochs of Algorithm 2 (null = train.epochs)")
    lr: Optional[Positive] = Field(description="classifier learning rate of Algorithm 2 (null = train.lr)")
    train_per_class: Optional[Count] = Field(description="images per class of Algorithm 2")
    beta: NonNegative = Field(description="beta, weight of the entropy term (Eq. 18-19)")
    entropy_form: Literal["code", "paper"] = Field(description="entropy term: authors' code or Eq. 17")
    gan_lr: Positive = Field(description="Adam learning rate of generator and discriminator")
    nz: Count = Field(description="latent size of the generator")
    ngf: Count = Field(description="generator width")
    ndf: Count = Field(description="discriminator width")


class OsrParams(Section):
    scores: _list_of(Literal[SCORES]) = Field(description="open-set scores to report")
    bootstrap: Annotated[int, Field(ge=0, description="bootstrap resamples of the 95% intervals (0 = none)")]


class OodParams(Section):
    sets: _list_of(Annotated[str, _registered(_ood_set)]) = Field(description="out-of-distribution sets")
    noise_count: Count = Field(description="images in each generated noise set")
    test_per_class: Optional[Count] = Field(description="images per class of each set not generated")


class IncrementalParams(Section):
    enabled: bool = Field(description="run the class-incremental stage")
    methods: _list_of(Method) = Field(description="bases to compare")
    base_classes: Annotated[int, Field(ge=2, description="classes the backbone is trained on")]
    orders: Count = Field(description="random class orders to average over")
    epochs: Count = Field(description="epochs of base training")
    train_per_class: Optional[Count] = Field(description="training images per class")


class FiguresParams(Section):
    enabled: bool = Field(description="run the figures and ablations stages")
    backbone: Backbone = Field(description="network of the 2-D feature figures")
    epochs: Count = Field(description="epochs of each figure model")
    train_per_class: Optional[Count] = Field(description="training images per class of these models")
    split: Annotated[int, Field(ge=0, description="split index of the figures")]
    lambdas: _list_of(NonNegative) = Field(description="lambda values of the Fig. 8 ablation")
    known_counts: _list_of(Annotated[int, Field(ge=2)]) = Field(description="known classes of Fig. 11 and 12")


class Params(Section):
    """The whole of ``params.yaml``."""

    profile: str = Field(description="name of this parameter set, shown in the report")
    run: RunParams
    data: DataParams
    model: ModelParams
    train: TrainParams
    confusing: ConfusingParams
    osr: OsrParams
    ood: OodParams
    incremental: IncrementalParams
    figures: FiguresParams

    def replace(self, section: str, **changes: Any) -> "Params":
        """A copy with ``changes`` in ``section`` (``params.replace("data", train_per_class=500)``)."""
        return self.model_copy(update={section: getattr(self, section).model_copy(update=changes)})


def section_dict(section: Any) -> dict[str, Any]:
    """A section's keys and values, of :class:`Params` or of a stage's view (each key then read through it)."""
    model = getattr(section, "_params", section)
    return {key: getattr(section, key) for key in type(model).model_fields}


def validate(raw: Any) -> Params:
    """``raw`` (the parsed YAML, or params edited in place) as :class:`Params`, or a :class:`ParamsError` naming the
    first problem."""
    if isinstance(raw, Params):
        raw = raw.model_dump()
    if not isinstance(raw, dict):
        raise ParamsError(f"params.yaml must be a mapping of keys to values, got {raw!r}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(_message(error.errors()[0], raw)) from None
    check_across_sections(params)
    return params


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``params.yaml``: the first thing ``arpl check`` and every stage do."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path} not found. Run from the repository root, or copy a profile: "
                          f"python -m arpl profile cpu-default")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from error
    return validate(raw)


def _message(error: dict, raw: dict) -> str:
    """One pydantic error in the file's words: the dotted key (``train.methods[1]``), the value, what is allowed."""
    loc = [part for part in error["loc"] if not str(part).startswith(("function-", "list[", "literal["))]
    name = ".".join(str(part) for part in loc if isinstance(part, str))
    name += "".join(f"[{part}]" for part in loc if isinstance(part, int))
    if error["type"] == "extra_forbidden":
        return _unknown_key(name, raw)
    if error["type"] == "missing":
        return f"{name} is missing; add it ({_description(loc)})."
    reason = re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
    reason = reason[0].lower() + reason[1:]
    hint = _did_you_mean(error)
    return f"{name} = {error['input']!r} is not allowed: {reason}.{hint}"


def _unknown_key(name: str, raw: dict) -> str:
    section, _, key = name.rpartition(".")
    allowed = list((Params.model_fields[section].annotation if section else Params).model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown key {name!r} in params.yaml.{hint} Allowed here: {', '.join(allowed)}."


def _description(loc: list) -> str:
    model, field = Params, None
    for part in loc:
        field = model.model_fields[part]
        model = field.annotation if isinstance(field.annotation, type) else None
        if model is None or not issubclass(model, BaseModel):
            break
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
        return "a section with keys " + ", ".join(field.annotation.model_fields)
    return field.description or "see the default profile"


def _did_you_mean(error: dict) -> str:
    expected = re.findall(r"'([^']*)'", (error.get("ctx") or {}).get("expected", ""))
    close = difflib.get_close_matches(str(error["input"]), expected, n=1) if expected else []
    return f" Did you mean {close[0]!r}?" if close else ""


def check_across_sections(params: Params) -> None:
    """What no single key can say: split indices that exist, feature sizes the backbone has, methods named once,
    something to train, class counts the dataset has."""
    from arpl.data.splits import has_authors_splits

    data, figures = params.data, params.figures
    for key, indices in (("data.splits", data.splits), ("figures.split", [figures.split])):
        for index in indices:
            if index >= SPLITS_PER_DATASET:
                raise ParamsError(f"{key} holds split {index}, but {data.dataset} has {SPLITS_PER_DATASET} splits "
                                  f"(indices 0..{SPLITS_PER_DATASET - 1}).")
    _check_feature_sizes(params)
    _check_method_names(params)
    num_classes = open_set_dataset(data.dataset).num_classes
    if not data.splits and not params.train.closed_set:
        raise ParamsError("data.splits is empty and train.closed_set is false, so nothing would be trained; "
                          "list split indices in data.splits or set train.closed_set: true.")
    if data.num_known is None and not has_authors_splits(data.dataset) and (data.splits or figures.enabled):
        raise ParamsError(f"data.num_known is null, but {data.dataset} has no published splits and the open-set "
                          f"trials or the figures need one; give the number of known classes of its random splits "
                          f"(1..{num_classes - 1}), or set data.splits: [] and figures.enabled: false.")
    if data.num_known is not None and not 1 <= data.num_known < num_classes:
        raise ParamsError(f"data.num_known = {data.num_known} is not allowed; {data.dataset} has {num_classes} "
                          f"classes, so it must be between 1 and {num_classes - 1}.")
    base = params.incremental.base_classes
    if params.incremental.enabled and base >= num_classes:
        raise ParamsError(f"incremental.base_classes = {base} leaves no new class: {data.dataset} has "
                          f"{num_classes} classes; use at most {num_classes - 1}.")
    for k in figures.known_counts if figures.enabled else []:
        if k >= num_classes:
            raise ParamsError(f"figures.known_counts holds {k}, but {data.dataset} has {num_classes} classes; "
                              f"each K must leave at least one unknown class (K <= {num_classes - 1}).")


def _check_feature_sizes(params: Params) -> None:
    from arpl.models import BACKBONES, backbone_entry

    model = params.model
    entry = backbone_entry(model.backbone)
    own_size = entry.feat_dim if model.width is None else None   # a width sets a fixed-size backbone's feature
    if entry.fixed_feature_size and model.feat_dim not in (None, own_size):
        raise ParamsError(f"model.feat_dim = {model.feat_dim} does not fit model.backbone = {model.backbone!r}, whose "
                          f"feature size is {own_size or 'set by model.width'}; set model.feat_dim: null.")
    if model.width is not None and not entry.width:
        takers = ", ".join(repr(other.name) for other in BACKBONES.entries() if other.width)
        raise ParamsError(f"model.width = {model.width} applies to networks that take a width ({takers}), not to "
                          f"model.backbone = {model.backbone!r}; set model.width: null.")
    if backbone_entry(params.figures.backbone).fixed_feature_size:
        usable = " or ".join(repr(entry.name) for entry in BACKBONES.entries() if not entry.fixed_feature_size)
        raise ParamsError(f"figures.backbone = {params.figures.backbone!r} cannot have the 2-D feature the "
                          f"feature-space figures need; use {usable}.")


def _check_method_names(params: Params) -> None:
    """Each method of ``train.methods`` has its own run folder (its registered name); with ``confusing.init: arpl``
    every variant starts from the trained model of the method it trains."""
    from arpl.methods import get_variant, registered_name

    trained = [registered_name(method) for method in params.train.methods]
    if len(set(trained)) != len(trained):
        raise ParamsError(f"train.methods = {params.train.methods!r} names one method twice (registered names "
                          f"{trained}); list each once.")
    if params.confusing.init != "arpl":
        return
    for variant in params.confusing.variants:
        method = get_variant(variant).method
        if method not in trained:
            raise ParamsError(f"confusing.init = 'arpl' starts {get_variant(variant).display_name} from the trained "
                              f"{method} models, but train.methods lacks {method}; add {method} to train.methods or "
                              f"set confusing.init: scratch.")


IMPORT_PATH_KEYS = ("data.dataset", "model.backbone", "train.methods", "confusing.variants", "ood.sets",
                    "incremental.methods", "figures.backbone")   # the keys that may name your own code


def import_paths(params: Params | dict) -> list[tuple[str, str]]:
    """``(key, value)`` of every value of :data:`IMPORT_PATH_KEYS` naming the user's own method, variant, dataset or
    backbone by import path, ``"module:attribute"`` (docs/extending.md), e.g. ``("train.methods", "my.mod:Head")``;
    of validated params or of the file as written (which imports nothing, torch included)."""
    from arpl.registry import is_import_path

    found = []
    for key in IMPORT_PATH_KEYS:
        section, _, name = key.partition(".")
        value = params[section][name] if isinstance(params, dict) else getattr(getattr(params, section), name)
        found += [(key, entry) for entry in (value if isinstance(value, list) else [value])
                  if isinstance(entry, str) and is_import_path(entry)]
    return found
