"""A run's fingerprint holds what can change its numbers and nothing else (arpl/training/specs.py): a method's own
settings enter only its runs, settings that cannot change numbers stay out, and the code part is the meaning of the
modules the run executes (arpl/code_identity.py): a docstring, comment or formatting edit changes nothing, a real
edit changes the runs that execute the edited module and no other. The pipeline-level proof (a real edit of
arpl/methods/gcpl.py retrains GCPL's runs only, a docstring edit retrains nothing) is in tests/test_pipeline.py."""

from __future__ import annotations

import importlib
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from arpl import code_identity
from arpl.pipeline.params import Params
from arpl.pipeline.runs.specs import run_specs
from arpl.pipeline.runs import split_run
from arpl.training import specs
from arpl.training.specs import fingerprint, fingerprinted, run_modules

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("Softmax", "GCPL", "RPL", "ARPL")


def _fingerprints(params: Params, variant: str | None = None) -> dict[str, str]:
    return {method: fingerprint(*run_specs(params, method, 6, split_run(0), variant if method == "ARPL" else None))
            for method in METHODS}


def _changed(params: Params, section: str, key: str, value, variant: str | None = None) -> set[str]:
    other = params.replace(section, **{key: value})
    before, after = _fingerprints(params, variant), _fingerprints(other, variant)
    return {method for method in METHODS if before[method] != after[method]}


def test_a_method_setting_enters_only_the_runs_of_the_methods_that_take_it(smoke_params):
    """Lambda (Eq. 14) shapes GCPL's prototype term (the authors' GCPLoss has weight_pl too), RPL and ARPL, not
    Softmax; the margin form (Eq. 12) only ARPL; the temperature (Eq. 7) all four."""
    assert _changed(smoke_params, "train", "weight_pl", 0.5) == {"GCPL", "RPL", "ARPL"}
    assert _changed(smoke_params, "train", "margin_form", "paper") == {"ARPL"}
    assert _changed(smoke_params, "train", "temperature", 2.0) == set(METHODS)


def test_settings_that_cannot_change_the_numbers_stay_out(smoke_params):
    """The NaN policy (identical until a loss is not finite), the Algorithm-2 settings in a plain run, momentum
    under Adam, the progress bars and the worker count leave every fingerprint as it is."""
    assert _changed(smoke_params, "run", "on_nonfinite", "skip_batch") == set()
    assert _changed(smoke_params, "run", "progress", True) == set()
    assert _changed(smoke_params, "run", "workers", 1) == set()
    assert _changed(smoke_params, "confusing", "beta", 1.0) == set()
    assert _changed(smoke_params, "confusing", "beta", 1.0, variant="cs") == {"ARPL"}
    adam = smoke_params.replace("train", optimizer="adam")
    assert _changed(adam, "train", "momentum", 0.5) == set()
    assert _changed(smoke_params, "train", "momentum", 0.5) == set(METHODS)


def test_a_plugin_method_declares_its_settings_by_its_arguments(smoke_params, monkeypatch):
    """tests/plugins/cosine_head.py's head takes no loss setting: lambda, margin form and temperature stay out of
    its fingerprint; its own module is part of its code."""
    monkeypatch.syspath_prepend(str(ROOT))
    method = "tests.plugins.cosine_head:CosineHead"
    model, train = run_specs(smoke_params, method, 6, split_run(0))
    fields = fingerprinted(model, train)["model"]
    assert not {"weight_pl", "margin_form", "temperature", "distance"} & set(fields)
    assert "tests.plugins.cosine_head" in run_modules(model, train)
    other = smoke_params.replace("train", weight_pl=0.7, temperature=3.0)
    assert fingerprint(*run_specs(other, method, 6, split_run(0))) == fingerprint(model, train)


