"""The schema of ``params.yaml`` and its validation.

Every stage calls :func:`load_params` before doing any work, so a typo, a wrong type or a value out of
range stops ``dvc repro`` within seconds with one message that names the key, the bad value and what is
allowed. ``python -m arpl check`` runs the same validation (and the data checks) without training.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

IMAGE_SIZES = (28, 32, 64, 80, 224)
SCORES = ("own", "msp", "max_logit", "energy", "max_distance")


class ParamsError(ValueError):
    """``params.yaml`` does not match the schema; the message names key, value and what is allowed."""


@dataclass(frozen=True)
class Field:
    """One leaf of the schema: a type check plus optional range, choices and nullability."""

    kind: type | tuple[type, ...]
    help: str
    choices: tuple | Callable[[], tuple] | None = None  # a callable: asked at validation (registered names)
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    nullable: bool = False
    item: "Field | None" = None  # for lists
    pattern: str | None = None
    allow_empty: bool = False  # for lists
    lookup: Callable[[str], Any] | None = None  # finds the registered entry a value names (raises ValueError)
    registered: str = ""  # what ``lookup`` finds, in words

    def allowed(self) -> str:
        """Describe the allowed values in words, for error messages."""
        if self.item is not None:
            return f"a list of {self.item.allowed()}"
        if self.lookup is not None:
            text = f"a registered {self.registered} or your own as 'module:attribute'"
        elif self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.pattern is not None:
            text = f"a string matching {self.pattern!r}"
        else:
            names = self.kind if isinstance(self.kind, tuple) else (self.kind,)
            text = " or ".join("a number" if k in (int, float) and len(names) > 1 else _TYPE_WORD[k]
                               for k in names)
            text = "a number" if text == "a number or a number" else text
            if self.low is not None or self.high is not None:
                low = "" if self.low is None else (f"> {self.low}" if self.low_open else f">= {self.low}")
                high = "" if self.high is None else f"<= {self.high}"
                text += " " + " and ".join(p for p in (low, high) if p)
        return text + (" (or null)" if self.nullable else "")


_TYPE_WORD = {int: "an integer", float: "a number", bool: "true/false", str: "a string", list: "a list"}


def _int(help: str, low: int | None = None, high: int | None = None, nullable: bool = False) -> Field:
    return Field(int, help, low=low, high=high, nullable=nullable)


def _num(help: str, low: float | None = None, high: float | None = None, low_open: bool = False) -> Field:
    return Field((int, float), help, low=low, high=high, low_open=low_open)


def _choice(help: str, choices: tuple) -> Field:
    return Field(str, help, choices=choices)


def _list(help: str, item: Field, allow_empty: bool = False) -> Field:
    return Field(list, help, item=item, allow_empty=allow_empty)


def _registered(help: str, lookup: Callable[[str], Any], registered: str) -> Field:
    return Field(str, help, lookup=lookup, registered=registered)


def _open_set_dataset(name: str) -> Any:
    """The dataset source ``name`` if it can be ``data.dataset`` (see :mod:`arpl.data.registry`)."""
    from arpl.data import DATASETS, dataset_source

    source = dataset_source(name)
    if not source.open_set:
        usable = [entry.name for entry in DATASETS.entries() if entry.open_set]
        raise ValueError(f"{name!r} is an out-of-distribution set, not an open-set dataset; use one of "
                         f"{', '.join(usable)} or your own as 'module:attribute'")
    return source


def _ood_set(name: str) -> Any:
    """The dataset source ``name`` if it can be one of ``ood.sets``."""
    from arpl.data import DATASETS, dataset_source

    source = dataset_source(name)
    if not source.ood:
        usable = [entry.name for entry in DATASETS.entries() if entry.ood]
        raise ValueError(f"{name!r} is no out-of-distribution set; use one of {', '.join(usable)} or your own "
                         f"as 'module:attribute' (a DatasetSource with ood=True)")
    return source


def _backbone(name: str) -> Any:
    """The backbone ``name`` (see :mod:`arpl.models.registry`)."""
    from arpl.models import backbone_entry

    return backbone_entry(name)


def _method(help: str) -> Field:
    """A registered method of :mod:`arpl.methods`, or the import path of one outside ``arpl``."""
    return _registered(help, _method_class, "method")


def _variant(help: str) -> Field:
    """A registered Algorithm-2 variant of :mod:`arpl.methods`, or the import path of one outside ``arpl``."""
    return _registered(help, _variant_entry, "variant of Algorithm 2")


def _method_class(name: str) -> Any:
    from arpl.methods import get_method

    return get_method(name)


def _variant_entry(name: str) -> Any:
    from arpl.methods import get_variant

    return get_variant(name)


SCHEMA: dict[str, Any] = {
    "profile": Field(str, "name of this parameter set, shown in the report"),
    "run": {
        "device": Field(str, "auto, cpu, cuda or cuda:N", pattern=r"^(auto|cpu|cuda(:\d+)?)$"),
        "seed": _int("base random seed (split i uses seed + i)", low=0),
        "progress": Field(bool, "tqdm progress bars (terminal only)"),
        "on_nonfinite": _choice("what a NaN/inf loss does", ("stop", "skip_batch")),
        "data_root": Field(str, "folder of the raw data (tracked by data.dvc)"),
        "workers": _int("single-thread processes for independent CPU runs (0 = one per core)", low=0),
        "quick": Field(bool, "a quick run of the profile (python -m arpl profile NAME --quick): its numbers mean nothing"),
        "portable_kernels": Field(bool, "CPU kernels that give the same numbers on every x86-64 CPU (slower; "
                                        "arpl/portable.py)"),
    },
    "data": {
        "dataset": _registered("open-set dataset", _open_set_dataset, "open-set dataset"),
        "splits": _list("indices of the authors' known/unknown lists ([] = no open-set trials)",
                        _int("split index", low=0), allow_empty=True),
        "num_known": _int("known classes of a seeded random split (null = the authors' lists)", low=1, nullable=True),
        "image_size": Field(int, "image side in pixels", choices=IMAGE_SIZES),
        "channels": Field(int, "image channels", choices=(1, 3)),
        "train_per_class": _int("training images per class (null = all)", low=1, nullable=True),
        "test_per_class": _int("test images per class (null = all)", low=1, nullable=True),
        "download": Field(bool, "let torchvision download missing data"),
    },
    "model": {
        "backbone": _registered("network", _backbone, "backbone"),
        "feat_dim": _int("feature size (null = the backbone's own)", low=1, nullable=True),
        "width": _int("channels of the first convolution of the 'small' network (null = 32)", low=1, nullable=True),
    },
    "train": {
        "methods": _list("losses to train", _method("method")),
        "closed_set": Field(bool, "also train all-class models for the OOD / closed-set stages"),
        "closed_set_per_class": _int("training images per class of the all-class models (null = "
                                     "data.train_per_class)", low=1, nullable=True),
        "epochs": _int("training epochs", low=1),
        "batch_size": _int("batch size", low=1),
        "optimizer": _choice("optimiser", ("sgd", "adam")),
        "lr": _num("learning rate", low=0, low_open=True),
        "momentum": _num("SGD momentum", low=0, high=1),
        "weight_decay": _num("weight decay", low=0),
        "milestones": _list("epochs at which lr is multiplied by lr_gamma", _int("epoch", low=1)),
        "lr_gamma": _num("learning-rate decay factor", low=0, high=1, low_open=True),
        "temperature": _num("softmax temperature (gamma = 1 / temperature, Eq. 7)", low=0, low_open=True),
        "weight_pl": _num("lambda, weight of the margin term (Eq. 14)", low=0),
        "margin_form": _choice("margin term: authors' code or the paper's Eq. 12", ("code", "paper")),
        "amp": Field(bool, "bf16 autocast on CUDA"),
        "channels_last": Field(bool, "channels-last memory format (faster convolutions on CPU and CUDA)"),
        "compile": Field(bool, "torch.compile the backbone"),
    },
    "confusing": {
        "variants": _list("ARPL+CS variants ([] = none)", _variant("variant"), allow_empty=True),
        "ablation_trials": _int("open-set trials of the ablations w/o ABN and w/o FT: the first N of data.splits "
                                "(null = all; at least 1, for Fig. 10; their all-class models are trained whenever "
                                "train.closed_set is on)", low=1, nullable=True),
        "init": _choice("start of ARPL+CS: 'scratch' (paper) or the trained ARPL model of the same run", ("scratch", "arpl")),
        "epochs": _int("epochs of Algorithm 2 (null = train.epochs)", low=1, nullable=True),
        "lr": Field((int, float), "classifier learning rate of Algorithm 2 (null = train.lr)", low=0, low_open=True,
                    nullable=True),
        "train_per_class": _int("training images per class of Algorithm 2 (null = data.train_per_class)", low=1,
                                nullable=True),
        "beta": _num("beta, weight of the entropy term (Eq. 18-19)", low=0),
        "entropy_form": _choice("entropy term: authors' code or the paper's Eq. 17", ("code", "paper")),
        "gan_lr": _num("Adam learning rate of generator and discriminator", low=0, low_open=True),
        "nz": _int("latent size of the generator", low=1),
        "ngf": _int("generator width", low=1),
        "ndf": _int("discriminator width", low=1),
    },
    "osr": {
        "scores": _list("open-set scores to report", _choice("score", SCORES)),
        "bootstrap": _int("bootstrap resamples for the 95% intervals (0 = none)", low=0),
    },
    "ood": {
        "sets": _list("out-of-distribution sets", _registered("set", _ood_set, "out-of-distribution set")),
        "noise_count": _int("images in each generated noise set", low=1),
    },
    "incremental": {
        "methods": _list("bases to compare", _method("method")),
        "enabled": Field(bool, "run the class-incremental stage"),
        "base_classes": _int("classes the backbone is trained on", low=2),
        "orders": _int("random class orders to average over", low=1),
        "epochs": _int("epochs of base training", low=1),
        "train_per_class": _int("training images per class (null = data.train_per_class)", low=1, nullable=True),
    },
    "figures": {
        "backbone": _registered("network of the 2-D feature figures", _backbone, "backbone"),
        "epochs": _int("epochs of each figure model", low=1),
        "train_per_class": _int("training images per class of the figure and ablation models "
                                "(null = data.train_per_class)", low=1, nullable=True),
        "split": _int("split index used by the figures", low=0),
        "enabled": Field(bool, "run the figures and ablations stages (small 2-D models; off for ImageNet-scale data)"),
        "lambdas": _list("lambda values of the Fig. 8 ablation", _num("lambda", low=0)),
        "known_counts": _list("numbers of known classes of Fig. 11 and 12", _int("K", low=2)),
    },
}

SPLITS_PER_DATASET = 5  # the authors' five lists per dataset (random splits use the same count)


def validate(params: Any, schema: dict[str, Any] = SCHEMA, prefix: str = "") -> dict[str, Any]:
    """Check ``params`` against ``schema``; return it unchanged or raise :class:`ParamsError`."""
    if not isinstance(params, dict):
        raise ParamsError(f"{prefix or 'params.yaml'} must be a mapping of keys to values, got {params!r}")
    for key in params:
        if key not in schema:
            raise ParamsError(_unknown_key_message(prefix + str(key), key, schema))
    for key, spec in schema.items():
        name = prefix + key
        if key not in params:
            raise ParamsError(f"{name} is missing; add it ({_describe(spec)}).")
        if isinstance(spec, dict):
            validate(params[key], spec, name + ".")
        else:
            _check_field(name, params[key], spec)
    if not prefix:
        _check_cross_fields(params)
    return params


def import_paths(params: dict[str, Any], schema: dict[str, Any] = SCHEMA, prefix: str = "") -> list[tuple[str, str]]:
    """``(key, value)`` for every value of ``params`` that names the user's own method, variant, dataset or
    backbone by import path, ``"module:attribute"`` (docs/extending.md), e.g. ``("train.methods", "my.mod:Head")``."""
    from arpl.registry import is_import_path

    found = []
    for key, spec in schema.items():
        value = params.get(key) if isinstance(params, dict) else None
        if isinstance(spec, dict):
            found += import_paths(value, spec, f"{prefix}{key}.")
        elif (spec.item or spec).lookup is not None:
            found += [(prefix + key, entry) for entry in (value if isinstance(value, list) else [value])
                      if isinstance(entry, str) and is_import_path(entry)]
    return found


def _describe(spec: Any) -> str:
    if isinstance(spec, dict):
        return "a section with keys " + ", ".join(spec)
    return f"{spec.help}: {spec.allowed()}"


def _unknown_key_message(name: str, key: str, schema: dict[str, Any]) -> str:
    close = difflib.get_close_matches(str(key), list(schema), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown key {name!r} in params.yaml.{hint} Allowed here: {', '.join(schema)}."


def _check_field(name: str, value: Any, spec: Field) -> None:
    if value is None:
        if spec.nullable:
            return
        raise ParamsError(f"{name} is null; it must be {spec.allowed()}.")
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise ParamsError(f"{name} = {value!r} has the wrong type; it must be {spec.allowed()}.")
    if spec.item is not None:
        if not value and not spec.allow_empty:
            raise ParamsError(f"{name} is an empty list; give at least one value ({spec.item.allowed()}).")
        for i, item in enumerate(value):
            _check_field(f"{name}[{i}]", item, spec.item)
        if len(set(map(repr, value))) != len(value):
            raise ParamsError(f"{name} = {value!r} repeats a value; list each once.")
        return
    if spec.lookup is not None:
        try:
            spec.lookup(value)
        except ValueError as error:
            raise ParamsError(f"{name} = {value!r} is not allowed: {error}") from None
        return
    bad = (spec.choices is not None and value not in spec.choices
           or spec.pattern is not None and not re.match(spec.pattern, value)
           or spec.low is not None and (value <= spec.low if spec.low_open else value < spec.low)
           or spec.high is not None and value > spec.high)
    if bad:
        hint = ""
        if spec.choices is not None and isinstance(value, str):
            close = difflib.get_close_matches(value, [str(c) for c in spec.choices], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParamsError(f"{name} = {value!r} is not allowed; it must be {spec.allowed()}.{hint}")


def _check_cross_fields(params: dict[str, Any]) -> None:
    from arpl.data.splits import has_authors_splits

    dataset = params["data"]["dataset"]
    count = SPLITS_PER_DATASET
    for key, indices in (("data.splits", params["data"]["splits"]), ("figures.split", [params["figures"]["split"]])):
        for index in indices:
            if index >= count:
                raise ParamsError(f"{key} holds split {index}, but {dataset} has {count} splits "
                                  f"(indices 0..{count - 1}).")
    _check_feature_sizes(params)
    _check_method_names(params)
    num_classes = _open_set_dataset(dataset).num_classes
    num_known = params["data"]["num_known"]
    if not params["data"]["splits"] and not params["train"]["closed_set"]:
        raise ParamsError("data.splits is empty and train.closed_set is false, so nothing would be trained; "
                          "list split indices in data.splits or set train.closed_set: true.")
    needs_split = params["data"]["splits"] or params["figures"]["enabled"]
    if num_known is None and not has_authors_splits(dataset) and needs_split:
        raise ParamsError(f"data.num_known is null, but {dataset} has no published splits and the open-set trials or "
                          f"the figures need one; give the number of known classes of its random splits "
                          f"(1..{num_classes - 1}), or set data.splits: [] and figures.enabled: false.")
    if num_known is not None and not 1 <= num_known < num_classes:
        raise ParamsError(f"data.num_known = {num_known} is not allowed; {dataset} has {num_classes} classes, "
                          f"so it must be between 1 and {num_classes - 1}.")
    if params["incremental"]["enabled"] and params["incremental"]["base_classes"] >= num_classes:
        raise ParamsError(f"incremental.base_classes = {params['incremental']['base_classes']} leaves no new "
                          f"class: {dataset} has {num_classes} classes; use at most {num_classes - 1}.")
    for k in params["figures"]["known_counts"] if params["figures"]["enabled"] else []:
        if k >= num_classes:
            raise ParamsError(f"figures.known_counts holds {k}, but {dataset} has {num_classes} classes; "
                              f"each K must leave at least one unknown class (K <= {num_classes - 1}).")


def _check_feature_sizes(params: dict[str, Any]) -> None:
    backbone, feat_dim = params["model"]["backbone"], params["model"]["feat_dim"]
    entry = _backbone(backbone)
    if entry.fixed_feature_size and feat_dim not in (None, entry.feat_dim):
        raise ParamsError(f"model.feat_dim = {feat_dim} does not fit model.backbone = {backbone!r}, whose feature "
                          f"size is {entry.feat_dim}; set model.feat_dim: null.")
    if params["model"]["width"] is not None and not entry.width:
        raise ParamsError(f"model.width = {params['model']['width']} applies to networks that take a width (such "
                          f"as 'small'), not to model.backbone = {backbone!r}; set model.width: null.")
    if _backbone(params["figures"]["backbone"]).fixed_feature_size:
        from arpl.models import BACKBONES

        usable = " or ".join(repr(entry.name) for entry in BACKBONES.entries() if not entry.fixed_feature_size)
        raise ParamsError(f"figures.backbone = {params['figures']['backbone']!r} cannot have the 2-D feature the "
                          f"feature-space figures need; use {usable}.")


def _check_method_names(params: dict[str, Any]) -> None:
    """Each method of ``train.methods`` has its own run folder (its registered name); with ``confusing.init: arpl``
    every variant starts from the trained model of the method it trains."""
    from arpl.methods import get_variant, registered_name

    trained = [registered_name(method) for method in params["train"]["methods"]]
    if len(set(trained)) != len(trained):
        raise ParamsError(f"train.methods = {params['train']['methods']!r} names one method twice (registered names "
                          f"{trained}); list each once.")
    if params["confusing"]["init"] != "arpl":
        return
    for variant in params["confusing"]["variants"]:
        method = get_variant(variant).method
        if method not in trained:
            raise ParamsError(f"confusing.init = 'arpl' starts {get_variant(variant).display_name} from the trained "
                              f"{method} models, but train.methods lacks {method}; add {method} to train.methods or "
                              f"set confusing.init: scratch.")


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read and validate ``params.yaml``; the first thing every stage and ``arpl check`` does."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path} not found. Run from the repository root, or copy a profile: "
                          f"python -m arpl profile cpu-default")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from error
    return validate(params)


# ----------------------------------------------------------------------------- profiles

BASE_PROFILE = "cpu-default"
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[\w+-]+):(?P<value>[^#]*?)(?P<comment>\s*#.*)?$")


def profile_names() -> list[str]:
    """The profiles shipped in ``arpl/profiles/``."""
    folder = resources.files("arpl").joinpath("profiles")
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def profile_text(name: str) -> str:
    """The complete, commented ``params.yaml`` of profile ``name``.

    ``cpu-default.yaml`` is the full parameter file; every other profile lists only what it changes (with
    its own comments) and is laid over it line by line, so the result keeps every comment of the default.
    Raises :class:`ParamsError` for an unknown profile or a key the default does not have.
    """
    if name not in profile_names():
        raise ParamsError(f"unknown profile {name!r}; available: {', '.join(profile_names())}")
    base = _read_profile(BASE_PROFILE)
    return base if name == BASE_PROFILE else overlay(base, _read_profile(name), name)


def profile_params(name: str) -> dict[str, Any]:
    """Profile ``name`` as a validated params dict."""
    return validate(yaml.safe_load(profile_text(name)))


def _read_profile(name: str) -> str:
    return resources.files("arpl").joinpath("profiles", f"{name}.yaml").read_text(encoding="utf-8")


def overlay(base: str, changes: str, name: str = "profile") -> str:
    """``base`` (a commented params file) with the values of ``changes`` (a partial one) put in; a changed line
    takes the comment written beside it in ``changes``, else keeps its own. The leading comment lines of
    ``changes`` go on top."""
    values = _flatten(yaml.safe_load(changes) or {})
    comments = {key: match.group("comment").strip() for _, key, match in _key_lines(changes) if match.group("comment")}
    lines = base.splitlines()
    for index, key, match in _key_lines(base):
        if key in values:
            lines[index] = _render(lines[index], match, values.pop(key), comments.get(key))
    if values:
        raise ParamsError(f"profile {name!r} sets {', '.join(values)}, which the default profile does not have; "
                          f"fix the key names in arpl/profiles/{name}.yaml.")
    header = list(itertools.takewhile(lambda line: line.startswith("#"), changes.splitlines()))
    return "\n".join(header + lines) + "\n"


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _key_lines(text: str) -> Iterator[tuple[int, str, re.Match]]:
    """(line index, dotted key, match) of each ``key: value`` line of a two-level params file."""
    section = ""
    for index, line in enumerate(text.splitlines()):
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        if match.group("indent"):
            yield index, f"{section}.{match.group('key')}", match
            continue
        section = match.group("key") if not match.group("value").strip() else ""
        yield index, match.group("key"), match


def _render(line: str, match: re.Match, value: Any, comment: str | None) -> str:
    """``line`` with ``value`` (YAML flow style) and the comment kept at its column."""
    text = f"{match.group('indent')}{match.group('key')}: " + yaml.safe_dump([value], default_flow_style=True,
                                                                            width=1000).strip()[1:-1]
    comment = comment or (match.group("comment") or "").strip()
    if not comment:
        return text
    column = line.index("#") if match.group("comment") else 0
    return text.ljust(max(column, len(text) + 2)) + comment
