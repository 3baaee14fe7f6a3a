"""The stage notebooks are thin, narrated, output-free sources: a markdown cell first, a tagged
parameters cell, no function or class definitions, and every stage of dvc.yaml has its notebook."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_thin_and_narrated(path):
    notebook = jupytext.read(path)
    cells = notebook.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), "starts with a titled story"
    parameters = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1, "exactly one papermill parameters cell"
    code = [c.source for c in cells if c.cell_type == "code"]
    assert not any(line.lstrip().startswith(("def ", "class ")) for source in code for line in source.splitlines())
    assert all(not c.get("outputs") for c in cells if c.cell_type == "code")
    assert sum(c.cell_type == "markdown" for c in cells) >= 2


def test_every_stage_runs_a_notebook_that_exists():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert stages["download"]["cmd"] == "python -m arpl download"   # the one stage without a notebook
    for name, stage in stages.items():
        if name == "download":
            continue
        source = next(token for token in stage["cmd"].split() if token.startswith("notebooks/"))
        assert (ROOT / source).exists(), f"stage {name} runs missing {source}"
        assert source in stage["deps"], f"stage {name} must depend on its notebook"
