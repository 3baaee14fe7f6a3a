"""The identity of code by its meaning: what the modules a training run executes do, not how they are written.

A checkpoint's fingerprint (:func:`arpl.training.specs.fingerprint`) holds the identity of its run's code, so a
finished run is reused only while that code is unchanged, and an edit elsewhere retrains nothing:

* **meaning**: a module's syntax tree with its docstrings removed, dumped without positions, then hashed; comments
  and formatting never reach the tree, so editing them changes nothing, while any change to what the code does
  (an operator, a constant, a name, an argument) changes the hash;
* **which modules**: :func:`closure` of the run's root modules over their imports (at module level or inside
  functions); a package's ``__init__.py`` counts, but of its own imports only those whose names it uses itself:
  ``from arpl.methods import build_head`` leads to the module that defines ``build_head``
  (``arpl/methods/registry.py``), not to every method that ``arpl/methods/__init__.py`` imports to register it;
* **package data** a module names (``"splits.json"`` beside it): its bytes;
* not this module itself: it computes identities and cannot change a run's numbers, so editing it retrains nothing
  (an edit that changes what it computes changes the identities by itself).

What is read from a file (its meaning, imports, names and file names: :func:`file_facts`) depends on its text alone,
so it is kept on disk under the file's hash, beside Python's own bytecode cache: a stage checks the fingerprints of
its finished runs without parsing the fifty-odd modules they execute again.

:mod:`arpl.pipeline.stage_deps` uses :func:`module_file` and :func:`parse` to find what each DVC stage reads.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import sys
import uuid
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]   # the repository: arpl/ and your own packages beside it
PACKAGE = "arpl"
NOT_IN_IDENTITY = (__name__,)   # modules that compute identities, and so cannot change a run's numbers
FACTS_CACHE = Path(__file__).resolve().parent / "__pycache__" / f"code-facts.{sys.implementation.cache_tag}"
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The source file of ``module`` under ``root`` (``arpl.data.sources`` -> ``arpl/data/sources.py``; a package ->
    its ``__init__.py``), or None when it is no module of the repository."""
    base = Path(root).joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def installed_file(module: str) -> Path | None:
    """The source file of ``module`` found on the Python path (an installed package), without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    return origin if origin is not None and origin.suffix == ".py" and origin.is_file() else None


def file_version(path: Path) -> tuple[int, int]:
    """The file's modification time and size: the key under which its parse and its meaning are cached."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def parse(path: Path) -> ast.Module:
    """The syntax tree of the Python file ``path`` (cached until the file changes)."""
    return _parse(Path(path), *file_version(Path(path)))


