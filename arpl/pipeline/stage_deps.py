"""What each pipeline stage reads, derived from the code, so ``dvc.yaml``'s ``deps`` and ``params`` cannot drift.

A stage's command (``python -m arpl notebook notebooks/NN_x.py ...`` or ``python -m arpl SUBCOMMAND``)
runs some ``arpl`` code; :func:`derive` finds it with :mod:`ast`, without running any of it:

* **modules**: the command's subcommand function in ``arpl/__main__.py``, the notebook, and transitively every
  ``arpl`` module they import, at module level or inside functions (importing ``arpl.a.b`` also runs
  ``arpl/__init__.py`` and ``arpl/a/__init__.py``, so those count too);
* **package data**: the non-Python files next to those modules that they name (``splits.json``,
  ``paper_results.csv``, ...);
* **params**: the keys that the code the command can reach reads, function by function
  (:mod:`arpl.pipeline.params_read`), except the validation in ``arpl/pipeline/params.py``, which checks every key
  but shapes no output (for the same reason the registries it imports to check names, such as :mod:`arpl.models`,
  count only for stages that import them otherwise). ``--when KEY`` in the command reads ``KEY``.

This over-approximates soundly: a module is counted whole even if the stage calls one function of it, and a params
section whole where the code hands it on whole. ``python -m arpl deps`` prints the result per stage,
``python -m arpl deps --check`` compares it with ``dvc.yaml`` (also done by ``tests/test_dvc_deps.py``) and
``python -m arpl deps --write`` writes it there (:mod:`arpl.pipeline.dvc_yaml`).
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from arpl.code_identity import data_files, file_version, is_package, module_file, parse, with_parents
from arpl.pipeline.code_index import Unit, index_of, notebook_module, notebook_tree, reachable
from arpl.pipeline.params_read import params_read

PACKAGE = "arpl"
# Modules that only validate: ``load_params`` checks the whole file (a bad value stops the stage before it computes
# anything), so neither the values it looks at nor the modules it imports to check them shape a stage's outputs.
VALIDATION_ONLY = ("arpl.pipeline.params", "arpl.pipeline.schema")
# Modules that only decide whether a stage may start (your own modules in its deps?), never what it computes: not a
# dep of any stage, so that refining the derivation reruns nothing.
GATE_ONLY = ("arpl.pipeline.stage_deps", "arpl.pipeline.code_index", "arpl.pipeline.params_read",
             "arpl.pipeline.dvc_yaml")
# What runs for every command of ``python -m arpl`` besides the subcommand's own function.
MAIN_FUNCTIONS = ("main", "_portable_kernels")
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


def _imports_in(tree: ast.AST, module: str, root: Path) -> set[str]:
    """Every ``arpl`` module that the import statements anywhere in ``tree`` load (parents included)."""
    package = module if is_package(module, root) else module.rpartition(".")[0]
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
                found.update(name for name in with_parents(target) if module_file(name, root))
    return found


@lru_cache(maxsize=1024)
def _module_imports(name: str, root: Path, mtime_ns: int, size: int) -> frozenset:
    return frozenset(_imports_in(parse(module_file(name, root)), name, root))


def module_closure(modules: set[str], root: Path = ROOT) -> set[str]:
    """``modules`` and every ``arpl`` module they import, transitively (function-level imports included; not
    those a :data:`VALIDATION_ONLY` module imports to validate, nor the :data:`GATE_ONLY` modules)."""
    seen: set[str] = set()
    todo = [m for name in modules for m in with_parents(name) if module_file(m, root)]
    while todo:
        name = todo.pop()
        if name in seen or name in GATE_ONLY:
            continue
        seen.add(name)
        if name not in VALIDATION_ONLY:
            todo.extend(_module_imports(name, root, *file_version(module_file(name, root))) - seen)
    return seen


# ----------------------------------------------------------------------------- params


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
    tree = parse(root / PACKAGE / "__main__.py")
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
    main_tree = parse(main)
    function = _subcommand_function(tokens[3], root)
    top_level = ast.Module(body=[node for node in main_tree.body if isinstance(node, (ast.Import, ast.ImportFrom))],
                           type_ignores=[])
    runs = [node for node in main_tree.body if isinstance(node, ast.FunctionDef) and node.name in MAIN_FUNCTIONS]
    modules = set().union(*(_imports_in(node, f"{PACKAGE}.__main__", root) for node in [function, top_level, *runs]))
    files: set[Path] = {main}
    roots = [Unit(f"{PACKAGE}.__main__", name) for name in (*MAIN_FUNCTIONS, function.name)]
    notebooks = [token for token in tokens[4:] if token.startswith("notebooks/") and token.endswith(".py")]
    if tokens[3] == "notebook":
        if not notebooks:
            raise ValueError(f"stage {stage!r}: `python -m arpl notebook` without a notebooks/*.py source")
        notebook = root / notebooks[0]
        modules |= _imports_in(notebook_tree(notebook), "__notebook__", root)
        files.add(notebook)
        roots.append(Unit(notebook_module(notebooks[0])))
    closure = module_closure(modules, root)
    for name in closure:
        files |= {module_file(name, root), *data_files(name, root)}
    params = _params_of(root, roots, closure)
    if "--when" in tokens:
        params.add(tokens[tokens.index("--when") + 1])
    return StageDeps(stage=stage, files=sorted(p.relative_to(root).as_posix() for p in files),
                     params=simplify_params(params), modules=sorted(closure))


def _params_of(root: Path, roots: list[Unit], closure: set[str]) -> set[str]:
    """The params keys read by the code reachable from ``roots`` (:mod:`arpl.pipeline.params_read`), leaving out
    the validation modules and the command line's table of subcommands."""
    index = index_of(root)
    modules = closure - set(VALIDATION_ONLY) - {f"{PACKAGE}.__main__"}
    units = reachable(index, roots, modules, skip=set(VALIDATION_ONLY) | set(GATE_ONLY))
    return params_read(index, units, _sections())


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


def notebook_stage(source: str | Path, root: str | Path = ROOT, dvc_file: str = "dvc.yaml") -> str | None:
    """The stage of ``dvc.yaml`` whose command runs notebook ``source`` (``notebooks/02_train.py``), or None."""
    stages, variables = load_stages(Path(root), dvc_file)
    wanted = Path(source).as_posix()
    return next((name for name, stage in stages.items() if wanted in _command_tokens(stage, variables)), None)
