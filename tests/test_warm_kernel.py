"""Warm kernels (arpl.pipeline.warm_kernel): a stage notebook's kernel forked from a server that imported torch once
computes what a cold kernel does, in the runner's directory, environment and umask, spawns workers that import from
that directory, and goes with its notebook."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
import torch

from arpl.pipeline import warm_kernel

NOTEBOOK = '''# %% [markdown]
# # A kernel's state

# %%
import json, os, sys
print("state", os.getpid(), os.getppid(), os.environ.get("JPY_PARENT_PID"), "torch" in sys.modules,
      any(name.split(".")[0] in ("arpl", "matplotlib") for name in sys.modules),
      os.getcwd() == os.environ["EXPECTED_CWD"], oct(os.umask(0o022)))
print("path", json.dumps(sys.path))

# %%
import torch
torch.manual_seed(0)
print("numbers", *torch.randn(4).tolist())

# %%
from multiprocessing import get_context
import here
with get_context("spawn").Pool(1) as pool:
    print("worker", *pool.map(here.where, [0]))

# %%
import matplotlib.pyplot as plt
plt.plot([0, 1], [1, 0])
plt.show()
'''


@pytest.fixture
def private_tmp():
    """A short TMPDIR of the test's own (a Unix socket's path must stay under about 100 characters), so that its
    kernel server is its own; the server is stopped afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="arpl-wk-", dir="/tmp"))
    yield folder
    for log in folder.glob("arpl-kernels-*/*.log"):
        for line in log.read_text().splitlines():
            print("server log:", line)
    subprocess.run(["pkill", "-f", "--", f"--serve {folder}/"], check=False)
    shutil.rmtree(folder, ignore_errors=True)


