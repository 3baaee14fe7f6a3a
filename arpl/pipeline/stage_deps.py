"""What each pipeline stage reads, derived from the code, so ``dvc.yaml``'s ``deps`` and ``params`` cannot drift.

A stage's command (``python -m arpl notebook notebooks/NN_x.py ...`` or ``python -m arpl SUBCOMMAND``)
runs some ``arpl`` code; :func:`derive` finds it with :mod:`ast`, without running any of it:

* **modules**: the command's subcommand function in ``arpl/__main__.py``, the notebook, and transitively every
  ``arpl`` module they import, at module level or inside functions (importing ``arpl.a.b`` also runs
  ``arpl/__init__.py`` and ``arpl/a/__init__.py``, so those count too);
* **package data**: the non-Python files next to those modules that they name (``splits.json``,
  ``paper_results.csv``, ...);
* **params**: every ``params["section"]`` the notebook and those modules index (except the validation in
  ``arpl/pipeline/params.py``, which checks every key but shapes no output; for the same reason the registries it
  imports to check names, such as :mod:`arpl.models`, count only for stages that import them otherwise).
  ``params["section"]["key"]``
  reads only that key; any other use of ``params["section"]`` (``train = params["train"]``, passing it on)
  counts as reading the whole section. ``--when KEY`` in the command reads ``KEY``.

This over-approximates soundly: a module is counted whole even if the stage calls one function of it.
``python -m arpl deps`` prints the result per stage and ``python -m arpl deps --check`` compares it with
``dvc.yaml`` (also done by ``tests/test_dvc_deps.py``).
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

PACKAGE = "arpl"
PARAMS_NAME = "params"          # the name the notebooks and helpers give the params dict
# Modules that only validate: ``load_params`` checks the whole file (a bad value stops the stage before it computes
# anything), so neither the values it looks at nor the modules it imports to check them shape a stage's outputs.
VALIDATION_ONLY = ("arpl.pipeline.params", "arpl.pipeline.schema")
# Modules that only decide whether a stage may start (your own modules in its deps?), never what it computes: not a
# dep of any stage, so that refining the derivation reruns nothing.
GATE_ONLY = ("arpl.pipeline.stage_deps",)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class StageDeps:
    """What one stage reads: ``files`` (repository-relative paths of arpl modules, package data and the
    notebook) and ``params`` (whole sections such as ``"train"`` or single keys such as ``"train.closed_set"``)."""

    stage: str
    files: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- modules


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The source file of ``module`` (``arpl.data.sources`` -> ``arpl/data/sources.py``; a package ->
    its ``__init__.py``), or None when it is no module of the repository."""
    base = root.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _is_package(module: str, root: Path) -> bool:
    return (root.joinpath(*module.split(".")) / "__init__.py").is_file()


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _imports_in(tree: ast.AST, module: str, root: Path) -> set[str]:
    """Every ``arpl`` module that the import statements anywhere in ``tree`` load (parents included)."""
    package = module if _is_package(module, root) else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names
                                if alias.name != "*" and module_file(f"{base}.{alias.name}", root)]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == PACKAGE:
                found.update(name for name in _with_parents(target) if module_file(name, root))
    return found


def _data_files(tree: ast.AST, path: Path) -> set[Path]:
    """Non-Python files beside ``path`` that a string constant of ``tree`` names (``"splits.json"``)."""
    names = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and 0 < len(node.value) < 200 and "\n" not in node.value}
    return {path.parent / name for name in names
            if not name.endswith(".py") and (path.parent / name).is_file()}


def _version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def _parse(path: Path) -> ast.Module:
    return _parse_version(path, *_version(path))


