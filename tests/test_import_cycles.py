"""The arpl package has no import cycles, counting the imports inside functions too: a module that imports
another only lazily still depends on it, and a lazy import is how cycles hide.

The graph is built from the source with :mod:`ast`, without importing anything: an edge ``a -> b`` for every
``import`` / ``from ... import`` of an arpl module anywhere in ``a`` (module level or inside a function),
with relative imports resolved and ``from arpl.x import name`` pointing at ``arpl.x.name`` when that is a
submodule. A module's own parent packages are no edges: Python initialises them before the module runs.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package in ``package_dir``."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _targets(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement may load (before checking which are modules)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[:len(package) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` or its nearest enclosing module of the package (``arpl.x.function`` -> ``arpl.x``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at module level or inside functions."""
    modules = module_files(package_dir)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets = _targets(node, module, is_package)
            if isinstance(node, ast.ImportFrom):  # `from p import n`: n if it is a submodule, else p
                submodules = [t for t in targets[:-1] if t in modules]
                targets = submodules if len(submodules) == len(targets) - 1 else submodules + targets[-1:]
            for target in targets:
                found = _resolve(target, modules)
                if found and found != module and not module.startswith(found + "."):
                    graph[module].add(found)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted; sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def _write_package(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / "fakepkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root / "fakepkg"


def test_arpl_has_no_import_cycles():
    cycles = import_cycles(import_graph(ROOT / "arpl"))
    assert cycles == [], "import cycles in arpl (function-level imports counted):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles)


def test_the_graph_sees_lazy_relative_and_submodule_imports():
    graph = import_graph(ROOT / "arpl")
    assert "arpl.training.algorithm1" in graph["arpl.training.loop"]
    assert "arpl.data.sources" in graph["arpl.data"]            # `from arpl.data import sources, ...`
    assert "arpl.models" in graph["arpl.pipeline.params"]                # a function-level import
    assert "arpl.data" not in graph["arpl.data.sources"]        # its own parent package is no edge


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    package = _write_package(tmp_path, {
        "__init__.py": "",
        "a.py": "from fakepkg.b import helper\n",
        "b.py": """
            def helper():
                from fakepkg import a  # lazy, but still a cycle
                return a
        """,
        "sub/__init__.py": "from . import c\n",
        "sub/c.py": "from ..d import value\n",
        "d.py": "import fakepkg.sub.c as c\nvalue = 1\n",
        "leaf.py": "import os\nfrom fakepkg import d\n",
    })
    assert import_cycles(import_graph(package)) == [["fakepkg.a", "fakepkg.b"], ["fakepkg.d", "fakepkg.sub.c"]]


def test_a_package_without_cycles_passes(tmp_path):
    package = _write_package(tmp_path, {
        "__init__.py": "from fakepkg import low\n",
        "low.py": "VALUE = 1\n",
        "high.py": "from fakepkg.low import VALUE\n\ndef f():\n    from . import low\n    return low\n",
    })
    graph = import_graph(package)
    assert graph["fakepkg.high"] == {"fakepkg.low"} and import_cycles(graph) == []
