"""dvc.yaml's deps and params cannot drift from the code: every stage declares the arpl modules, package data
and params sections its command reads, as derived by arpl/pipeline/stage_deps.py (the test that DVC then reruns exactly
those stages is in tests/test_pipeline.py)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from arpl.__main__ import main
from arpl.pipeline import spread, stage_deps

ROOT = Path(__file__).resolve().parents[1]


def test_dvc_yaml_declares_what_every_stage_reads():
    problems = stage_deps.check(ROOT)
    assert problems == [], "dvc.yaml differs from the code (see `python -m arpl deps`):\n" + "\n".join(problems)


def test_every_stage_is_derived_from_its_notebook_and_the_runner():
    derived = stage_deps.derive(ROOT)
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert set(derived) == set(stages)
    for name, deps in derived.items():
        assert "arpl/__main__.py" in deps.files and "arpl/__init__.py" in deps.files, name
        if name != "download":
            assert "arpl/pipeline/notebook.py" in deps.files, name
            assert any(f.startswith("notebooks/") for f in deps.files), name
            assert "arpl.pipeline.notebook" in deps.modules and "arpl.pipeline.params" in deps.modules, name
        assert "arpl/pipeline/stage_deps.py" not in deps.files, f"{name}: stage_deps only gates a stage (GATE_ONLY)"


def test_every_stage_that_reads_the_seed_spread_lists_its_file():
    """The measured spread lives outside ``arpl/`` (benchmarks/seed_spread.csv, read by arpl.pipeline.spread): a
    stage that imports the module must list the file, or new seeds would leave its marks stale."""
    derived = stage_deps.derive(ROOT)
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    readers = [name for name, deps in derived.items() if "arpl.pipeline.spread" in deps.modules]
    assert {"ood", "closed_set", "report"} <= set(readers)
    for name in readers:
        assert str(spread.SPREAD_CSV) in stages[name]["deps"], name


def _copy_sources(target: Path) -> Path:
    for folder in ("arpl", "notebooks"):
        shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "dvc.yaml", target / "dvc.yaml")
    return target


def test_check_names_a_missing_module_a_missing_section_and_a_stale_dep(tmp_path):
    root = _copy_sources(tmp_path)
    pipeline = yaml.safe_load((root / "dvc.yaml").read_text())
    stages = pipeline["stages"]
    derived = stage_deps.derive(root)
    module = next(f for f in derived["osr"].files if f.startswith("arpl/") and f in stages["osr"]["deps"])
    stages["osr"]["deps"].remove(module)
    section = next(p for p in stages["osr"]["params"] if "." not in p and p in derived["osr"].params)
    stages["osr"]["params"].remove(section)
    unread = next(f"arpl/{p.name}" for p in sorted((root / "arpl").glob("*.py"))
                  if f"arpl/{p.name}" not in derived["report"].files)
    stages["report"]["deps"].append(unread)
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    problems = stage_deps.check(root)
    assert f"stage osr reads {module} but dvc.yaml does not list it in its deps" in problems
    assert f"stage osr reads params {section} but dvc.yaml does not list it in its params" in problems
    assert any(p.startswith(f"stage report lists {unread} in dvc.yaml but does not read") for p in problems)
    assert len(problems) == 3, problems


def test_a_new_import_in_a_module_is_a_new_dep(tmp_path):
    """Editing code to import another module (here inside a function) makes dvc.yaml stale until it lists it."""
    root = _copy_sources(tmp_path)
    assert stage_deps.check(root) == []
    report = root / "arpl" / "stages" / "report.py"
    report.write_text(report.read_text() + "\n\ndef _uses_stats():\n    from arpl import stats\n\n    return stats\n")
    assert "arpl/stats.py" in stage_deps.derive(root)["report"].files
    assert "stage report reads arpl/stats.py but dvc.yaml does not list it in its deps" in stage_deps.check(root)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture
def toy(tmp_path) -> Path:
    """A tiny ``arpl`` package: a runner with two subcommands, a notebook, module-, function-level and relative
    imports, a data file named in the code, and a module nothing imports."""
    _write(tmp_path / "arpl" / "__init__.py", '"""toy"""\n')
    _write(tmp_path / "arpl" / "__main__.py", """
        import sys


        def _notebook(args):
            from arpl import runner

            return runner


        def _other(args):
            from arpl import unused

            return unused


        COMMANDS = {"notebook": _notebook, "other": _other}
        """)
    _write(tmp_path / "arpl" / "runner.py", "def run(params):\n    return params['run']['seed']\n")
    _write(tmp_path / "arpl" / "unused.py", "def never(params):\n    return params['osr']\n")
    _write(tmp_path / "arpl" / "helpers.py", """
        def later(params):
            from arpl.sub import deep

            return deep.TABLE, params["ood"]["sets"]
        """)
    _write(tmp_path / "arpl" / "sub" / "__init__.py", "")
    _write(tmp_path / "arpl" / "sub" / "deep.py", """
        from . import leaf

        TABLE = "table.csv"


        def settings(params):
            train = params["train"]
            return train, params["data"]["dataset"], leaf
        """)
    _write(tmp_path / "arpl" / "sub" / "leaf.py", "")
    _write(tmp_path / "arpl" / "sub" / "table.csv", "a,b\n")
    _write(tmp_path / "notebooks" / "01_toy.py", """
        # %% [markdown]
        # # Toy

        # %% tags=["parameters"]
        params_file = "params.yaml"

        # %%
        from arpl import helpers

        params = {}
        row = {"run": 1}
        row["run"], params["model"]["backbone"]
        """)
    return tmp_path


def test_derivation_counts_function_level_and_relative_imports_data_and_params(toy):
    tokens = "python -m arpl notebook notebooks/01_toy.py out.ipynb --when figures.enabled".split()
    derived = stage_deps.derive_command(tokens, toy, "toy")
    assert derived.files == ["arpl/__init__.py", "arpl/__main__.py", "arpl/helpers.py", "arpl/runner.py",
                             "arpl/sub/__init__.py", "arpl/sub/deep.py", "arpl/sub/leaf.py", "arpl/sub/table.csv",
                             "notebooks/01_toy.py"]
    assert derived.params == ["data.dataset", "figures.enabled", "model.backbone", "ood.sets", "run.seed", "train"]
    other = stage_deps.derive_command("python -m arpl other".split(), toy, "other")
    assert other.files == ["arpl/__init__.py", "arpl/__main__.py", "arpl/unused.py"] and other.params == ["osr"]
    with pytest.raises(ValueError, match="only `python -m arpl SUBCOMMAND"):
        stage_deps.derive_command("bash run.sh".split(), toy, "shell")


def test_simplify_params_collapses_a_fully_read_section():
    assert stage_deps.simplify_params({"osr.scores", "osr.bootstrap", "run.seed", "ood", "ood.sets"}) == \
        ["ood", "osr", "run.seed"]


def test_compact_files_uses_a_folder_only_when_all_of_it_is_read():
    derived = stage_deps.derive(ROOT)["osr"].files
    compact = stage_deps.compact_files(derived, ROOT)
    assert "arpl/data" in compact and not any(f.startswith("arpl/data/") for f in compact)
    assert "arpl" not in compact and "arpl/pipeline/pages.py" not in compact


def test_cli_prints_the_derived_deps_and_checks_dvc_yaml(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["deps", "--check"]) == 0
    out = capsys.readouterr().out
    assert "osr:\n  deps: " in out and "  params: " in out
    assert "dvc.yaml declares what every stage reads" in out


# ----------------------------------------------------------------------------- your own modules

COSINE = "tests.plugins.cosine_head:CosineHead"
COSINE_FILE = "tests/plugins/cosine_head.py"


def _params_naming(method: str) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["methods"].append(method)
    return params


def test_an_own_module_missing_in_the_deps_of_the_stages_reading_its_key_is_named_with_the_fix():
    gaps = stage_deps.own_module_gaps(_params_naming(COSINE), ROOT)
    assert len(gaps) == 1
    readers = [name for name, deps in stage_deps.derive(ROOT).items()
               if any(entry in ("train", "train.methods") for entry in deps.params)]
    assert {"train", "osr", "report"} <= set(readers) and "data" not in readers
    assert gaps[0].startswith(f"train.methods names {COSINE!r}, defined in {COSINE_FILE}")
    assert gaps[0].endswith(f"add `- {COSINE_FILE}` to the deps of {', '.join(readers)} in dvc.yaml")
    assert stage_deps.own_module_gaps(_params_naming(COSINE), ROOT, stage="train") == gaps
    assert stage_deps.own_module_gaps(_params_naming(COSINE), ROOT, stage="data") == []


def test_an_own_module_in_the_deps_or_outside_the_repository_is_no_gap(tmp_path):
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    for stage in pipeline["stages"].values():
        stage["deps"].append(COSINE_FILE)
    declared = tmp_path / "dvc.yaml"
    declared.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    assert stage_deps.own_module_gaps(_params_naming(COSINE), ROOT, dvc_file=str(declared)) == []
    assert stage_deps.own_module_gaps(_params_naming("some_installed_package.heads:Head"), ROOT) == []
    assert stage_deps.own_module_gaps(yaml.safe_load((ROOT / "params.yaml").read_text()), ROOT) == []


def test_gate_modules_are_no_dep_of_any_stage():
    """`python -m arpl notebook` imports stage_deps to refuse a stage that misses your module in its deps."""
    assert all("arpl/pipeline/stage_deps.py" not in deps.files for deps in stage_deps.derive(ROOT).values())
    assert stage_deps.notebook_stage("notebooks/02_train.py", ROOT) == "train"
    assert stage_deps.notebook_stage("notebooks/none.py", ROOT) is None


def test_cli_check_names_an_own_module_missing_in_the_deps(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(_params_naming(COSINE), sort_keys=False))
    assert main(["check", "--params", str(params)]) == 1
    captured = capsys.readouterr()
    assert "valid (profile" in captured.out and f"add `- {COSINE_FILE}` to the deps of train, " in captured.err
