"""The code a pipeline stage can run, function by function, found with :mod:`ast` without running it.

A :class:`Unit` is a top-level function or class of a module, or its module-level statements. From a stage's roots
(its notebook, its ``python -m arpl`` subcommand), :func:`reachable` follows every name that reachable code uses
(called, passed on, decorated with; a class counts whole) to the function or class it resolves to, through
``import`` statements and package re-exports. :mod:`arpl.pipeline.params_read` then reads which ``params.yaml``
keys that code reads.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from arpl.code_identity import module_file, parse

NOTEBOOK = "__notebook__"   # the module name prefix of a stage notebook's code (notebook_module)


@dataclass(frozen=True)
class Unit:
    """A piece of code that runs as a whole: a top-level function or class (``name``) of ``module``, or its
    module-level statements (``name == ""``)."""

    module: str
    name: str = ""


class CodeIndex:
    """The definitions and imported names of the modules of one repository and its stage notebooks (module
    ``__notebook__:notebooks/NN_x.py``, :func:`notebook_module`), parsed on demand and remembered; :func:`index_of`
    keeps one per repository while its files are unchanged."""

    def __init__(self, root: Path):
        self.root = root
        self._trees: dict[str, ast.Module | None] = {}
        self._names: dict[str, dict] = {}
        self._meanings: dict[tuple[str, str], Unit | str | None] = {}
        self.named: dict[Unit, set[Unit]] = {}     # what each unit names (see _named_units)
        self.reads: dict[Unit, set[str]] = {}      # what each unit reads (see params_read)

    def tree(self, module: str) -> ast.Module | None:
        """The syntax tree of ``module`` (of a notebook's code cells), or None outside the repository."""
        if module not in self._trees:
            if module.startswith(NOTEBOOK):
                self._trees[module] = notebook_tree(self.root / module.partition(":")[2])
            else:
                path = module_file(module, self.root)
                self._trees[module] = parse(path) if path is not None else None
        return self._trees[module]

    def definition(self, unit: Unit) -> ast.AST | None:
        """The ``def`` or ``class`` node of ``unit`` (None for module-level statements or an unknown name)."""
        tree = self.tree(unit.module)
        return next((node for node in (tree.body if tree else []) if isinstance(node, _DEFINITIONS)
                     and node.name == unit.name), None)

    def names(self, module: str) -> dict[str, tuple[str, str | None]]:
        """Imported names of ``module``: local name -> (module, attribute), attribute None for a module."""
        if module not in self._names:
            self._names[module] = _imported_names(self.tree(module), module, self.root)
        return self._names[module]

    def resolve(self, module: str, name: str, depth: int = 0) -> Unit | str | None:
        """What ``name`` means in ``module``: a :class:`Unit` (function or class), a module name, or None."""
        if (module, name) not in self._meanings:
            self._meanings[(module, name)] = self._resolve(module, name, depth)
        return self._meanings[(module, name)]

    def _resolve(self, module: str, name: str, depth: int) -> Unit | str | None:
        tree = self.tree(module)
        if tree is None or depth > 8:
            return None
        if any(isinstance(node, _DEFINITIONS) and node.name == name for node in tree.body):
            return Unit(module, name)
        if name not in self.names(module):
            return None
        target, attribute = self.names(module)[name]
        return target if attribute is None else self.attribute(target, attribute, depth + 1)

    def attribute(self, module: str, attribute: str, depth: int = 0) -> Unit | str | None:
        """What ``module.attribute`` is: a submodule, a definition of the module, or a name it imports."""
        if module_file(f"{module}.{attribute}", self.root) is not None:
            return f"{module}.{attribute}"
        return self.resolve(module, attribute, depth)


_INDEXES: dict[Path, tuple[tuple, CodeIndex]] = {}


def index_of(root: Path) -> CodeIndex:
    """The :class:`CodeIndex` of the repository at ``root``, kept while no Python file under ``arpl/`` or
    ``notebooks/`` changes."""
    root = Path(root).resolve()
    signature = tuple(sorted((str(path), path.stat().st_mtime_ns, path.stat().st_size)
                             for folder in ("arpl", "notebooks") for path in (root / folder).rglob("*.py")))
    if root not in _INDEXES or _INDEXES[root][0] != signature:
        _INDEXES[root] = (signature, CodeIndex(root))
    return _INDEXES[root][1]


def notebook_module(path: str) -> str:
    """The module name under which a :class:`CodeIndex` holds the notebook at ``path`` (``notebooks/01_data.py``)."""
    return f"{NOTEBOOK}:{Path(path).as_posix()}"


def notebook_tree(path: Path) -> ast.Module:
    """The code cells of a jupytext percent notebook (``# %%`` cells; ``# %% [markdown]`` ones left out) as one
    module; read without jupytext, which is slow to import."""
    code, in_code = [], True
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            in_code = "[markdown]" not in line and "[md]" not in line
            code.append("")
            continue
        code.append(line if in_code and not line.lstrip().startswith(("%", "!")) else "")
    return ast.parse("\n".join(code), filename=str(path))


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _imported_names(tree: ast.Module | None, module: str, root: Path) -> dict[str, tuple[str, str | None]]:
    """Names that ``import`` statements anywhere in ``tree`` bind to ``arpl`` modules and their attributes."""
    names: dict[str, tuple[str, str | None]] = {}
    if tree is None:
        return names
    package = module if (root.joinpath(*module.split(".")) / "__init__.py").is_file() else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = (alias.name, None)
                else:
                    names[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                if alias.name == "*":
                    continue
                submodule = f"{base}.{alias.name}"
                local = alias.asname or alias.name
                names[local] = (submodule, None) if module_file(submodule, root) else (base, alias.name)
    return names


# ----------------------------------------------------------------------------- reachability


def reachable(index: CodeIndex, roots: list[Unit], modules: set[str], skip: set[str] = frozenset()) -> list[Unit]:
    """The units that can run from ``roots``: those, the module-level statements of ``modules``, and every
    function or class that reachable code names, transitively; none of the modules in ``skip``."""
    seen: dict[Unit, None] = {}
    todo = list(roots) + [Unit(module) for module in sorted(modules)]
    while todo:
        unit = todo.pop()
        if unit in seen or unit.module in skip:
            continue
        seen[unit] = None
        todo.extend(target for target in _named_units(index, unit) if target not in seen)
    return list(seen)


def unit_nodes(index: CodeIndex, unit: Unit) -> list[ast.AST]:
    """The statements of ``unit``: its definition, or the module's statements other than definitions."""
    if unit.name:
        node = index.definition(unit)
        return [node] if node is not None else []
    tree = index.tree(unit.module)
    return [node for node in (tree.body if tree else []) if not isinstance(node, _DEFINITIONS)]


def _named_units(index: CodeIndex, unit: Unit) -> set[Unit]:
    if unit not in index.named:
        index.named[unit] = {target for top in unit_nodes(index, unit) for node in ast.walk(top)
                             if isinstance(target := meaning(index, unit.module, node), Unit)}
    return index.named[unit]


def meaning(index: CodeIndex, module: str, node: ast.AST) -> Unit | str | None:
    """What a ``Name`` or ``module.attribute`` node refers to in ``module`` (see :meth:`CodeIndex.resolve`)."""
    if isinstance(node, ast.Name):
        return index.resolve(module, node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
        owner = meaning(index, module, node.value)
        if isinstance(owner, str):
            return index.attribute(owner, node.attr)
    return None
