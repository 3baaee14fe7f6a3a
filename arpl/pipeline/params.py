"""Reading and validating ``params.yaml`` against :data:`arpl.pipeline.schema.SCHEMA`.

Every stage calls :func:`load_params` before doing any work, so a typo, a wrong type or a value out of
range stops ``dvc repro`` within seconds with one message that names the key, the bad value and what is
allowed. ``python -m arpl check`` runs the same validation (and the data checks) without training.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml

from arpl.pipeline.schema import SCHEMA, SPLITS_PER_DATASET, Field, ParamsError, open_set_dataset


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
    num_classes = open_set_dataset(dataset).num_classes
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
    from arpl.models import BACKBONES, backbone_entry

    backbone, feat_dim = params["model"]["backbone"], params["model"]["feat_dim"]
    entry = backbone_entry(backbone)
    width = params["model"]["width"]
    own_size = entry.feat_dim if width is None else None   # a width sets the feature size of a fixed-size backbone
    if entry.fixed_feature_size and feat_dim not in (None, own_size):
        raise ParamsError(f"model.feat_dim = {feat_dim} does not fit model.backbone = {backbone!r}, whose feature "
                          f"size is {own_size or 'set by model.width'}; set model.feat_dim: null.")
    if width is not None and not entry.width:
        takers = ", ".join(repr(other.name) for other in BACKBONES.entries() if other.width)
        raise ParamsError(f"model.width = {width} applies to networks that take a width ({takers}), not to "
                          f"model.backbone = {backbone!r}; set model.width: null.")
    if backbone_entry(params["figures"]["backbone"]).fixed_feature_size:
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
