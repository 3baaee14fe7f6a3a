"""A stage switched off in params.yaml records itself instead of running: a one-cell notebook that names
the key, and every declared output, so DVC is satisfied and the report links the page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import yaml

from arpl.__main__ import main
from arpl.pipeline.notebook import switched_off_by
from arpl.pipeline.params.profiles import profile_text

ROOT = Path(__file__).resolve().parents[1]


def _params_with(tmp_path: Path, section: str, key: str, value) -> None:
    params = yaml.safe_load(profile_text("smoke"))
    params[section][key] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))


def test_switched_off_stage_writes_a_note_and_its_outputs(tmp_path, monkeypatch):
    _params_with(tmp_path, "figures", "enabled", False)
    monkeypatch.chdir(tmp_path)
    code = main(["notebook", str(ROOT / "notebooks" / "08_figures.py"), "runs/notebooks/08_figures.ipynb",
                 "--when", "figures.enabled", "--outs", "runs/figures", "metrics/figures.json"])
    assert code == 0
    notebook = nbformat.read(tmp_path / "runs/notebooks/08_figures.ipynb", as_version=4)
    assert "switched off" in notebook.cells[0].source and "`figures.enabled`" in notebook.cells[0].source
    assert switched_off_by(tmp_path / "runs/notebooks/08_figures.ipynb") == "figures.enabled"
    assert (tmp_path / "runs/figures").is_dir()
    assert json.loads((tmp_path / "metrics/figures.json").read_text()) == {}


def test_empty_list_switches_off_and_unknown_key_is_an_error(tmp_path, monkeypatch, capsys):
    _params_with(tmp_path, "data", "splits", [])
    monkeypatch.chdir(tmp_path)
    assert main(["notebook", str(ROOT / "notebooks" / "04_osr.py"), "out.ipynb", "--when", "data.splits",
                 "--outs", "runs/osr"]) == 0
    assert "data.splits" in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].source
    shutil.rmtree(tmp_path / "runs")
    assert main(["notebook", str(ROOT / "notebooks" / "04_osr.py"), "out.ipynb", "--when", "data.splitz"]) == 1
    assert "no key 'data.splitz'" in capsys.readouterr().err


def test_report_pages_say_which_stages_were_switched_off(tmp_path):
    from arpl.pipeline.notebook import write_switched_off
    from arpl.stages.report import render_stage_pages

    notebooks = tmp_path / "runs" / "notebooks"
    ran = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Out-of-distribution detection")])
    notebooks.mkdir(parents=True)
    nbformat.write(ran, notebooks / "05_ood.ipynb")
    write_switched_off(notebooks / "04_osr.ipynb", "04_osr", "data.splits", [], [])
    pages = render_stage_pages(notebooks, tmp_path / "reports")
    assert [p["file"] for p in pages] == ["04_osr.html", "05_ood.html"]
    assert pages[0]["summary"] == "switched off in this profile (data.splits)"
    assert pages[1]["summary"].startswith("Table 3") and (tmp_path / "reports" / "05_ood.html").is_file()
