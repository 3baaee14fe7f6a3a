"""The one registry of methods and of their Algorithm-2 variants: how the pipeline finds them by name.

A method is a :class:`~arpl.methods.base.Method` subclass decorated with :func:`register_method`; the built-in
ones of this package register themselves so in their modules, which importing ``arpl.methods`` loads. A
method outside ``arpl`` is named in params.yaml by its import path, ``"package.module:Class"``:
:func:`get_method` imports the module (whose decorator registers the class) in whichever process asks for it
(a stage's notebook kernel, a spawned training worker, the params validation, a checkpoint loader), so
nothing in ``arpl`` lists it. A variant (:class:`~arpl.methods.base.ConfusingVariant`) is registered with
:func:`register_variant` and named the same two ways in ``confusing.variants``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import torch
from torch import nn

from arpl.methods.base import ConfusingVariant, Method
from arpl.registry import import_object
from arpl.scores import score_names, unknown_name_error

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+.-]*$")
IMPORT_PATH_HINT = "a method outside arpl is named by its import path, 'package.module:Class'"

_METHODS: dict[str, type[Method]] = {}
_VARIANTS: dict[str, ConfusingVariant] = {}


# ----------------------------------------------------------------------------- registering


def register_method(cls: type[Method]) -> type[Method]:
    """Class decorator: register the method ``cls`` under ``cls.name`` (see :class:`Method` for what it sets).

    The class is checked now, so a mistake shows where the method is defined: it must subclass
    :class:`Method`, implement ``logits`` and ``forward``, name itself, cite its reference, list scores of
    :mod:`arpl.scores` and have an own score that :meth:`Method.score` computes.
    """
    where = _check_method(cls)
    if "display_name" not in vars(cls):
        cls.display_name = cls.name
    if "colour" not in vars(cls):
        cls.colour = None  # a subclass of another method gets a colour of its own in the figures
    _claim(cls, where)
    _METHODS[cls.name] = cls
    return cls


def _check_method(cls: type[Method]) -> str:
    """Check the class of a method; returns where it is defined, for messages."""
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise TypeError(f"@register_method decorates a subclass of arpl.methods.Method, got {cls!r}")
    where = f"{cls.__module__}.{cls.__qualname__}"
    if "name" not in vars(cls):
        raise ValueError(f"{where} sets no name; add a class attribute such as name = {cls.__name__!r}")
    _check_name(cls.name, where)
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise TypeError(f"{where} does not implement {missing}; see arpl.methods.Method")
    if not isinstance(cls.reference, str) or not cls.reference.strip():
        raise ValueError(f"{where} cites no reference; set reference = 'the paper or code it implements'")
    for name in cls.scores:
        if name not in score_names():
            raise unknown_name_error(f"score in {where}.scores:", name, score_names())
    _check_own_score(cls, where)
    return where


def register_variant(variant: ConfusingVariant) -> ConfusingVariant:
    """Register an Algorithm-2 variant of a registered method that has an entropy term (Eq. 17-19)."""
    if not isinstance(variant, ConfusingVariant):
        raise TypeError(f"register_variant takes an arpl.methods.ConfusingVariant, got {variant!r}")
    _check_name(variant.name, f"variant {variant.display_name!r}")
    if not hasattr(get_method(variant.method), "entropy_term"):
        raise ValueError(f"variant {variant.name!r} trains {variant.method} by Algorithm 2, which needs the entropy "
                         f"term of Eq. 17-19; {variant.method} has no entropy_term method")
    _claim(variant, f"variant {variant.name!r}")
    _VARIANTS[variant.name] = variant
    return variant


def _check_name(name: object, where: str) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(f"{where} has name {name!r}; a name is letters, digits and _+.- (it names run folders)")


def _check_own_score(cls: type[Method], where: str) -> None:
    try:
        values = cls.score("own", torch.zeros(2, 3))
    except ValueError as error:
        raise ValueError(f"{where}.own_score = {cls.own_score!r} is neither a score of arpl.scores "
                         f"({', '.join(score_names())}) nor one its score() computes: {error}") from error
    if not isinstance(values, torch.Tensor) or values.shape != (2,):
        raise ValueError(f"{where}.score('own', logits [B, K]) must return a tensor [B], got {values!r}")


def _claim(entry: Any, where: str) -> None:
    """Names and display names are unique over methods and variants (they name run folders and table rows);
    registering the same definition again (a reloaded module) replaces it."""
    for other in [*_METHODS.values(), *_VARIANTS.values()]:
        if _origin(other) == _origin(entry):
            continue
        for kind in ("name", "display_name"):
            if getattr(other, kind) == getattr(entry, kind):
                raise ValueError(f"{where} takes the {kind.replace('_', ' ')} {getattr(entry, kind)!r}, which "
                                 f"{_origin(other)} already registered; choose another {kind.replace('_', ' ')}")


def _origin(entry: Any) -> str:
    if isinstance(entry, ConfusingVariant):
        return f"variant {entry.name!r} ({entry.display_name})"
    return f"{entry.__module__}.{entry.__qualname__}"


# ----------------------------------------------------------------------------- looking up


def method_names() -> list[str]:
    """The registered methods, in registration order (the built-in ones first)."""
    return list(_METHODS)


def variant_names() -> list[str]:
    """The registered Algorithm-2 variants, in registration order."""
    return list(_VARIANTS)


def get_method(method: str) -> type[Method]:
    """The method class registered as ``method`` (``"ARPL"``), or named by import path
    (``"package.module:Class"``; the module is imported on first use, which registers the class)."""
    if isinstance(method, str) and ":" in method:
        cls = import_object(method)
        if not (isinstance(cls, type) and _METHODS.get(getattr(cls, "name", None)) is cls):
            raise ValueError(f"{method!r} is not a registered method; decorate it with "
                             f"@arpl.methods.register_method")
        return cls
    if method not in _METHODS:
        raise ValueError(f"{unknown_name_error('method', method, method_names())}; {IMPORT_PATH_HINT}")
    return _METHODS[method]


def get_variant(variant: str) -> ConfusingVariant:
    """The Algorithm-2 variant registered as ``variant`` (``"cs"``), or named by import path
    (``"package.module:VARIANT"``, the module-level object :func:`register_variant` returned)."""
    if isinstance(variant, str) and ":" in variant:
        found = import_object(variant)
        if not (isinstance(found, ConfusingVariant) and _VARIANTS.get(found.name) is found):
            raise ValueError(f"{variant!r} is not a registered variant; register it with "
                             f"arpl.methods.register_variant")
        return found
    if variant not in _VARIANTS:
        raise ValueError(f"{unknown_name_error('variant', variant, variant_names())}; a variant outside arpl "
                         f"is named by its import path, 'package.module:VARIANT'")
    return _VARIANTS[variant]


def registered_name(name: str) -> str:
    """The registered name of a method or variant named by import path (its run folder); any other name as is."""
    return _entry(name).name if ":" in name else name


def display_name(name: str) -> str:
    """How tables and figures name a registered method or variant (``cs`` -> ``ARPL+CS``)."""
    return _entry(name).display_name


def _entry(name: str) -> type[Method] | ConfusingVariant:
    if name in _VARIANTS:
        return _VARIANTS[name]
    if ":" in name and isinstance(import_object(name), ConfusingVariant):
        return get_variant(name)
    return get_method(name)


def colours() -> dict[str, str]:
    """The colour of every registered method and variant that has one, by display name."""
    entries = [*_METHODS.values(), *_VARIANTS.values()]
    return {entry.display_name: entry.colour for entry in entries if entry.colour is not None}


# ----------------------------------------------------------------------------- building


def head_options(method: str) -> list[str]:
    """The keyword options ``build_head`` accepts for ``method`` (besides feat_dim, num_classes)."""
    parameters = inspect.signature(get_method(method).__init__).parameters
    return [name for name, parameter in parameters.items() if name not in ("self", "feat_dim", "num_classes")
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)]


def build_head(method: str, feat_dim: int, num_classes: int, **options: object) -> nn.Module:
    """The head of ``method`` (a registered name such as ``Softmax``, ``GCPL``, ``RPL`` or ``ARPL``,
    case-sensitive, or an import path).

    ``options`` are the head's keyword arguments (see :func:`head_options`); an option the
    head does not take is an error, not silently ignored.
    """
    allowed = head_options(method)
    for name in options:
        if not allowed:
            raise ValueError(f"the head of {method!r} takes no options, got {name!r}; remove it")
        if name not in allowed:
            error = unknown_name_error(f"option for head {method!r}:", name, allowed)
            raise ValueError(f"{error} (remove it or choose a head that takes it)")
    return get_method(method)(feat_dim, num_classes, **options)
