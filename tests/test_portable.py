"""run.portable_kernels (arpl/portable.py): the switch reaches every process of a stage (the papermill kernel
and the one-thread workers it spawns), a run that asks for it in a process without it is refused, and the
portable kernels really compute with ATen's baseline build and without oneDNN."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from arpl import portable
from arpl.pipeline.params import ParamsError, validate
from arpl.training import fit
from arpl.training.specs import ModelSpec, TrainSpec

ROOT = Path(__file__).resolve().parents[1]

PROBE = '''
"""Writes this process's kernel state (arpl.portable.state) to a JSON file."""
import copy
import json


def record(path):
    from arpl.portable import state

    with open(path, "w") as handle:
        json.dump(state(), handle)
'''

NOTEBOOK = '''# %%
from functools import partial
from types import SimpleNamespace
import probe
from arpl.pipeline.runs.workers import train_ahead

probe.record("kernel.json")
params = SimpleNamespace(run=SimpleNamespace(device="cpu", workers=2))
train_ahead(params, [partial(probe.record, f"worker{i}.json") for i in range(2)])
'''


def _stage_states(tmp_path: Path, portable_kernels: bool) -> dict[str, dict]:
    """Run a stage notebook through `python -m arpl notebook` (as dvc.yaml does) in ``tmp_path`` with
    ``run.portable_kernels``; the kernel and two spawned workers record their kernel state."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"run": {"portable_kernels": portable_kernels}}))
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "stage.py").write_text(NOTEBOOK)
    env = {key: value for key, value in os.environ.items() if key not in (*portable.PORTABLE_ENV, portable.SWITCH)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path)])
    done = subprocess.run([sys.executable, "-m", "arpl", "notebook", "stage.py", "stage.ipynb"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("kernel", "worker0", "worker1")}


@pytest.mark.integration
def test_the_switch_reaches_the_notebook_kernel_and_every_worker(tmp_path):
    states = _stage_states(tmp_path, portable_kernels=True)
    for name, state in states.items():
        assert state["portable"], name
        assert state["cpu_capability"] == "DEFAULT", (name, state)
        assert not state["mkldnn"] and not state["nnpack"] and state["threads"] == 1, (name, state)
        assert {key: state[key] for key in portable.PORTABLE_ENV} == portable.PORTABLE_ENV, name


@pytest.mark.integration
@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() == "DEFAULT", reason="this CPU has no vector ISA")
def test_without_the_switch_the_stage_uses_the_machines_kernels(tmp_path):
    states = _stage_states(tmp_path, portable_kernels=False)
    for name, state in states.items():
        assert not state["portable"] and state["cpu_capability"] != "DEFAULT" and state["mkldnn"], (name, state)


def test_requested_reads_only_a_true_switch(tmp_path):
    path = tmp_path / "params.yaml"
    assert not portable.requested(path)  # no file
    for run, expected in (({"portable_kernels": True}, True), ({"portable_kernels": False}, False), ({}, False)):
        path.write_text(yaml.safe_dump({"run": run}))
        assert portable.requested(path) is expected


def test_setting_the_environment_after_torch_is_imported_is_refused(monkeypatch):
    monkeypatch.delenv(portable.SWITCH, raising=False)
    with pytest.raises(RuntimeError, match="before the first `import torch`"):
        portable.set_environment(True)
    portable.set_environment(False)  # nothing to do, nothing refused


def test_a_portable_run_in_a_process_without_portable_kernels_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(portable.SWITCH, raising=False)
    images, labels = torch.zeros(8, 1, 28, 28, dtype=torch.uint8), torch.arange(8) % 2
    with pytest.raises(RuntimeError, match="run.portable_kernels is true"):
        fit(ModelSpec(method="Softmax", backbone="small", num_classes=2), TrainSpec(epochs=1, portable_kernels=True),
            images, labels, tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_the_schema_wants_a_bool(smoke_params_raw):
    params = copy.deepcopy(smoke_params_raw)
    params["run"]["portable_kernels"] = "yes"
    with pytest.raises(ParamsError, match="run.portable_kernels"):
        validate(params)


def test_portable_runs_have_their_own_fingerprint_and_plain_ones_keep_theirs():
    from arpl.training.specs import fingerprint

    model = ModelSpec(method="ARPL", backbone="small", num_classes=6)
    assert fingerprint(model, TrainSpec()) != fingerprint(model, TrainSpec(portable_kernels=True))