def run_notebook(tmp_path: Path, private_tmp: Path, warm: bool, umask: int = 0o022) -> dict:
    source = tmp_path / "state.py"
    source.write_text(NOTEBOOK)
    (tmp_path / "here.py").write_text("import os\n\n\ndef where(_):\n    return os.getcwd()\n")
    output = tmp_path / "state.ipynb"
    env = {**os.environ, "TMPDIR": str(private_tmp), "EXPECTED_CWD": str(tmp_path),
           warm_kernel.SWITCH: "1" if warm else "0"}
    done = subprocess.run([sys.executable, "-m", "arpl", "notebook", str(source), str(output)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300, preexec_fn=lambda: os.umask(umask))
    assert done.returncode == 0, done.stderr
    cells = nbformat.read(output, as_version=4).cells
    printed = dict(line.split(" ", 1) for cell in cells for out in cell.get("outputs", [])
                   if out.get("name") == "stdout" for line in out["text"].splitlines())
    pid, parent, runner, torch_in, ours_in, in_cwd, kernel_umask = printed["state"].split()
    return {"pid": int(pid), "parent": int(parent), "runner": int(runner), "torch": torch_in == "True",
            "arpl or matplotlib": ours_in == "True", "cwd": in_cwd == "True", "umask": int(kernel_umask, 8),
            "path": json.loads(printed["path"]), "worker": printed["worker"], "numbers": [float(x) for x in printed["numbers"].split()],
            "figure": any("image/png" in out.get("data", {}) for cell in cells for out in cell.get("outputs", []))}


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_kernels_fork_from_one_server_compute_what_a_cold_one_does_and_go_with_their_notebook(tmp_path,
                                                                                              private_tmp):
    torch.manual_seed(0)
    expected = torch.randn(4).tolist()
    cold = run_notebook(tmp_path, private_tmp, warm=False)
    first = run_notebook(tmp_path, private_tmp, warm=True)
    second = run_notebook(tmp_path, private_tmp, warm=True, umask=0o027)

    assert cold["parent"] == cold["runner"], "ARPL_WARM_KERNELS=0: the runner's own child, as before"
    assert first["parent"] != first["runner"] and first["parent"] == second["parent"], "both from one server"
    assert not first["arpl or matplotlib"], "the server imports neither arpl nor matplotlib"
    for state in (cold, first, second):
        assert state["torch"] and state["cwd"] and state["figure"]
        assert state["worker"] == str(tmp_path), "a spawned worker imports from the kernel's directory"
        assert state["numbers"] == expected and state["path"] == cold["path"]
        assert gone_within(state["pid"], 10), "no kernel outlives its notebook"
    assert (first["umask"], second["umask"]) == (0o022, 0o027), "the runner's umask, not the server's"


def test_a_kernel_whose_runner_is_killed_is_stopped(tmp_path, private_tmp):
    source = tmp_path / "slow.py"
    source.write_text('# %% [markdown]\n# # Slow\n\n# %%\nimport os, time\nprint("kernel", os.getpid(), flush=True)\n'
                      'time.sleep(300)\n')
    env = {**os.environ, "TMPDIR": str(private_tmp), warm_kernel.SWITCH: "1"}
    runner = subprocess.Popen([sys.executable, "-m", "arpl", "notebook", str(source), str(tmp_path / "slow.ipynb")],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in runner.stdout:
        if line.startswith("kernel "):
            kernel = int(line.split()[1])
            break
    else:
        pytest.fail(f"the notebook never printed its kernel's pid (exit {runner.wait()})")
    assert os.getppid() != kernel and Path(f"/proc/{kernel}/status").is_file()
    runner.kill()
    runner.wait()
    assert gone_within(kernel, 15), "the proxy stops the kernel when whoever started it dies"


def test_one_server_per_address_and_it_removes_only_its_own_socket():
    address = Path(tempfile.mkdtemp(prefix="arpl-wk-", dir="/tmp")) / "server.sock"
    try:
        listener, stamp = warm_kernel._listen(address)
        assert warm_kernel._listen(address) is None, "a live server keeps its address"
        warm_kernel._unlisten(listener, address, stamp)
        assert not address.exists()
        dead, dead_stamp = warm_kernel._listen(address)
        dead.close()   # a server that died without removing its socket file
        newer, newer_stamp = warm_kernel._listen(address)
        warm_kernel._unlisten(dead, address, dead_stamp)
        assert address.exists(), "the newer server's socket stays"
        warm_kernel._unlisten(newer, address, newer_stamp)
        assert not address.exists()
    finally:
        shutil.rmtree(address.parent, ignore_errors=True)


def test_an_idle_server_exits_and_removes_its_socket():
    address = Path(tempfile.mkdtemp(prefix="arpl-wk-", dir="/tmp")) / "server.sock"
    try:
        started = time.monotonic()
        serve = ("import sys, importlib.util as u; from pathlib import Path; "   # as the script, without arpl
                 "spec = u.spec_from_file_location('warm_kernel', sys.argv[1]); w = u.module_from_spec(spec); "
                 "spec.loader.exec_module(w); w.IDLE_S = 0.5; w.serve(Path(sys.argv[2]))")
        done = subprocess.run([sys.executable, "-c", serve, warm_kernel.__file__, str(address)], cwd=address.parent,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert not address.exists() and time.monotonic() - started < 100
    finally:
        shutil.rmtree(address.parent, ignore_errors=True)


def test_only_the_native_python_kernel_is_made_warm(monkeypatch):
    monkeypatch.setenv(warm_kernel.SWITCH, "1")
    native = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert warm_kernel.kernel_argv(native) == [sys.executable, str(Path(warm_kernel.__file__).resolve()), "-f",
                                               "{connection_file}"]
    other = ["/opt/other/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert warm_kernel.kernel_argv(other) == other, "another environment's kernel starts as it says"
    assert warm_kernel.kernel_argv(["R", "--slave"]) == ["R", "--slave"]
    monkeypatch.setenv(warm_kernel.SWITCH, "0")
    assert warm_kernel.kernel_argv(native) == native


def test_the_server_is_chosen_by_everything_but_the_volatile_environment():
    base = {"PATH": "/usr/bin", "OMP_NUM_THREADS": "1"}
    address = warm_kernel.server_address(base)
    assert len(str(address)) <= warm_kernel.MAX_SOCKET_PATH or not str(address).startswith("/tmp/")
    assert warm_kernel.server_address({**base, "DVC_STAGE": "osr", "JPY_PARENT_PID": "42"}) == address
    for name, value in (("OMP_NUM_THREADS", "2"), ("ATEN_CPU_CAPABILITY", "default"), ("CUDA_VISIBLE_DEVICES", "")):
        assert warm_kernel.server_address({**base, name: value}) != address, name
