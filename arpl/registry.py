"""Extension points: what the pipeline finds by name (dataset sources, backbones), and how a user's own
entry, defined in their own module, is named in ``params.yaml`` by import path.

A :class:`Registry` maps names to entries of one kind. The built-in entries register themselves in the
module that implements them; a value such as ``"my_pkg.nets:TinyNet"`` instead names attribute ``TinyNet``
of module ``my_pkg.nets``, imported on first use, so a user's entry needs no edit to ``arpl/``. Any other
name is refused with a message listing what is registered.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Generic, Iterator, TypeVar

Entry = TypeVar("Entry")
PATH_SEPARATOR = ":"


class UnknownNameError(ValueError):
    """A name is neither registered nor an importable ``module:attribute`` of the right kind."""


def is_import_path(name: str) -> bool:
    """Whether ``name`` has the form ``module:attribute`` (a user's entry) rather than a registered name."""
    return PATH_SEPARATOR in name


def import_object(path: str) -> object:
    """The attribute named by ``path`` (``"my_pkg.nets:TinyNet"``), importing its module."""
    module_name, _, attribute = path.partition(PATH_SEPARATOR)
    if not module_name or not attribute:
        raise UnknownNameError(f"{path!r} is no import path; write it as 'module:attribute', e.g. 'my_pkg.nets:TinyNet'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UnknownNameError(f"cannot import module {module_name!r} of {path!r} ({error}); put the folder that "
                               f"holds it on PYTHONPATH or run from it") from error
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise UnknownNameError(f"module {module_name!r} has no attribute {attribute!r} (named by {path!r})") from None


class Registry(Generic[Entry]):
    """Entries of one ``kind`` (e.g. "dataset") by name; each entry has a ``name`` attribute."""

    def __init__(self, kind: str, entry_type: type) -> None:
        self.kind = kind
        self.entry_type = entry_type
        self._entries: dict[str, Entry] = {}

    def register(self, entry: Entry) -> Entry:
        """Add ``entry`` under ``entry.name``; a name is registered once."""
        if not isinstance(entry, self.entry_type):
            raise TypeError(f"a {self.kind} entry must be a {self.entry_type.__name__}, got {entry!r}")
        if is_import_path(entry.name):
            raise ValueError(f"{self.kind} name {entry.name!r} must not contain {PATH_SEPARATOR!r} "
                             f"(that marks an import path)")
        if entry.name in self._entries:
            raise ValueError(f"{self.kind} {entry.name!r} is registered twice; give the second one another name")
        self._entries[entry.name] = entry
        return entry

    def get(self, name: str) -> Entry:
        """The entry registered as ``name``, or the one its import path ``module:attribute`` names."""
        if not isinstance(name, str):
            raise UnknownNameError(f"a {self.kind} is named by a string, got {name!r}; {self.choices()}")
        if is_import_path(name):
            entry = import_object(name)
            if not isinstance(entry, self.entry_type):
                raise UnknownNameError(f"{name!r} is a {type(entry).__name__}, not a {self.entry_type.__name__}; "
                                       f"point it at a {self.entry_type.__name__} for the {self.kind}")
            return entry
        if name not in self._entries:
            close = difflib.get_close_matches(name, list(self._entries), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r}; {self.choices()}.{hint}")
        return self._entries[name]

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._entries)

    def entries(self) -> list[Entry]:
        """The registered entries, in registration order."""
        return list(self._entries.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def choices(self) -> str:
        """What may be named, for error messages."""
        return (f"registered: {', '.join(self._entries)}; or your own as 'module:attribute' "
                f"(a {self.entry_type.__name__})")
