"""Profiles: parameter presets shipped in ``arpl/pipeline/params/profiles/`` (``python -m arpl profile NAME``).

``cpu-default.yaml`` is the full, commented parameter file; every other profile lists only what it changes and
is laid over it by ruamel.yaml's round trip (:func:`overlay`), so a new key is added in one place.
"""

from __future__ import annotations

import io
import itertools
from importlib import resources
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from arpl.pipeline.params import ParamsError, validate

BASE_PROFILE = "cpu-default"


def profile_names() -> list[str]:
    """The profiles shipped in ``arpl/pipeline/params/profiles/``."""
    folder = resources.files(__name__)
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def profile_text(name: str) -> str:
    """The complete, commented ``params.yaml`` of profile ``name``.

    ``cpu-default.yaml`` is the full parameter file; every other profile lists only what it changes (with
    its own comments) and is laid over it (:func:`overlay`), so the result keeps every comment of the default.
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
    return resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def overlay(base: str, changes: str, name: str = "profile") -> str:
    """``base`` (a commented params file) with the values of ``changes`` (a partial one) put in, by ruamel.yaml's
    round trip, so every comment of ``base`` stays. A changed key takes the comment written beside it in ``changes``
    (at the column of ``base``, or further right where ``changes`` puts it), else keeps its own; the leading
    comment lines of ``changes`` go on top. Raises :class:`ParamsError` for a key ``base`` does not have."""
    round_trip = _round_trip()
    tree = round_trip.load(base)
    unknown = _put(tree, round_trip.load(changes) or {})
    if unknown:
        raise ParamsError(f"profile {name!r} sets {', '.join(unknown)}, which the default profile does not have; "
                          f"fix the key names in arpl/pipeline/params/profiles/{name}.yaml.")
    header = itertools.takewhile(lambda line: line.startswith("#"), changes.splitlines())
    text = io.StringIO()
    round_trip.dump(tree, text)
    return "".join(f"{line}\n" for line in header) + text.getvalue()


def _round_trip() -> YAML:
    """A round-trip ruamel.yaml that writes ``null`` (not an empty value) and keeps long lines whole."""
    round_trip = YAML(typ="rt")
    round_trip.width = 4096
    round_trip.representer.add_representer(
        type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null"))
    return round_trip


def _put(tree: CommentedMap, changes: CommentedMap, prefix: str = "") -> list[str]:
    """Put each value of ``changes`` into ``tree``, section by section; the dotted keys ``tree`` lacks."""
    unknown = []
    for key, value in changes.items():
        if key not in tree:
            unknown.append(f"{prefix}{key}")
        elif isinstance(value, dict) and isinstance(tree[key], dict):
            unknown += _put(tree[key], value, f"{prefix}{key}.")
        else:
            tree[key] = _flow(value)
            _take_comment(tree, changes, key)
    return unknown


def _flow(value: Any) -> Any:
    """A list as a flow-style sequence (``[0, 1, 2]``), as the default writes them; anything else as it is."""
    if not isinstance(value, list):
        return value
    sequence = CommentedSeq(value)
    sequence.fa.set_flow_style()
    return sequence


def _take_comment(tree: CommentedMap, changes: CommentedMap, key: str) -> None:
    """The comment of changed ``key``: the one beside it in ``changes`` if any (at the column of ``tree``'s, or
    further right where ``changes`` puts it), else its own; at least two spaces after the value, and the blank
    lines after it in ``tree`` stay."""
    given, own = _comment_token(changes, key), _comment_token(tree, key)
    comment = _text(given) or _text(own)
    if not comment:
        return
    column = max(own.column if _text(own) else 0, given.column if _text(given) else 0)
    after = "\n" + own.value.partition("\n")[2] if own else "\n"
    # ruamel.yaml puts one space before a comment that a longer value pushed right; the leading space makes two
    tree.ca.items.setdefault(key, [None] * 4)[2] = CommentToken(f" {comment}{after}", CommentMark(column - 1))


def _text(token: CommentToken | None) -> str:
    """The comment on the line of ``token`` (``""`` when it holds only blank lines, or there is none)."""
    return token.value.split("\n")[0].strip() if token else ""


def _comment_token(tree: CommentedMap, key: str) -> CommentToken | None:
    """The end-of-line comment (with the blank lines after it) of ``key`` in ``tree``, as ruamel.yaml keeps it."""
    return (tree.ca.items.get(key) or [None] * 4)[2]
