"""A stage's params: exactly the keys its entry in ``dvc.yaml`` declares, typed, and nothing else.

DVC reruns a stage when a key it declares changes, and only then; so a stage that read a key it does not declare
would give stale results without a word. :func:`stage_params` hands a stage a view of the validated params in which
reading any other key raises :class:`UndeclaredParam`, naming the key, the stage and the line to add. Every run of
the pipeline (the suite's smoke run and each profile's quick run) thereby checks the declarations; with
``ARPL_PARAMS_READ=FILE`` set, each key a stage reads is appended to FILE once per process, which is how the suite
checks the other direction, that every declared key is read by some run (tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Iterable

import yaml

from arpl.pipeline.params import Params, ParamsError, Section, load_params

READS_ENV = "ARPL_PARAMS_READ"


class UndeclaredParam(ParamsError):
    """A stage read a params key its ``dvc.yaml`` entry does not list."""


def declared_keys(stage: str, dvc_yaml: str | Path = "dvc.yaml") -> list[str]:
    """The ``params`` of ``stage`` in ``dvc_yaml``: sections (``train``) and keys (``train.epochs``)."""
    stages = yaml.safe_load(Path(dvc_yaml).read_text())["stages"]
    if stage not in stages:
        raise ParamsError(f"{dvc_yaml} has no stage {stage!r}; its stages: {', '.join(stages)}")
    return [str(key) for key in stages[stage].get("params", [])]


def covers(declared: Iterable[str], key: str) -> bool:
    """Whether ``declared`` lists ``key`` (``train.epochs``) or the section holding it (``train``)."""
    return any(key == entry or key.startswith(entry + ".") for entry in declared)


def stage_params(stage: str, params_file: str | Path = "params.yaml", dvc_yaml: str | Path = "dvc.yaml") -> "View":
    """The validated ``params_file`` as stage ``stage`` may read it (the whole file is checked first)."""
    return View(load_params(params_file), declared_keys(stage, dvc_yaml), stage)


class View:
    """Attribute access to :class:`~arpl.pipeline.params.Params` restricted to ``declared`` keys."""

    def __init__(self, params: Params, declared: Iterable[str], stage: str, section: str = "",
                 profile: str = "") -> None:
        self._params, self._declared, self._stage, self._section = params, tuple(declared), stage, section
        self._profile = profile or getattr(params, "profile", "")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        key = f"{self._section}.{name}" if self._section else name
        value = getattr(self._params, name)
        if covers(self._declared, key):
            if isinstance(value, Section):
                return View(value, (key,), self._stage, key, self._profile)
            record_read(self._profile, self._stage, key)
            return value
        if any(entry.startswith(key + ".") for entry in self._declared):   # a section declared key by key
            return View(value, self._declared, self._stage, key, self._profile)
        raise UndeclaredParam(f"stage {self._stage!r} read params key {key!r}, which its params in dvc.yaml do not "
                              f"list; add {key} to stages.{self._stage}.params in dvc.yaml.")

    def replace(self, section: str, **changes: Any) -> "View":
        """A view of the params with ``changes`` in ``section`` (see :meth:`Params.replace`)."""
        return View(self._params.replace(section, **changes), self._declared, self._stage, self._section,
                    self._profile)

    def __getstate__(self) -> dict:
        return dict(self.__dict__)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"View(stage={self._stage!r}, section={self._section!r}, declared={self._declared!r})"


_RECORDED: set[tuple[str, str, str]] = set()


def record_read(profile: str, stage: str, key: str) -> None:
    """Append ``profile stage key`` to the file named by :data:`READS_ENV`, if set, once per process."""
    path = os.environ.get(READS_ENV)
    if not path or (profile, stage, key) in _RECORDED:
        return
    _RECORDED.add((profile, stage, key))
    with open(path, "a", encoding="utf-8") as reads:
        reads.write(f"{profile} {stage} {key}\n")


def raw_value(source: str | Path, key: str, required: bool = True, params_file: str | Path = "params.yaml",
              dvc_yaml: str | Path = "dvc.yaml"):
    """``key`` of ``params_file`` as written, for the runner of the stage of notebook ``source`` (without importing
    torch: the stage validates the file itself), counted as read by the stage. The key must be among the stage's
    params (``required``), or else it does not apply to the stage and None is returned."""
    from arpl.pipeline.notebook import param_value

    if not Path(params_file).is_file():
        return None
    raw = yaml.safe_load(Path(params_file).read_text())
    value = param_value(raw, key)
    stage = notebook_stage(source, dvc_yaml) if Path(dvc_yaml).is_file() else None
    if stage is None:
        return value
    if not covers(declared_keys(stage, dvc_yaml), key):
        if not required:
            return None
        raise UndeclaredParam(f"the runner of stage {stage!r} reads {key}, which its params in dvc.yaml do not list; "
                              f"add {key} to stages.{stage}.params in dvc.yaml.")
    record_read(raw.get("profile", ""), stage, key)
    return value


def notebook_stage(source: str | Path, dvc_yaml: str | Path = "dvc.yaml") -> str | None:
    """The stage of ``dvc_yaml`` whose command runs the notebook ``notebooks/<name of source>`` (None: none)."""
    stages = yaml.safe_load(Path(dvc_yaml).read_text())["stages"]
    notebook = f" notebooks/{Path(source).name} "
    return next((name for name, stage in stages.items() if notebook in f" {stage['cmd']} "), None)


def own_module_gaps(params: Params | dict, stage: str, dvc_yaml: str | Path = "dvc.yaml") -> list[str]:
    """Your own modules (named in ``params`` by import path) that ``stage`` reads but does not depend on: DVC would
    not rerun it when you edit them. Each message names the file and the line to add to ``dvc.yaml``."""
    from arpl.pipeline.params import import_paths

    deps = [Path(dep) for dep in yaml.safe_load(Path(dvc_yaml).read_text())["stages"][stage].get("deps", [])]
    declared = declared_keys(stage, dvc_yaml)
    gaps = []
    for key, path in import_paths(params):
        if not covers(declared, key):
            continue
        spec = importlib.util.find_spec(path.partition(":")[0])
        file = Path(spec.origin).resolve() if spec is not None and spec.origin else None
        if file is None or not file.is_relative_to(Path.cwd()):
            continue   # an installed package: not the repository's to track
        relative = file.relative_to(Path.cwd())
        if not any(relative == dep or dep in relative.parents for dep in deps):
            gaps.append(f"stage {stage!r} reads {key} = {path!r}, whose file {relative.as_posix()} is no dependency "
                        f"of the stage; move it into plugins/ or add {relative.parent.as_posix()} to "
                        f"stages.{stage}.deps in {dvc_yaml}")
    return gaps