@lru_cache(maxsize=1024)
def _parse(path: Path, mtime_ns: int, size: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@dataclass(frozen=True)
class FileFacts:
    """What this module reads from one Python file, each a function of the file's text alone."""

    meaning: str                                           # hash of the syntax tree without docstrings or positions
    imports: tuple[tuple[int, str, str | None, str], ...]  # (level, module, name or None for `import m`, local name)
    reexports: tuple[tuple[str, str, str], ...]            # module-level `from m import name as local`, level 0
    used_names: frozenset[str]                             # names the code reads
    file_names: frozenset[str]                             # string constants like "splits.json": a dot, no spaces


def file_facts(path: Path) -> FileFacts:
    """The :class:`FileFacts` of the Python file ``path``: from memory while the file keeps its modification time
    and size, else from :data:`FACTS_CACHE` under the hash of its text, else parsed (and stored there)."""
    return _file_facts(Path(path), *file_version(Path(path)))


@lru_cache(maxsize=1024)
def _file_facts(path: Path, mtime_ns: int, size: int) -> FileFacts:
    text = path.read_bytes()
    stored = FACTS_CACHE / f"{hashlib.sha256(text).hexdigest()}.json"
    try:
        return _facts_from_json(json.loads(stored.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    facts = _read_facts(text.decode("utf-8"), str(path))
    _store(facts, stored)
    return facts


def _read_facts(text: str, filename: str) -> FileFacts:
    tree = ast.parse(text, filename=filename)
    imports, used, file_names = [], set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [(0, alias.name, None, alias.asname or alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports += [(node.level, node.module or "", alias.name, alias.asname or alias.name) for alias in node.names]
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            used.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200 \
                and "." in node.value and not any(map(str.isspace, node.value)):
            file_names.add(node.value)
    reexports = tuple((node.module, alias.name, alias.asname or alias.name) for node in tree.body
                      if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module for alias in node.names)
    for node in ast.walk(tree):
        if isinstance(node, _DOCUMENTED) and node.body and _is_docstring(node.body[0]):
            node.body = node.body[1:] or [ast.Pass()]
    meaning = hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()
    return FileFacts(meaning, tuple(imports), reexports, frozenset(used), frozenset(file_names))


def _facts_from_json(stored: dict) -> FileFacts:
    return FileFacts(stored["meaning"], tuple(map(tuple, stored["imports"])), tuple(map(tuple, stored["reexports"])),
                     frozenset(stored["used_names"]), frozenset(stored["file_names"]))


def _store(facts: FileFacts, target: Path) -> None:
    """Write ``facts`` to ``target`` atomically; a folder that cannot be written only means no cache."""
    fields = {name: sorted(value) if isinstance(value, frozenset) else value for name, value in asdict(facts).items()}
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(fields))
        os.replace(temporary, target)
    except OSError:
        temporary.unlink(missing_ok=True)


def meaning(path: Path) -> str:
    """A hash of what the Python file ``path`` does: its syntax tree without docstrings or positions."""
    return file_facts(path).meaning


def _is_docstring(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


# ----------------------------------------------------------------------------- which modules


def is_package(module: str, root: Path) -> bool:
    """Whether ``module`` is a package of the repository (its file an ``__init__.py``)."""
    path = module_file(module, root)
    return path is not None and path.name == "__init__.py"


def _defining_module(package: str, name: str, root: Path, depth: int = 0) -> str:
    """The module that defines ``name`` imported from ``package``: followed through the ``from X import name``
    re-exports of its ``__init__.py``."""
    for source, imported, local in file_facts(module_file(package, root)).reexports:
        if local == name and depth < 8:
            if module_file(f"{source}.{imported}", root):
                return f"{source}.{imported}"
            if module_file(source, root) and is_package(source, root):
                return _defining_module(source, imported, root, depth + 1)
            return source if module_file(source, root) else package
    return package


def with_parents(module: str) -> list[str]:
    """``module`` and its parent packages, outermost first (``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def imports_of(module: str, root: Path = ROOT) -> set[str]:
    """The repository modules that running ``module`` imports (see the module docstring)."""
    return set(_imports_of(module, Path(root), *file_version(module_file(module, root))))


@lru_cache(maxsize=1024)
def _imports_of(module: str, root: Path, mtime_ns: int, size: int) -> frozenset[str]:
    facts = file_facts(module_file(module, root))
    in_package = is_package(module, root)
    package = module if in_package else module.rpartition(".")[0]
    found: set[str] = set()
    for level, base, name, local in facts.imports:
        if in_package and local not in facts.used_names:
            continue   # a package's re-export or registering import: followed where the name is used
        if level:
            anchor = package.split(".")[:len(package.split(".")) - level + 1]
            base = ".".join(anchor + ([base] if base else []))
        targets = with_parents(base)
        if name is not None and name != "*" and module_file(base, root):
            submodule = f"{base}.{name}"
            targets.append(submodule if module_file(submodule, root) else
                           _defining_module(base, name, root) if is_package(base, root) else base)
        found.update(target for target in targets if module_file(target, root))
    return frozenset(found - {module})


def closure(modules: list[str] | set[str], root: Path = ROOT) -> set[str]:
    """``modules`` (and their parent packages) and every repository module they import, transitively."""
    seen: set[str] = set()
    todo = [parent for module in modules for parent in with_parents(module) if module_file(parent, root)]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(imports_of(module, root) - seen)
    return seen


def data_files(module: str, root: Path = ROOT) -> set[Path]:
    """Non-Python files beside ``module`` that a string constant of its code names (``"splits.json"``)."""
    path = module_file(module, root)
    return set(_data_files(path, *file_version(path)))


@lru_cache(maxsize=1024)
def _data_files(path: Path, mtime_ns: int, size: int) -> frozenset[Path]:
    return frozenset(path.parent / name for name in file_facts(path).file_names
                     if not name.endswith(".py") and (path.parent / name).is_file())


def identity(modules: list[str] | set[str], root: Path = ROOT) -> str:
    """A hash of the meaning of ``modules``' :func:`closure` and of the package data they name. A module outside
    the repository (an installed package) counts by the meaning of its own file.

    A stage asks for the same identity once per model it evaluates: it is computed once per process and reused
    while every file it read keeps its modification time and size (as :func:`meaning` is)."""
    key = (tuple(sorted(modules)), Path(root))
    known = _IDENTITIES.get(key)
    if known is not None and all(_version_if_any(path) == version for path, version in known[1]):
        return known[0]
    value, files = _identity(key[0], key[1])
    _IDENTITIES[key] = (value, tuple((path, _version_if_any(path)) for path in files))
    return value


_IDENTITIES: dict[tuple[tuple[str, ...], Path], tuple[str, tuple[tuple[Path, tuple[int, int] | None], ...]]] = {}


def _version_if_any(path: Path) -> tuple[int, int] | None:
    return file_version(path) if path.is_file() else None


def _identity(modules: tuple[str, ...], root: Path) -> tuple[str, list[Path]]:
    """The identity of ``modules`` and the files it read."""
    inside = [m for m in modules if module_file(m, root)]
    outside = [m for m in modules if not module_file(m, root)]
    digest, files = hashlib.sha256(), []
    for module in sorted(closure(inside, root) - set(NOT_IN_IDENTITY)):
        files.append(module_file(module, root))
        digest.update(f"{module}:{meaning(files[-1])}\n".encode())
        for path in sorted(data_files(module, root)):
            files.append(path)
            digest.update(f"{path.relative_to(root).as_posix()}:".encode() + hashlib.sha256(path.read_bytes())
                          .hexdigest().encode() + b"\n")
    for module in outside:
        path = installed_file(module)
        if path is None:
            raise ValueError(f"cannot find the source of module {module!r}; put it on the Python path")
        files.append(path)
        digest.update(f"{module}:{meaning(path)}\n".encode())
    return digest.hexdigest()[:16], files
