"""The identity of code by its meaning: what the modules a training run executes do, not how they are written.

A checkpoint's fingerprint (:func:`arpl.training.specs.fingerprint`) holds the identity of its run's code, so a
finished run is reused only while that code is unchanged, and an edit elsewhere retrains nothing:

* **meaning**: a module's syntax tree with its docstrings removed, dumped without positions, then hashed; comments
  and formatting never reach the tree, so editing them changes nothing, while any change to what the code does
  (an operator, a constant, a name, an argument) changes the hash;
* **which modules**: :func:`closure` of the run's root modules over their imports (at module level or inside
  functions; relative ones resolved by :func:`importlib.util.resolve_name`); a package's ``__init__.py`` counts,
  but of its own imports only those whose names it uses itself: ``from arpl.methods import build_head`` leads to
  the module that defines ``build_head`` (``arpl/methods/registry.py``), not to every method that
  ``arpl/methods/__init__.py`` imports to register it;
* **package data** a module names (``"splits.json"`` beside it): its bytes;
* not this module itself: it computes identities and cannot change a run's numbers, so editing it retrains nothing
  (an edit that changes what it computes changes the identities by itself).

A file is parsed once per process while it keeps its modification time and size (:func:`facts`).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Callable, NamedTuple

ROOT = Path(__file__).resolve().parents[1]   # the repository: arpl/ and your own packages beside it
NOT_IN_IDENTITY = (__name__,)   # modules that compute identities, and so cannot change a run's numbers
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The source file of ``module`` under ``root`` (``arpl.data.sources`` -> ``arpl/data/sources.py``; a package ->
    its ``__init__.py``), or None when it is no module of the repository."""
    base = os.path.join(root, *module.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return Path(path)
    return None


def installed_file(module: str) -> Path | None:
    """The source file of ``module`` found on the Python path (an installed package), or None."""
    try:
        origin = getattr(importlib.util.find_spec(module), "origin", None)
    except (ImportError, ValueError):   # no such parent package, or a module without a spec
        return None
    return Path(origin) if origin and origin.endswith(".py") and os.path.isfile(origin) else None


def with_parents(module: str) -> list[str]:
    """``module`` and its parent packages, outermost first (``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def file_version(path: Path) -> tuple[int, int]:
    """The file's modification time and size: while they stay, what :func:`facts` read from it is reused."""
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


def parse(path: Path) -> ast.Module:
    """The syntax tree of the Python file ``path``."""
    return ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))


class Facts(NamedTuple):
    """What the identity reads from one Python file. ``imports`` holds one ``(module, name, local, at_top)`` per
    imported name, the module as written (``from ..a import b as c`` -> ``("..a", "b", "c", ...)``, ``import a.b``
    -> ``("a.b", None, "a", ...)``), ``at_top`` for a statement of the module's body (not in a function or ``if``)."""

    meaning: str                  # hash of the syntax tree without docstrings or positions
    imports: tuple[tuple[str, str | None, str, bool], ...]
    used: frozenset[str]          # names the code reads
    strings: frozenset[str]       # string constants that may name a file: a dot, no spaces


def facts(path: Path) -> Facts:
    """The :class:`Facts` of the Python file ``path``, read once while it keeps its :func:`file_version`."""
    return _facts(os.fspath(path), *file_version(path))


