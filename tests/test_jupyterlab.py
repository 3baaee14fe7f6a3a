"""The stage notebooks open in JupyterLab: the project's environment has JupyterLab, its jupytext server
extension serves ``notebooks/*.py`` as notebooks through the contents API, saving one from JupyterLab
writes the source back unchanged (no outputs, no metadata header), as ``jupytext.toml`` asks, and "Run All"
in a kernel started in ``notebooks/`` runs a stage notebook as the pipeline would."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
START_TIMEOUT_S = 90
pytestmark = pytest.mark.xdist_group("jupyterlab")  # one server per test session (scripts/test.sh)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, token: str, timeout: float = 10) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """``jupyter lab`` started headless in the repository root, as docs/notebooks.md says; killed at the end."""
    port, token = _free_port(), secrets.token_hex(16)
    folder = tmp_path_factory.mktemp("jupyter")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(folder / "runtime"), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    log = (folder / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [str(VENV_BIN / "jupyter"), "lab", "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                _get(f"{base}/api/status", token, timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"JupyterLab did not start within {START_TIMEOUT_S} s:\n"
                                f"{(folder / 'jupyterlab.log').read_text()[-4000:]}")
                time.sleep(0.5)
        yield base, token
    finally:
        os.killpg(server.pid, signal.SIGTERM)   # its own session: the server and anything it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
        log.close()


def test_contents_api_serves_a_stage_source_as_a_notebook(jupyterlab):
    base, token = jupyterlab
    model = _get(f"{base}/api/contents/notebooks/04_osr.py?content=1&type=notebook", token)
    assert model["type"] == "notebook" and model["format"] == "json"
    notebook = nbformat.from_dict(model["content"])
    nbformat.validate(notebook)
    cells = notebook.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# Open set recognition")
    parameters = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and 'params_file = "params.yaml"' in parameters[0].source
    assert sum(c.cell_type == "code" for c in cells) >= 3
    assert notebook.metadata["jupytext"]["text_representation"]["format_name"] == "percent"


def test_every_stage_source_is_listed_as_a_notebook(jupyterlab):
    base, token = jupyterlab
    listing = _get(f"{base}/api/contents/notebooks?content=1", token)
    types = {entry["name"]: entry["type"] for entry in listing["content"]}
    assert {path.name: types.get(path.name) for path in NOTEBOOKS} == {path.name: "notebook" for path in NOTEBOOKS}


def test_saving_from_jupyterlab_writes_the_source_back_unchanged(tmp_path):
    """What JupyterLab's save does (jupytext's contents manager, with the repository's jupytext.toml), on a copy:
    a notebook run cell by cell, with outputs and a kernel chosen, is saved back byte for byte as it was read."""
    from jupytext.sync_contentsmanager import TextFileContentsManager

    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("*.ipynb", ".*"))
    manager = TextFileContentsManager(root_dir=str(tmp_path))
    for path in NOTEBOOKS:
        relative = f"notebooks/{path.name}"
        source = (tmp_path / relative).read_bytes()
        notebook = manager.get(relative, content=True, type="notebook")["content"]
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        for count, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
            cell.execution_count = count + 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="OUTPUT\n")]
        manager.save({"type": "notebook", "content": notebook}, relative)
        assert (tmp_path / relative).read_bytes() == source, f"saving {relative} changed it"
    assert sorted(p.name for p in (tmp_path / "notebooks").iterdir() if not p.name.startswith(".")) == \
        [p.name for p in NOTEBOOKS], "no paired .ipynb appears"


def test_run_all_in_a_kernel_started_in_notebooks_runs_a_stage_notebook(tmp_path, smoke_params):
    """What JupyterLab's "Run All" does with ``notebooks/01_data.py``: the project's python3 kernel, started in
    ``notebooks/``, runs the source as jupytext reads it (no papermill, no injected parameters). The notebook makes
    the repository root its working directory itself, so it reads ``params.yaml`` and writes ``runs/`` there, as
    ``dvc repro`` would. On a copy of the repository (scripts/quick_run.py's) with the smoke profile, reading the
    repository's data/raw (conftest's ``smoke_params``)."""
    from nbclient import NotebookClient

    spec = importlib.util.spec_from_file_location("quick_run", ROOT / "scripts" / "quick_run.py")
    quick_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quick_run)
    repo = tmp_path / "repo"
    quick_run.copy_repository(repo)
    (repo / "params.yaml").write_text(yaml.safe_dump(smoke_params.model_dump(), sort_keys=False))

    assert not (repo / "runs").exists()
    notebook = jupytext.read(repo / "notebooks" / "01_data.py")
    NotebookClient(notebook, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(repo / "notebooks")}}).execute()   # raises on a failing cell

    errors = [out for cell in notebook.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert errors == []
    for name in ("splits.csv", "splits.json", "samples.png"):
        assert (repo / "runs" / "data" / name).is_file(), f"runs/data/{name} not written at the repository root"
    assert not (repo / "notebooks" / "runs").exists() and not (repo / "notebooks" / "reports").exists()