@lru_cache(maxsize=1024)
def _parse_version(path: Path, mtime_ns: int, size: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@lru_cache(maxsize=1024)
def _module_facts(path: Path, with_params: bool, mtime_ns: int, size: int) -> tuple[frozenset, frozenset]:
    """(package data files, params read) of one module file; cached until the file changes."""
    tree = _parse(path)
    return frozenset(_data_files(tree, path)), frozenset(_params_read(tree, _sections()) if with_params else ())


@lru_cache(maxsize=1024)
def _module_imports(name: str, root: Path, mtime_ns: int, size: int) -> frozenset:
    return frozenset(_imports_in(_parse(module_file(name, root)), name, root))


def module_closure(modules: set[str], root: Path = ROOT) -> set[str]:
    """``modules`` and every ``arpl`` module they import, transitively (function-level imports included; not
    those a :data:`VALIDATION_ONLY` module imports to validate, nor the :data:`GATE_ONLY` modules)."""
    seen: set[str] = set()
    todo = [m for name in modules for m in _with_parents(name) if module_file(m, root)]
    while todo:
        name = todo.pop()
        if name in seen or name in GATE_ONLY:
            continue
        seen.add(name)
        if name not in VALIDATION_ONLY:
            todo.extend(_module_imports(name, root, *_version(module_file(name, root))) - seen)
    return seen


# ----------------------------------------------------------------------------- params


def _params_read(tree: ast.AST, sections: set[str]) -> set[str]:
    """``"section"`` or ``"section.key"`` for each ``params["section"]`` (``["key"]``) in ``tree``."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    read = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                and node.value.id == PARAMS_NAME and isinstance(node.slice, ast.Constant)
                and node.slice.value in sections):
            continue
        parent = parents.get(node)
        if (isinstance(parent, ast.Subscript) and parent.value is node and isinstance(parent.slice, ast.Constant)
                and isinstance(parent.slice.value, str)):
            read.add(f"{node.slice.value}.{parent.slice.value}")
        else:
            read.add(node.slice.value)
    return read


def _sections() -> set[str]:
    from arpl.pipeline.schema import SCHEMA

    return set(SCHEMA)


def simplify_params(read: set[str]) -> list[str]:
    """``read`` with the keys of a section replaced by the section when all its keys
    (:data:`arpl.pipeline.schema.SCHEMA`) or the section itself are read; sorted."""
    from arpl.pipeline.schema import SCHEMA

    whole = {entry for entry in read if "." not in entry}
    for section, spec in SCHEMA.items():
        if isinstance(spec, dict) and {f"{section}.{key}" for key in spec} <= read:
            whole.add(section)
    return sorted(whole | {entry for entry in read if "." in entry and entry.split(".")[0] not in whole})


# ----------------------------------------------------------------------------- stages


def _command_tokens(stage: dict, variables: dict[str, str]) -> list[str]:
    cmd = stage["cmd"] if isinstance(stage["cmd"], str) else " ".join(stage["cmd"])
    cmd = re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), cmd)
    return shlex.split(cmd)


def _subcommand_function(subcommand: str, root: Path) -> ast.FunctionDef:
    """The function of ``arpl/__main__.py`` that ``COMMANDS[subcommand]`` names."""
    tree = _parse(root / PACKAGE / "__main__.py")
    commands = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "COMMANDS" for t in node.targets))
    name = next(value.id for key, value in zip(commands.keys, commands.values)
                if isinstance(key, ast.Constant) and key.value == subcommand)
    return next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)


def derive_command(tokens: list[str], root: Path = ROOT, stage: str = "") -> StageDeps:
    """What ``python -m arpl ...`` (``tokens``) reads: see the module docstring."""
    if tokens[:3] != ["python", "-m", PACKAGE] or len(tokens) < 4:
        raise ValueError(f"stage {stage!r}: cannot derive the deps of {' '.join(tokens)!r}; "
                         f"only `python -m {PACKAGE} SUBCOMMAND ...` commands are understood")
    main = root / PACKAGE / "__main__.py"
    main_tree = _parse(main)
    function = _subcommand_function(tokens[3], root)
    top_level = ast.Module(body=[node for node in main_tree.body if isinstance(node, (ast.Import, ast.ImportFrom))],
                           type_ignores=[])
    modules = _imports_in(function, f"{PACKAGE}.__main__", root) | _imports_in(top_level, f"{PACKAGE}.__main__", root)
    files: set[Path] = {main}
    sections = _sections()
    params = _params_read(function, sections)
    notebooks = [token for token in tokens[4:] if token.startswith("notebooks/") and token.endswith(".py")]
    if tokens[3] == "notebook":
        if not notebooks:
            raise ValueError(f"stage {stage!r}: `python -m arpl notebook` without a notebooks/*.py source")
        notebook = root / notebooks[0]
        tree = _notebook_tree(notebook)
        modules |= _imports_in(tree, "__notebook__", root)
        params |= _params_read(tree, sections)
        files.add(notebook)
        if "--when" in tokens:
            params.add(tokens[tokens.index("--when") + 1])
    closure = module_closure(modules, root)
    for name in closure:
        path = module_file(name, root)
        data, read = _module_facts(path, name not in VALIDATION_ONLY, *_version(path))
        files |= {path, *data}
        params |= read
    return StageDeps(stage=stage, files=sorted(p.relative_to(root).as_posix() for p in files),
                     params=simplify_params(params), modules=sorted(closure))


def _notebook_tree(path: Path) -> ast.Module:
    """The code cells of a jupytext notebook as one module (IPython-only lines such as ``%magic`` dropped)."""
    import jupytext

    notebook = jupytext.read(path)
    code = "\n".join(line for cell in notebook.cells if cell.cell_type == "code"
                     for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return ast.parse(code, filename=str(path))


def load_stages(root: Path = ROOT, dvc_file: str = "dvc.yaml") -> tuple[dict, dict[str, str]]:
    """The ``stages`` of ``dvc.yaml`` and its string ``vars``."""
    pipeline = yaml.safe_load((Path(root) / dvc_file).read_text())
    variables: dict[str, str] = {}
    for entry in pipeline.get("vars", []):
        if isinstance(entry, dict):
            variables.update({k: str(v) for k, v in entry.items()})
    return pipeline["stages"], variables


def derive(root: str | Path = ROOT, dvc_file: str = "dvc.yaml") -> dict[str, StageDeps]:
    """Per stage of ``dvc.yaml`` (matrix stages once, under their base name): what its command reads."""
    root = Path(root).resolve()
    stages, variables = load_stages(root, dvc_file)
    return {name: derive_command(_command_tokens(stage, variables), root, name) for name, stage in stages.items()}


def importers(module: str, root: str | Path = ROOT, dvc_file: str = "dvc.yaml") -> list[str]:
    """The stages whose command (transitively) imports ``module`` (e.g. ``arpl.figures.style``)."""
    return sorted(name for name, deps in derive(root, dvc_file).items() if module in deps.modules)


# ----------------------------------------------------------------------------- comparison with dvc.yaml


def _covered(path: str, declared: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in declared)


def _param_covered(entry: str, declared: list[str]) -> bool:
    return entry in declared or entry.split(".")[0] in declared


def _declared_params(stage: dict) -> list[str]:
    declared = []
    for entry in stage.get("params", []) or []:
        if isinstance(entry, dict):   # {params_file: [keys]}
            for keys in entry.values():
                declared.extend(keys)
        else:
            declared.append(str(entry))
    return declared


def _declared_deps(stage: dict) -> list[str]:
    return [str(d).rstrip("/") for d in stage.get("deps", []) or []]


def check(root: str | Path = ROOT, dvc_file: str = "dvc.yaml") -> list[str]:
    """The differences between ``dvc.yaml`` and :func:`derive`, one sentence each (empty: they agree).

    A stage must declare every derived file (itself or a folder above it) and every derived param (the key
    or its whole section); it must not declare ``arpl`` files or folders it does not read (folders: only if
    every Python file in them is read), unless it declares the whole ``arpl`` package.
    """
    root = Path(root).resolve()
    stages, _ = load_stages(root, dvc_file)
    problems = []
    for name, derived in derive(root, dvc_file).items():
        deps, params = _declared_deps(stages[name]), _declared_params(stages[name])
        for path in derived.files:
            if not _covered(path, deps):
                problems.append(f"stage {name} reads {path} but dvc.yaml does not list it in its deps")
        for entry in derived.params:
            if not _param_covered(entry, params):
                problems.append(f"stage {name} reads params {entry} but dvc.yaml does not list it in its params")
        if PACKAGE in deps:
            continue
        for dep in deps:
            if dep.split("/")[0] != PACKAGE:
                continue
            target = root / dep
            inside = [p.relative_to(root).as_posix() for p in target.rglob("*.py")] if target.is_dir() else [dep]
            unread = [p for p in inside if p not in derived.files]
            if unread or not target.exists():
                problems.append(f"stage {name} lists {dep} in dvc.yaml but does not read "
                                f"{', '.join(unread) if target.exists() else 'it (it does not exist)'}")
    return problems


def compact_files(files: list[str], root: str | Path = ROOT) -> list[str]:
    """``files`` with every ``arpl`` folder whose files are all read replaced by the folder (for dvc.yaml)."""
    root = Path(root)
    wanted = set(files)
    result = set(files)
    for folder in sorted({Path(f).parent for f in files}, key=lambda p: len(p.parts)):
        if folder.parts[:1] != (PACKAGE,) or folder == Path(PACKAGE):
            continue
        inside = {p.relative_to(root).as_posix() for p in (root / folder).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts}
        if inside and inside <= wanted:
            result = {f for f in result if not f.startswith(folder.as_posix() + "/")} | {folder.as_posix()}
    if {p.relative_to(root).as_posix() for p in (root / PACKAGE).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts} <= wanted:
        result = {f for f in result if not f.startswith(PACKAGE + "/")} | {PACKAGE}
    return sorted(result)


# ----------------------------------------------------------------------------- the user's own modules


def _reads_key(read: list[str], key: str) -> bool:
    return any(key == entry or key.startswith(entry + ".") for entry in read)


def own_module_gaps(params: dict, root: str | Path = ROOT, dvc_file: str = "dvc.yaml",
                    stage: str | None = None) -> list[str]:
    """The user's own modules that ``params`` names by import path (:func:`arpl.pipeline.params.import_paths`) and that
    a stage reading that key does not list in its deps: DVC would not rerun the stage after an edit of the module.
    One sentence per module, naming every such stage and the fix (for ``stage``: only the modules it misses).
    Modules outside the repository (installed packages) are versioned by their installer, not by DVC."""
    from arpl.pipeline.params import import_paths

    named = import_paths(params)
    if not named:
        return []
    root = Path(root).resolve()
    stages, _ = load_stages(root, dvc_file)
    derived = derive(root, dvc_file)
    gaps: dict[tuple[str, str, str], list[str]] = {}
    for key, value in named:
        path = module_file(value.partition(":")[0], root)
        if path is None:
            continue
        relative = path.relative_to(root).as_posix()
        for name, deps in derived.items():
            if _reads_key(deps.params, key) and not _covered(relative, _declared_deps(stages[name])):
                gaps.setdefault((key, value, relative), []).append(name)
    return [f"{key} names {value!r}, defined in {path}; DVC reruns a stage after an edit of that file only if the "
            f"stage lists it in its deps: add `- {path}` to the deps of {', '.join(names)} in {dvc_file}"
            for (key, value, path), names in gaps.items() if stage is None or stage in names]


def notebook_stage(source: str | Path, root: str | Path = ROOT, dvc_file: str = "dvc.yaml") -> str | None:
    """The stage of ``dvc.yaml`` whose command runs notebook ``source`` (``notebooks/02_train.py``), or None."""
    stages, variables = load_stages(Path(root), dvc_file)
    wanted = Path(source).as_posix()
    return next((name for name, stage in stages.items() if wanted in _command_tokens(stage, variables)), None)
