"""Profiles: parameter presets shipped in ``arpl/pipeline/profiles/`` (``python -m arpl profile NAME``).

``cpu-default.yaml`` is the full, commented parameter file; every other profile lists only what it changes and
is laid over it line by line (:func:`overlay`), so a new key is added in one place.
"""

from __future__ import annotations

import itertools
import re
from importlib import resources
from typing import Any, Iterator

import yaml

from arpl.pipeline.params import validate
from arpl.pipeline.schema import ParamsError

BASE_PROFILE = "cpu-default"
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[\w+-]+):(?P<value>[^#]*?)(?P<comment>\s*#.*)?$")


def profile_names() -> list[str]:
    """The profiles shipped in ``arpl/pipeline/profiles/``."""
    folder = resources.files("arpl.pipeline").joinpath("profiles")
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
    return resources.files("arpl.pipeline").joinpath("profiles", f"{name}.yaml").read_text(encoding="utf-8")


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
                          f"fix the key names in arpl/pipeline/profiles/{name}.yaml.")
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