def _copy_package(target: Path) -> Path:
    shutil.copytree(ROOT / "arpl", target / "arpl", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def _identities(params: Params, root: Path) -> dict[str, str]:
    return {method: code_identity.identity(run_modules(*run_specs(params, method, 6, split_run(0))), root)
            for method in METHODS}


def _edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in ``path``."""
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_code_identity_ignores_docstrings_comments_and_formatting(smoke_params, tmp_path):
    root = _copy_package(tmp_path)
    before = _identities(smoke_params, root)
    gcpl = root / "arpl" / "methods" / "gcpl.py"
    _edit(gcpl, '"""``(logits, CE(logits / T) + weight_pl * mse(C(x), M_y) / 2)``."""',
          '"""The loss of Yang et al. (a docstring edit)."""')
    _edit(gcpl, "        logits = self.logits(features)\n",
          "        # a comment, and a line broken differently\n        logits = self.logits(\n            features)\n")
    _edit(root / "arpl" / "training" / "loop.py", '"""', '"""An edit of the module docstring. ')
    assert _identities(smoke_params, root) == before


def test_a_real_edit_changes_the_runs_that_execute_the_module_and_no_other(smoke_params, tmp_path):
    root = _copy_package(tmp_path)
    before = _identities(smoke_params, root)
    _edit(root / "arpl" / "methods" / "gcpl.py", "prototype_pull = own_point_distance(features, self.prototypes, "
          "labels).mean() / 2.0", "prototype_pull = own_point_distance(features, self.prototypes, labels).mean() / 4.0")
    after = _identities(smoke_params, root)
    assert {method for method in METHODS if before[method] != after[method]} == {"GCPL"}
    _edit(root / "arpl" / "methods" / "distances.py", "def ", "def _unused():\n    return 1\n\n\ndef ")
    moved = _identities(smoke_params, root)
    assert {method for method in METHODS if moved[method] != after[method]} == {"GCPL", "RPL", "ARPL"}
    _edit(root / "arpl" / "training" / "optim.py", "lr=lr, betas=(0.5, 0.999)", "lr=lr, betas=(0.5, 0.99)")
    assert all(value != moved[method] for method, value in _identities(smoke_params, root).items())


def test_the_identity_leaves_out_the_code_that_computes_it(smoke_params, tmp_path):
    """arpl/code_identity.py cannot change a run's numbers: a real edit of it keeps every identity."""
    root = _copy_package(tmp_path)
    before = _identities(smoke_params, root)
    assert "arpl.code_identity" in code_identity.closure(run_modules(*run_specs(smoke_params, "GCPL", 6,
                                                                                 split_run(0))), root)
    _edit(root / "arpl" / "code_identity.py", "NOT_IN_IDENTITY = ", "ANOTHER_CONSTANT = 1\nNOT_IN_IDENTITY = ")
    assert _identities(smoke_params, root) == before


def test_what_is_read_from_a_file_is_read_once_until_the_file_changes(tmp_path, monkeypatch):
    """The facts of a file (its meaning, imports, file names) are read once while it keeps its modification time
    and size; an edited file is read again."""
    module = tmp_path / "module.py"
    module.write_text('"""A module."""\nimport os\nNAME = "data.csv"\n')
    facts = code_identity.facts(module)
    assert facts.imports == (("os", None, "os", True),) and facts.strings == {"data.csv"}   # not "A module."

    parse = code_identity.parse
    monkeypatch.setattr(code_identity, "parse", lambda path: pytest.fail("parsed a file whose facts are known"))
    assert code_identity.facts(module) == facts

    monkeypatch.setattr(code_identity, "parse", parse)
    module.write_text('"""A module."""\nimport os\nNAME = "other.csv"\n')
    edited = code_identity.facts(module)
    assert edited.meaning != facts.meaning and "other.csv" in edited.strings


def test_package_data_a_run_reads_is_part_of_its_code(smoke_params, tmp_path):
    """The authors' split lists (arpl/data/splits.json) decide which classes a run trains on."""
    root = _copy_package(tmp_path)
    before = _identities(smoke_params, root)
    splits = root / "arpl" / "data" / "splits.json"
    splits.write_text(splits.read_text() + "\n")
    assert all(value != before[method] for method, value in _identities(smoke_params, root).items())


def test_a_method_outside_the_package_counts_by_the_meaning_of_its_file(tmp_path, monkeypatch):
    """A plugin on the Python path (not in the repository) is fingerprinted by its own file: a comment does not
    change it, a code edit does."""
    module = tmp_path / "my_cosine.py"
    module.write_text((ROOT / "tests" / "plugins" / "cosine_head.py").read_text()
                      .replace('name = "Cosine"', 'name = "MyCosine"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    model = specs.ModelSpec(method="my_cosine:CosineHead", backbone="small", num_classes=3)
    before = fingerprint(model, specs.TrainSpec())
    module.write_text(module.read_text() + "\n# a comment\n")
    assert fingerprint(model, specs.TrainSpec()) == before
    module.write_text(module.read_text() + textwrap.dedent("""
        SCALE_FOR_A_TEST = 2.0
    """))
    assert fingerprint(model, specs.TrainSpec()) != before


def test_the_modules_that_load_the_training_images_are_named_by_the_run(smoke_params):
    """Fashion-MNIST's loader lives in arpl/data/sources.py; the pipeline's subsets in arpl/pipeline/runs/images.py."""
    model, train = run_specs(smoke_params, "ARPL", 6, split_run(0))
    assert train.data_code == ("arpl.pipeline.runs.images", "arpl.data.sources")
    assert {"arpl.data.sources", "arpl.data.openset", "arpl.methods.arpl", "arpl.models.small"} <= \
        code_identity.closure(run_modules(model, train))
    assert not {"arpl.methods.gcpl", "arpl.models.resnet", "arpl.data.folders"} & \
        code_identity.closure(run_modules(model, train))


def test_relative_imports_lead_to_the_files_python_imports(tmp_path, monkeypatch):
    """``from .x import y``, ``from . import z`` and ``from ..a import B`` (in a function too) are resolved as
    Python resolves them; a package's relative re-export leads to the module that defines the name."""
    files = {"__init__.py": "", "a.py": "B = 1\n", "unused.py": "U = 1\n",
             "sub/__init__.py": "from .x import y\nfrom .z import Z\n", "sub/x.py": "def y():\n    return 1\n",
             "sub/z.py": "Z = 2\n", "user.py": "from relpkg.sub import y\n",
             "sub/m.py": "from .x import y\nfrom . import z\n\n\ndef f():\n    from ..a import B\n"
                         "    return y() + z.Z + B\n\n\ndef never_called():\n    from ...beyond import top\n"}
    for name, text in files.items():
        (tmp_path / "relpkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "relpkg" / name).write_text(text)
    found = code_identity.closure(["relpkg.sub.m"], tmp_path)
    assert found == {"relpkg", "relpkg.sub", "relpkg.sub.m", "relpkg.sub.x", "relpkg.sub.z", "relpkg.a"}
    assert code_identity.closure(["relpkg.user"], tmp_path) == {"relpkg", "relpkg.user", "relpkg.sub", "relpkg.sub.x"}
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert importlib.import_module("relpkg.sub.m").f() == 4
        assert {name for name in sys.modules if name.split(".")[0] == "relpkg"} == found
    finally:
        for name in [name for name in sys.modules if name.split(".")[0] == "relpkg"]:
            del sys.modules[name]


def test_imports_for_type_checking_only_are_no_part_of_the_code(tmp_path):
    """``if TYPE_CHECKING:`` blocks never run: what they import cannot change a run's numbers (the pipeline's runs
    name their params type that way), while a real import counts."""
    (tmp_path / "tcpkg").mkdir()
    (tmp_path / "tcpkg" / "__init__.py").write_text("")
    (tmp_path / "tcpkg" / "typed.py").write_text("X = 1\n")
    (tmp_path / "tcpkg" / "real.py").write_text("Y = 1\n")
    (tmp_path / "tcpkg" / "run.py").write_text("from typing import TYPE_CHECKING\n\nimport tcpkg.real\n\n"
                                               "if TYPE_CHECKING:\n    from tcpkg.typed import X\n")
    assert code_identity.closure(["tcpkg.run"], tmp_path) == {"tcpkg", "tcpkg.run", "tcpkg.real"}
