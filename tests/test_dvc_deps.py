"""dvc.yaml's deps and params cannot drift from the code: every stage declares the arpl modules, package data
and params keys its command reads, as derived by arpl/pipeline/stage_deps.py and arpl/pipeline/params_read.py, and
nothing else; `python -m arpl deps --write` writes them (arpl/pipeline/dvc_yaml.py). The tests that DVC then reruns
exactly those stages are in tests/test_pipeline.py (the smoke run's edits)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from arpl.__main__ import main
from arpl.pipeline import code_index, dvc_yaml, spread, stage_deps
from arpl.pipeline.schema import SCHEMA

ROOT = Path(__file__).resolve().parents[1]


def test_dvc_yaml_declares_what_every_stage_reads():
    problems = dvc_yaml.check(ROOT)
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


def test_check_names_a_missing_module_a_missing_or_extra_key_and_a_stale_dep(tmp_path):
    root = _copy_sources(tmp_path)
    pipeline = yaml.safe_load((root / "dvc.yaml").read_text())
    stages = pipeline["stages"]
    derived = stage_deps.derive(root)
    module = next(f for f in derived["osr"].files if f.startswith("arpl/") and f in stages["osr"]["deps"])
    stages["osr"]["deps"].remove(module)
    stages["osr"]["params"].remove("train.methods")
    stages["ood"]["params"].append("osr.bootstrap")
    stages["download"]["params"].append("train")
    unread = next(f"arpl/{p.name}" for p in sorted((root / "arpl").glob("*.py"))
                  if f"arpl/{p.name}" not in derived["report"].files)
    stages["report"]["deps"].append(unread)
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    problems = dvc_yaml.check(root)
    assert f"stage osr reads {module} but dvc.yaml does not list it in its deps" in problems
    assert "stage osr reads params train.methods but dvc.yaml does not list it in its params" in problems
    assert "stage ood lists params osr.bootstrap in dvc.yaml but does not read it" in problems
    assert "stage download lists params train in dvc.yaml but does not read it" in problems
    assert any(p.startswith(f"stage report lists {unread} in dvc.yaml but does not read") for p in problems)
    assert len(problems) == 5, problems
    stages["ood"]["params"].remove("osr.bootstrap")
    stages["download"]["params"] = ["data", "ood.sets", "profile", "run.data_root", "run.portable_kernels"]
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    assert "stage download lists params data in dvc.yaml but reads only data.dataset, data.download" in \
        dvc_yaml.check(root)


def test_each_stage_reads_the_keys_its_work_depends_on():
    """What an edit of params.yaml reruns (README, "What an edit reruns"): the noise count only the OOD stage
    (and the report, which shows everything); the bootstrap only the osr stage; the download stage only the keys
    that name datasets; lambda every stage that trains or compares trained models, not the data stage."""
    derived = stage_deps.derive(ROOT)

    def readers(key: str) -> set[str]:
        return {name for name, deps in derived.items() if dvc_yaml.reads_key(deps.params, key)}

    assert readers("ood.noise_count") == {"ood", "report"}
    assert readers("osr.bootstrap") == {"osr"}
    assert readers("figures.epochs") == {"figures", "ablations"}
    assert derived["download"].params == ["data.dataset", "data.download", "ood.sets", "profile", "run.data_root",
                                          "run.portable_kernels"]
    assert {"train", "confusing", "incremental", "figures", "ablations"} <= readers("train.weight_pl")
    assert "data" not in readers("train.weight_pl") and "osr" not in readers("train.epochs")


def test_a_new_import_in_a_module_is_a_new_dep(tmp_path):
    """Editing code to import another module (here inside a function) makes dvc.yaml stale until it lists it."""
    root = _copy_sources(tmp_path)
    assert dvc_yaml.check(root) == []
    report = root / "arpl" / "stages" / "report.py"
    report.write_text(report.read_text() + "\n\ndef _uses_stats():\n    from arpl import stats\n\n    return stats\n")
    assert "arpl/stats.py" in stage_deps.derive(root)["report"].files
    assert "stage report reads arpl/stats.py but dvc.yaml does not list it in its deps" in dvc_yaml.check(root)


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

            return runner.run


        def _other(args):
            from arpl import unused

            return unused.never


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
        from arpl.sub.deep import settings

        params = {}
        helpers.later(params), settings(params)
        row = {"run": 1}
        row["run"], params["model"]["backbone"]
        """)
    _write(tmp_path / "arpl" / "keys.py", """
        import json
        from functools import partial


        def spec_of(params):
            return from_sections(Spec, {"train": params["train"], "model": params["model"]})


        def from_sections(spec, sections):
            return spec


        class Spec:
            lr: float = setting("train", 0.1)
            size: int = setting("model", 3, key="width")


        def setting(section, default, key=None):
            return default


        def aliases(params):
            data, train = params["data"], params["train"]
            subset = {**params, "data": {**params["data"], "train_per_class": 5}}
            return data["dataset"], train["epochs"], with_copy(subset)


        def with_copy(params):
            return params["data"]["train_per_class"]


        def handed_on(params):
            return [partial(aliases, params), spec_of(params=params)]


        def torch_parameters(model):
            params = [p for p in model.parameters()]
            return params[0], len(params)


        def never_called(params):
            return params["ood"]


        def escapes(params):
            return json.dumps(params)
        """)
    _write(tmp_path / "notebooks" / "02_keys.py", """
        # %%
        from arpl import keys

        params = {}
        keys.handed_on(params), keys.torch_parameters(None)
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


def test_params_are_read_key_by_key_in_the_functions_a_stage_reaches(toy):
    """Aliases of a section, copies, ``params`` handed on (also through functools.partial and by keyword), the
    ``setting`` fields of a spec built by ``from_sections``; a function nobody calls reads nothing, a list of torch
    parameters named ``params`` is no params dict, and ``params`` given to other code reads every section."""
    tokens = "python -m arpl notebook notebooks/02_keys.py out.ipynb".split()
    derived = stage_deps.derive_command(tokens, toy, "keys")
    assert derived.params == ["data.dataset", "data.train_per_class", "model.width", "run.seed", "train.epochs",
                              "train.lr"]   # run.seed: read by the notebook runner of every notebook stage
    notebook = toy / "notebooks" / "02_keys.py"
    notebook.write_text(notebook.read_text() + "keys.escapes(params)\n")
    assert stage_deps.derive_command(tokens, toy, "keys").params == sorted(SCHEMA)


def test_notebook_code_is_read_as_jupytext_reads_it():
    """The derivation reads a notebook's code cells without jupytext (slow to import): the same names."""
    import ast

    import jupytext

    for path in sorted((ROOT / "notebooks").glob("*.py")):
        cells = [cell.source for cell in jupytext.read(path).cells if cell.cell_type == "code"]
        expected = ast.dump(ast.parse("\n".join(cells)))
        assert ast.dump(code_index.notebook_tree(path)) == expected, path.name


def test_simplify_params_collapses_a_fully_read_section():
    assert stage_deps.simplify_params({"osr.scores", "osr.bootstrap", "run.seed", "ood", "ood.sets"}) == \
        ["ood", "osr", "run.seed"]


def test_compact_files_uses_a_folder_only_when_all_of_it_is_read():
    derived = stage_deps.derive(ROOT)["osr"].files
    compact = dvc_yaml.compact_files(derived, ROOT)
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
    gaps = dvc_yaml.own_module_gaps(_params_naming(COSINE), ROOT)
    assert len(gaps) == 1
    readers = [name for name, deps in stage_deps.derive(ROOT).items()
               if any(entry in ("train", "train.methods") for entry in deps.params)]
    assert {"train", "osr", "report"} <= set(readers) and "data" not in readers
    assert gaps[0].startswith(f"train.methods names {COSINE!r}, defined in {COSINE_FILE}")
    assert gaps[0].endswith(f"add `- {COSINE_FILE}` to the deps of {', '.join(readers)} in dvc.yaml "
                            f"(`python -m arpl deps --write` does)")
    assert dvc_yaml.own_module_gaps(_params_naming(COSINE), ROOT, stage="train") == gaps
    assert dvc_yaml.own_module_gaps(_params_naming(COSINE), ROOT, stage="data") == []


def test_an_own_module_in_the_deps_or_outside_the_repository_is_no_gap(tmp_path):
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    for stage in pipeline["stages"].values():
        stage["deps"].append(COSINE_FILE)
    declared = tmp_path / "dvc.yaml"
    declared.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    assert dvc_yaml.own_module_gaps(_params_naming(COSINE), ROOT, dvc_file=str(declared)) == []
    assert dvc_yaml.own_module_gaps(_params_naming("some_installed_package.heads:Head"), ROOT) == []
    assert dvc_yaml.own_module_gaps(yaml.safe_load((ROOT / "params.yaml").read_text()), ROOT) == []


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


def test_write_puts_an_own_module_into_exactly_the_stages_that_read_its_key(tmp_path, monkeypatch, capsys):
    """`python -m arpl deps --write` derives every stage's deps and params and adds your module's file to the
    stages reading the key that names it; the commands, outputs and comments stay; a second write changes nothing,
    and `deps --check` is then clean."""
    root = _copy_sources(tmp_path)
    (root / "tests" / "plugins").mkdir(parents=True)
    shutil.copy(ROOT / COSINE_FILE, root / COSINE_FILE)
    (root / "params.yaml").write_text(yaml.safe_dump(_params_naming(COSINE), sort_keys=False))
    before = yaml.safe_load((root / "dvc.yaml").read_text())
    monkeypatch.chdir(root)
    assert main(["deps", "--check"]) == 1
    assert main(["deps", "--write"]) == 0
    after = yaml.safe_load((root / "dvc.yaml").read_text())
    readers = {name for name, deps in stage_deps.derive(root).items() if dvc_yaml.reads_key(deps.params,
                                                                                            "train.methods")}
    assert {name for name, stage in after["stages"].items() if COSINE_FILE in stage["deps"]} == readers
    for name, stage in after["stages"].items():
        assert {key: value for key, value in stage.items() if key not in ("deps", "params")} == \
            {key: value for key, value in before["stages"][name].items() if key not in ("deps", "params")}
    assert (root / "dvc.yaml").read_text().startswith("# The paper as a pipeline")
    capsys.readouterr()
    assert main(["deps", "--write", "--check"]) == 0
    assert "already declares what every stage reads" in capsys.readouterr().out