@functools.lru_cache(maxsize=1024)
def _facts(path: str, mtime_ns: int, size: int) -> Facts:
    """The :class:`Facts` of ``path`` at this version: the process's one memo of what it read."""
    tree = parse(path)
    imports, used, strings = [], set(), set()
    for node in _executed(tree):
        if isinstance(node, ast.Import):
            imports += [(a.name, None, a.asname or a.name.split(".")[0], node in tree.body) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            written = "." * node.level + (node.module or "")
            imports += [(written, a.name, a.asname or a.name, node in tree.body) for a in node.names]
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            used.add(node.id)
        elif isinstance(node, ast.Constant) and _may_name_a_file(node.value):
            strings.add(node.value)
    return Facts(_meaning(tree), tuple(imports), frozenset(used), frozenset(strings))


def _executed(node: ast.AST):
    """``node`` and every node below it but the blocks of ``if TYPE_CHECKING:``, which never run."""
    yield node
    for child in ast.iter_child_nodes(node):
        test = child.test if isinstance(child, ast.If) else None
        if getattr(test, "id", getattr(test, "attr", None)) != "TYPE_CHECKING":
            yield from _executed(child)


def _meaning(tree: ast.Module) -> str:
    """A hash of ``tree`` without its docstrings (which it removes) or positions."""
    for node in ast.walk(tree):
        if isinstance(node, _DOCUMENTED) and ast.get_docstring(node, clean=False) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def _may_name_a_file(value: object) -> bool:
    return isinstance(value, str) and len(value) < 200 and "." in value and not any(map(str.isspace, value))


def absolute(written: str, package: str) -> str | None:
    """The module that ``written`` (an import's module, maybe relative) names in a module of ``package``: ``..a``
    in package ``p.q`` -> ``p.a``; None for a relative import beyond the top-level package."""
    try:
        return importlib.util.resolve_name(written, package)
    except ImportError:
        return None


def closure(modules: list[str] | set[str], root: Path = ROOT) -> set[str]:
    """``modules`` (and their parent packages) and every repository module they import, transitively."""
    find = functools.cache(lambda module: module_file(module, root))   # each name looked up once per walk
    seen: set[str] = set()
    todo = [parent for module in modules for parent in with_parents(module)]
    while todo:
        module = todo.pop()
        if module not in seen and find(module):
            seen.add(module)
            todo.extend(_imports(module, find) - seen)
    return seen


def _imports(module: str, find: Callable[[str], Path | None]) -> set[str]:
    """The repository modules (those ``find`` finds) that running ``module`` imports; of a package's own imports
    only those whose names it uses itself (its re-exports are followed where a name is imported from it)."""
    path = find(module)
    own, in_package = facts(path), path.name == "__init__.py"
    package = module if in_package else module.rpartition(".")[0]
    found = set()
    for written, name, local, _ in own.imports:
        base = absolute(written, package)
        if base is None or in_package and local not in own.used:
            continue
        found.update(parent for parent in with_parents(base) if find(parent))
        if name not in (None, "*") and find(base):
            found.add(_source(base, name, find))
    return found - {module}


def _source(base: str, name: str, find: Callable[[str], Path | None], depth: int = 0) -> str:
    """The module that ``from base import name`` runs: ``base.name`` if that is a module, else the module a package
    ``base`` re-exports ``name`` from (``from X import name`` in its body, followed), else ``base``."""
    if find(f"{base}.{name}"):
        return f"{base}.{name}"
    if depth >= 8 or find(base).name != "__init__.py":
        return base
    for written, imported, local, at_top in facts(find(base)).imports:
        if at_top and imported is not None and local == name:
            source = absolute(written, base)
            return _source(source, imported, find, depth + 1) if source and find(source) else base
    return base


def data_files(module: str, root: Path = ROOT) -> set[Path]:
    """Non-Python files beside ``module`` that a string constant of its code names (``"splits.json"``)."""
    path = module_file(module, root)
    return {path.parent / name for name in facts(path).strings
            if not name.endswith(".py") and os.path.isfile(os.path.join(path.parent, name))}


def identity(modules: list[str] | set[str], root: Path = ROOT) -> str:
    """A hash of the meaning of ``modules``' :func:`closure` and of the package data they name. A module outside
    the repository (an installed package) counts by the meaning of its own file."""
    modules, root, digest = sorted(modules), Path(root), hashlib.sha256()
    inside = closure([module for module in modules if module_file(module, root)], root)
    for module in sorted(inside - set(NOT_IN_IDENTITY)):
        digest.update(f"{module}:{facts(module_file(module, root)).meaning}\n".encode())
        for path in sorted(data_files(module, root)):
            data = hashlib.sha256(path.read_bytes()).hexdigest()
            digest.update(f"{path.relative_to(root).as_posix()}:{data}\n".encode())
    for module in (module for module in modules if not module_file(module, root)):
        path = installed_file(module)
        if path is None:
            raise ValueError(f"cannot find the source of module {module!r}; put it on the Python path")
        digest.update(f"{module}:{facts(path).meaning}\n".encode())
    return digest.hexdigest()[:16]
