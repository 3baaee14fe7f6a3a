"""``dvc.yaml`` against what the code reads (:mod:`arpl.pipeline.stage_deps`): ``python -m arpl deps --check`` lists the
differences, ``python -m arpl deps --write`` writes each stage's ``deps`` and ``params`` from the derivation.

Your own modules, named in ``params.yaml`` by import path (``train.methods: [..., "my_pkg.heads:Head"]``), are
not part of ``arpl`` but shape every stage that reads the key naming them: such a stage must list the module's
file (and the files of your modules it imports) in its deps, or DVC would not rerun it after an edit. ``--check``
names each missing file and the stages that miss it; ``--write`` puts it into exactly those stages. What a stage
lists besides (other stages' outputs such as ``runs/train``, the raw data, ``benchmarks/seed_spread.csv``) is kept.
"""

from __future__ import annotations

import io
from pathlib import Path

from arpl.code_identity import closure, module_file
from arpl.pipeline.stage_deps import PACKAGE, ROOT, derive, load_stages


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
    every Python file in them is read), unless it declares the whole ``arpl`` package, nor params keys it does not
    read (a whole section where it reads only some of its keys).
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
        problems += _extra_params(name, params, derived.params)
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


def _extra_params(stage: str, declared: list[str], read: list[str]) -> list[str]:
    """One sentence per declared params entry that the stage does not read (or reads only in part)."""
    problems = []
    for entry in declared:
        if entry in read or entry.split(".")[0] in read:
            continue
        keys = [key for key in read if key.startswith(entry + ".")]
        problems.append(f"stage {stage} lists params {entry} in dvc.yaml but reads only {', '.join(keys)}" if keys
                        else f"stage {stage} lists params {entry} in dvc.yaml but does not read it")
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


def reads_key(read: list[str], key: str) -> bool:
    """Whether a stage reading the params entries ``read`` reads ``key`` (itself, or its whole section)."""
    return any(key == entry or key.startswith(entry + ".") for entry in read)


def own_module_files(params: dict, root: str | Path = ROOT) -> dict[tuple[str, str], list[str]]:
    """The user's own modules that ``params`` names by import path (:func:`arpl.pipeline.params.import_paths`), by
    ``(key, value)``: the repository files that importing each runs (the module and the modules of the repository
    outside ``arpl`` that it imports). Modules outside the repository (installed packages) are versioned by their
    installer, not by DVC."""
    from arpl.pipeline.params import import_paths

    root = Path(root).resolve()
    files = {}
    for key, value in import_paths(params):
        module = value.partition(":")[0]
        if module_file(module, root) is not None:
            own = [m for m in closure([module], root) if m.split(".")[0] != PACKAGE]
            files[(key, value)] = sorted(module_file(m, root).relative_to(root).as_posix() for m in own)
    return files


def own_module_readers(params: dict, root: str | Path = ROOT, dvc_file: str = "dvc.yaml") -> dict[str, list[str]]:
    """Per stage, the files of the user's own modules (:func:`own_module_files`) named by a key the stage reads."""
    derived = derive(root, dvc_file)
    readers: dict[str, list[str]] = {name: [] for name in derived}
    for (key, _), files in own_module_files(params, root).items():
        for name, deps in derived.items():
            if reads_key(deps.params, key):
                readers[name] += [f for f in files if f not in readers[name]]
    return readers


def own_module_gaps(params: dict, root: str | Path = ROOT, dvc_file: str = "dvc.yaml",
                    stage: str | None = None) -> list[str]:
    """The user's own modules (:func:`own_module_files`) that a stage reading the key naming them does not list
    in its deps: DVC would not rerun the stage after an edit of the module. One sentence per file, naming every
    such stage and the fix (for ``stage``: only the files it misses)."""
    own = own_module_files(params, root)
    if not own:
        return []
    root = Path(root).resolve()
    stages, _ = load_stages(root, dvc_file)
    derived = derive(root, dvc_file)
    gaps: dict[tuple[str, str, str], list[str]] = {}
    for (key, value), files in own.items():
        for path in files:
            for name, deps in derived.items():
                if reads_key(deps.params, key) and not _covered(path, _declared_deps(stages[name])):
                    gaps.setdefault((key, value, path), []).append(name)
    return [f"{key} names {value!r}, defined in {path}; DVC reruns a stage after an edit of that file only if the "
            f"stage lists it in its deps: add `- {path}` to the deps of {', '.join(names)} in {dvc_file} "
            f"(`python -m arpl deps --write` does)"
            for (key, value, path), names in gaps.items() if stage is None or stage in names]


# ----------------------------------------------------------------------------- writing


def _written_by_derivation(dep: str) -> bool:
    """Whether a dep is one :func:`write` derives (an ``arpl`` file or folder, a notebook, your own module)
    rather than one it keeps (another stage's outputs, data, a measured table)."""
    return dep.split("/")[0] == PACKAGE or dep.endswith(".py")


def stage_deps_wanted(stage: dict, files: list[str], own: list[str], root: Path) -> list[str]:
    """A stage's deps as :func:`write` lists them: its notebook, what it lists besides code (kept, in order), the
    ``arpl`` files it reads (:func:`compact_files`), then your own modules' files."""
    notebooks = [f for f in files if f.startswith("notebooks/")]
    kept = [dep for dep in _declared_deps(stage) if not _written_by_derivation(dep)]
    package = compact_files([f for f in files if not f.startswith("notebooks/")], root)
    return notebooks + kept + package + [f for f in own if f not in package]


def write(params: dict, root: str | Path = ROOT, dvc_file: str = "dvc.yaml") -> list[str]:
    """Rewrite the ``deps`` and ``params`` of every stage of ``dvc_file`` from the derivation and ``params``'s own
    modules (comments, commands and outputs stay as they are); returns the stages that changed."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    root = Path(root).resolve()
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    path = root / dvc_file
    pipeline = yaml.load(path.read_text())
    readers = own_module_readers(params, root, dvc_file)
    changed = []
    for name, derived in derive(root, dvc_file).items():
        stage = pipeline["stages"][name]
        deps = stage_deps_wanted(stage, derived.files, readers[name], root)
        if _declared_deps(stage) != deps or _declared_params(stage) != derived.params:
            changed.append(name)
        stage["deps"] = CommentedSeq(deps)
        stage["params"] = CommentedSeq(derived.params)
        stage.ca.items.pop("params", None)   # a comment on the old list would describe it, not the new one
    text = io.StringIO()
    yaml.dump(pipeline, text)
    # a long command folds over lines; the space before each fold is no part of the value (YAML 1.2, 6.5)
    path.write_text("".join(line.rstrip() + "\n" for line in text.getvalue().splitlines()))
    return changed
