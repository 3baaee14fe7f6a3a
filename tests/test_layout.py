"""The package's layout (docs/architecture.md): three layers, imports pointing down only, and modules of one
screenful or so. Imports are read with :mod:`ast`, function-level ones included, so a lazy import cannot
hide a dependency."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "arpl"
MAX_LINES = 400
STAGE_MODULES = {"download", "data", "train", "confusing", "osr", "ood", "closed_set", "incremental", "figures",
                 "ablations", "report"}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported(path: Path) -> set[str]:
    """Every ``arpl`` module that ``path`` imports anywhere (``from arpl.x import y`` counts ``arpl.x.y`` when that
    is a module)."""
    modules, found = _modules(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "arpl"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "arpl":
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in modules}
    return found


def layer(module: str) -> str:
    """``stages``, ``pipeline``, ``cli`` (``arpl.__main__``) or ``library`` (everything else)."""
    if module == "arpl.__main__":
        return "cli"
    for name in ("stages", "pipeline"):
        if module == f"arpl.{name}" or module.startswith(f"arpl.{name}."):
            return name
    return "library"


FORBIDDEN = {"library": {"stages", "pipeline", "cli"}, "pipeline": {"stages", "cli"}, "stages": {"cli"}, "cli": set()}


def test_imports_point_down_only():
    """The library never imports the pipeline or a stage; the pipeline never imports a stage; nothing imports the
    command line."""
    wrong = [f"{module} ({layer(module)}) imports {target} ({layer(target)})"
             for module, path in _modules().items() for target in sorted(_imported(path))
             if layer(target) in FORBIDDEN[layer(module)]]
    assert not wrong, "\n".join(wrong)


def test_no_stage_imports_another_stage():
    """Each stage module stands alone on the pipeline and the library (the plan, which lists what the training
    stages train, reads their run lists)."""
    wrong = [f"{module} imports {target}" for module, path in _modules().items()
             if layer(module) == "stages" and module != "arpl.stages.plan"
             for target in _imported(path) if layer(target) == "stages" and target != "arpl.stages"]
    assert not wrong, "\n".join(wrong)


def test_one_stage_module_per_notebook():
    """``notebooks/NN_name.py`` has ``arpl/stages/name.py``, and imports it."""
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    names = {path.stem[3:] for path in notebooks}
    assert names == STAGE_MODULES - {"download"}
    for notebook in notebooks:
        stage = notebook.stem[3:]
        assert (PACKAGE / "stages" / f"{stage}.py").is_file()
        assert re.search(rf"^from arpl\.stages import .*\b{stage}\b", notebook.read_text(), re.M), notebook.name


def test_the_checker_sees_a_wrong_import(tmp_path, monkeypatch):
    """The layering check is no test that cannot fail: a library module importing a stage is reported."""
    fake = tmp_path / "arpl"
    (fake / "stages").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "stages" / "__init__.py").write_text("")
    (fake / "stages" / "osr.py").write_text("")
    (fake / "metrics.py").write_text("def f():\n    from arpl.stages import osr\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    with pytest.raises(AssertionError, match=r"arpl.metrics \(library\) imports arpl.stages.osr \(stages\)"):
        test_imports_point_down_only()


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_longer_than_400_lines(path: Path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by concept"


def test_the_architecture_map_matches_the_tree():
    """docs/architecture.md names every folder and top-level module of ``arpl/`` and every module of the stages and
    of each sub-package of the pipeline, and nothing that is not there (tests/test_docs.py checks the paths it
    names exist)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    top = [p.name + ("/" if p.is_dir() else "") for p in PACKAGE.iterdir()
           if p.name != "__pycache__" and not p.name.startswith(".") and p.name != "__init__.py"]
    missing = [name for name in top if f"arpl/{name}" not in text and f"`{name}`" not in text]
    pipeline = [p for p in sorted((PACKAGE / "pipeline").iterdir()) if p.suffix == ".py" or (p / "__init__.py").is_file()]
    missing += [f"arpl/pipeline/{p.name}" for p in pipeline if p.name != "__init__.py"
                and f"`arpl/pipeline/{p.name}{'' if p.suffix else '/'}`" not in text]
    for folder in ["stages"] + [f"pipeline/{p.name}" for p in pipeline if p.is_dir()]:
        row = next((line for line in text.splitlines() if line.startswith(f"| `arpl/{folder}/` |")), "")
        named = set(re.findall(r"`([a-z_]+)/?`", row)) - {"__init__"}
        modules = {p.stem for p in (PACKAGE / folder).glob("*.py") if p.stem != "__init__"}
        modules |= {p.name for p in (PACKAGE / folder).iterdir() if (p / "__init__.py").is_file()}
        missing += [f"arpl/{folder}/{m}" for m in sorted(modules - named)]
        missing += [f"(named but absent) arpl/{folder}/{m}" for m in sorted(named - modules)]
    assert not missing, missing
