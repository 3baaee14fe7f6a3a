"""The stage notebooks are thin, narrated, output-free sources: a markdown cell first, a tagged
parameters cell, no function or class definitions, and every stage of dvc.yaml has its notebook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
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


@pytest.mark.parametrize("fd_capture", [True, False], ids=["ipykernel-captures-fds", "no-fd-capture"])
def test_a_worker_line_reaches_the_terminal_once_and_stays_in_the_notebook(tmp_path, fd_capture):
    """Epoch lines of the training workers (arpl.pipeline.runs.workers) are printed by the kernel itself: once in the
    terminal (papermill's log), and kept in the executed notebook, whether or not ipykernel captures low-level output (it
    does not under pytest, nor on some platforms)."""
    source = tmp_path / "story.py"
    source.write_text('# %% [markdown]\n# # A story\n\n# %% tags=["parameters"]\nword = "x"\n\n# %%\n'
                      'from functools import partial\nfrom types import SimpleNamespace as NS\n'
                      'from arpl.pipeline.runs.workers import train_ahead\n'
                      'train_ahead(NS(run=NS(workers=2, device="cpu")), '
                      '[partial(print, f"from-worker-{i}\\n", flush=True) for i in range(3)])\n'
                      'print("from-the-kernel", word, flush=True)\n')
    output = tmp_path / "story.ipynb"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST" or not fd_capture}
    done = subprocess.run([sys.executable, "-m", "arpl", "notebook", str(source), str(output), "-p", "word=y"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    terminal = done.stdout + done.stderr
    printed = "".join(out.get("text", "") for cell in nbformat.read(output, as_version=4).cells
                      for out in cell.get("outputs", []) if out.get("name") == "stdout")
    for line in ("from-worker-0", "from-worker-1", "from-worker-2", "from-the-kernel y"):
        assert terminal.count(line) == 1 and printed.count(line) == 1, line
    assert printed.count("\n") == 3 * 2 + 1, "a worker's empty lines are kept"


def test_failing_stage_notebook_names_the_cell_and_keeps_the_traceback(tmp_path):
    source = tmp_path / "broken.py"
    source.write_text('# %% [markdown]\n# # Broken\n\n# %%\nraise ValueError("no such split")\n')
    output = tmp_path / "broken.ipynb"
    done = subprocess.run([sys.executable, "-m", "arpl", "notebook", str(source), str(output)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "failed in cell 1 (ValueError: no such split)" in done.stderr and str(output) in done.stderr
    assert "no such split" in output.read_text()


def test_the_stage_log_shows_printed_lines_without_blank_lines_between_and_no_cell_chatter():
    import logging

    from arpl.__main__ import _notebook_output_only

    def record(message):
        return logging.LogRecord("papermill", logging.INFO, __file__, 1, message, (), None)

    printed = record("[ARPL split0] epoch 1/8  loss 0.41\n")
    assert _notebook_output_only(printed) and printed.getMessage() == "[ARPL split0] epoch 1/8  loss 0.41"
    assert not _notebook_output_only(record("Executing Cell 3---------------------------------------"))
    assert not _notebook_output_only(record("Ending Cell 3------------------------------------------"))


@pytest.mark.parametrize("last_line", ['print("done")', 'raise ValueError("no such split")'], ids=["runs", "fails"])
def test_no_kernel_outlives_its_notebook(tmp_path, last_line):
    """papermill stops the kernel it started, and closes its client, whether the notebook's last cell runs or
    fails."""
    source = tmp_path / "kernel.py"
    source.write_text('# %% [markdown]\n# # The kernel\n\n# %%\nimport os\nprint("pid", os.getpid())\n\n# %%\n'
                      + last_line + "\n")
    output = tmp_path / "kernel.ipynb"
    done = subprocess.run([sys.executable, "-m", "arpl", "notebook", str(source), str(output)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (done.returncode == 0) == last_line.startswith("print"), done.stderr
    assert "zmq context" not in done.stderr, "the kernel's client is closed with it"
    printed = "".join(out.get("text", "") for cell in nbformat.read(output, as_version=4).cells
                      for out in cell.get("outputs", []) if out.get("name") == "stdout")
    with pytest.raises(ProcessLookupError):
        os.kill(int(printed.split()[1]), 0)


def test_a_source_is_converted_once_per_text_and_as_jupytext_converts_it(tmp_path, monkeypatch):
    from arpl.pipeline import notebook

    monkeypatch.setattr(notebook, "CONVERTED", tmp_path / "converted")
    source = tmp_path / "stage.py"
    source.write_text("# %% [markdown]\n# # A stage\n\n# %%\nprint(1)\n")
    first = notebook.converted(source)
    assert notebook.converted(source) == first and len(list((tmp_path / "converted").iterdir())) == 1
    read = nbformat.read(first, as_version=4)
    assert read.metadata["kernelspec"]["name"] == "python3"
    assert [cell.source for cell in read.cells] == [cell.source for cell in jupytext.read(source).cells]
    source.write_text(source.read_text().replace("print(1)", "print(2)"))
    second = notebook.converted(source)
    assert second != first and "print(2)" in second.read_text()
