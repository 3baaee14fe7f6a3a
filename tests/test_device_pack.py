"""The lent GPU machine's set-up, proven on the CPU (docs/gpu.md): the package asks for torch by range, the pack's
wheels for CPython 3.12 resolve offline against the device image's packages, and scripts/gpu_check.sh runs end to
end in device mode from a copy of the tree without .git and .venv, with a Python that has only the image's
packages, the wheels installed offline."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

import device_pack  # noqa: E402  (scripts/device_pack.py)
import quick_run  # noqa: E402  (scripts/quick_run.py)
from image_python import image_like_python  # noqa: E402

TESTED_PAIR = ("torch==2.14.1", "torchvision==0.29.1")
TESTED_PYDANTIC = "pydantic==2.14.4"


def test_the_package_asks_for_torch_by_range_and_the_environment_files_pin_the_pair():
    """`pip install -e .` takes the torch already installed (the device's 2.11 too); the set-up pins the pair,
    and pydantic (v2, by range in the package) beside it."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_requirements = [d for d in dependencies if re.match(r"torch(vision)?\b", d)]
    assert len(torch_requirements) == 2 and not any("==" in d or "<" in d for d in torch_requirements)
    assert [d for d in dependencies if re.match(r"pydantic[<>=]", d)] == ["pydantic>=2.7,<3"]
    for path in ("scripts/setup.sh", "environment.yml"):
        assert all(pin in (ROOT / path).read_text() for pin in (*TESTED_PAIR, TESTED_PYDANTIC)), path


def test_the_device_needs_what_the_image_lacks_with_the_packages_ranges():
    needs = device_pack.device_needs()
    assert [re.split(r"[<>=]", need)[0] for need in needs] == ["pydantic", "dvc", "ruamel.yaml.clib", "papermill",
                                                                  "jupytext", "nbconvert", "ipykernel"]
    assert all(">=" in need for need in needs)
    assert "jupyterlab" in device_pack.NOT_ON_DEVICE


def test_a_requirement_without_a_wheel_is_read_from_either_of_pips_errors():
    direct = "ERROR: No matching distribution found for nanotime>=0.5.2\n"
    assert device_pack.requirement_without_wheel(direct) == "nanotime>=0.5.2"
    conflict = ("    hydra-core 1.3.2 depends on antlr4-python3-runtime==4.9.*\n\nAdditionally, some packages in these "
                "conflicts have no matching distributions available for your environment:\n    antlr4-python3-runtime\n")
    assert device_pack.requirement_without_wheel(conflict) == "antlr4-python3-runtime==4.9.*"
    with pytest.raises(device_pack.PackError, match="pip download failed"):
        device_pack.requirement_without_wheel("ERROR: something else")


def test_the_size_check_refuses_a_pack_over_the_device_calls_limit(tmp_path, monkeypatch):
    pack = tmp_path / ".device-pack"
    (pack / "wheels").mkdir(parents=True)
    (pack / "wheels" / "big.whl").write_bytes(b"\0" * 2**20)
    monkeypatch.setattr(device_pack, "tree_bytes", lambda root: 2**20)
    assert "2.0 MiB of the 64 MiB" in device_pack.size_report(tmp_path, pack)[-1]
    monkeypatch.setattr(device_pack, "CALL_LIMIT_MIB", 3.0)
    with pytest.raises(device_pack.PackError, match="more than 1 MiB"):
        device_pack.size_report(tmp_path, pack)


def test_fashion_mnist_travels_compressed_and_unpacks_to_the_same_bytes(tmp_path):
    raw = ROOT / device_pack.RAW_FASHION_MNIST
    packed = device_pack.make_data(tmp_path / "pack", raw, preset=0)
    device_pack.unpack_data(tmp_path / "pack", tmp_path / "raw")
    for name, xz in zip(device_pack.FASHION_MNIST_FILES, packed):
        assert xz.stat().st_size < (raw / name).stat().st_size
        assert (tmp_path / "raw" / name).read_bytes() == (raw / name).read_bytes()


def test_the_repository_files_without_git_are_those_git_lists(monkeypatch):
    """On the device there is no .git: the quick runs copy what .gitignore does not ignore, the same files."""
    with_git = quick_run.repository_files(ROOT)
    monkeypatch.setattr(quick_run.shutil, "which", lambda name: None)
    without_git = quick_run.repository_files(ROOT)
    assert sorted(without_git) == sorted(with_git)
    assert quick_run.ignored(Path("data/raw/x"), ["/data/raw"]) and not quick_run.ignored(Path("a/data/raw"),
                                                                                         ["/data/raw"])
    assert quick_run.ignored(Path("a/__pycache__/m.pyc"), ["__pycache__/"])


def _stub_wheel(folder: Path, requirement: str) -> None:
    """An empty wheel standing for an installed package of the image (name and version only)."""
    name, version = requirement.split("==")
    stem = f"{re.sub(r'[-.]+', '_', name)}-{version}"
    with zipfile.ZipFile(folder / f"{stem}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{stem}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(f"{stem}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: stub\nRoot-Is-Purelib: true\n"
                                                  "Tag: py3-none-any\n")
        wheel.writestr(f"{stem}.dist-info/RECORD", "")


def image_stubs(wheels: Path, folder: Path) -> list[str]:
    """Stub wheels of the image's packages the wheelhouse needs: the version read on the device where
    scripts/device_image.txt records one, else the one the pack was made against."""
    folder.mkdir()
    recorded = device_pack.image_packages()
    assumed = [line for line in (wheels / device_pack.IMAGE_VERSIONS).read_text().splitlines()
               if line and not line.startswith("#")]
    stubs = []
    for requirement in assumed:
        name = requirement.split("==")[0]
        stubs.append(f"{name}=={recorded[name] or requirement.split('==')[1]}")
        _stub_wheel(folder, stubs[-1])
    return stubs


@pytest.mark.integration
def test_the_device_wheelhouse_resolves_offline_for_python_312_beside_the_image(tmp_path):
    """scripts/device_pack.py's wheels for CPython 3.12 (downloaded from PyPI, about 32 MiB): with the image's
    packages (stubs), pip resolves the device's needs without an index, every wheel once; a need missing from the
    wheelhouse would fail here with pip's message naming it. pydantic-core is compiled: its wheel is CPython 3.12's."""
    wheels = device_pack.make_wheels(tmp_path / "wheels")
    names = [device_pack.wheel_name(wheel) for wheel in wheels]
    assert len(names) == len(set(names)) and not set(names) & set(device_pack.image_packages())
    assert {"pydantic", "pydantic-core", "annotated-types", "typing-inspection", "dvc", "papermill", "jupytext",
            "nbconvert", "ipykernel"} <= set(names)
    assert "dvclive" not in names
    core = next(wheel.name for wheel in wheels if device_pack.wheel_name(wheel) == "pydantic-core")
    assert "-cp312-cp312-" in core and "manylinux" in core and core.endswith("_x86_64.whl"), core
    image_stubs(tmp_path / "wheels", tmp_path / "image")
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--find-links", str(tmp_path / "wheels"),
               "--find-links", str(tmp_path / "image"), "--only-binary=:all:", "--target", str(tmp_path / "target"),
               *device_pack.target_options(this_python=False), *device_pack.device_needs()]
    isolated = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    result = subprocess.run(command, capture_output=True, text=True, env={**isolated, "PIP_CONFIG_FILE": os.devnull})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    would_install = result.stdout.split("Would install", 1)[1].split()
    unused = set(names) - {device_pack.normalized(entry.rsplit("-", 1)[0]) for entry in would_install}
    assert not unused, f"wheels nothing needs: {sorted(unused)}"


@pytest.mark.integration
def test_the_gpu_check_runs_in_device_mode_from_a_tree_without_git_or_venv(tmp_path):
    """The device's path on the CPU at toy sizes: a copy of the tree without .git and .venv, a Python with only
    the image's packages (linked from .venv), the wheelhouse for that Python made by the same script and installed
    offline by scripts/gpu_check.sh, Fashion-MNIST from the pack; every step passes, the quick run's data stage
    goes through dvc and papermill, and at most 8 files, none deeper than the results folder, come back."""
    tree = tmp_path / "tree"
    for name in quick_run.repository_files(ROOT):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    assert not (tree / ".git").exists() and not (tree / ".venv").exists()
    site_packages = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    python = image_like_python(site_packages, tmp_path / "python")
    assert subprocess.run([str(python), "-c", "import dvc"], capture_output=True).returncode != 0
    device_pack.make_wheels(tree / ".device-pack" / "wheels", this_python=True)
    device_pack.make_data(tree / ".device-pack" / "fashion-mnist", ROOT / device_pack.RAW_FASHION_MNIST, preset=0)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p)
    env = {**os.environ, "PATH": path, "PYTHON": str(python), "OUT": str(tmp_path / "out"), "GPU_CHECK_TINY": "1",
           "GPU_CHECK_STAGES": "data", "OMP_NUM_THREADS": "1", "BUDGET_SETUP": "120", "BUDGET_TESTS": "120",
           "BUDGET_THROUGHPUT": "300", "BUDGET_FIDELITY": "300", "BUDGET_DDP": "300", "BUDGET_PROFILES": "400"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(["bash", "scripts/gpu_check.sh"], cwd=tree, env=env, capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    out = tmp_path / "out"
    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["summary.txt", "steps.csv", "throughput.csv", "fidelity.csv", "ddp.csv", "quick_runs.csv",
         "environment.txt", "logs.tar.gz"])
    with (out / "steps.csv").open() as handle:
        steps = {row["name"]: row["status"] for row in csv.DictReader(handle)}
    assert steps == dict.fromkeys(["setup", "tests", "throughput", "fidelity", "ddp", "profiles"], "ok")
    summary = (out / "summary.txt").read_text()
    assert "device mode" in summary and "commit unknown" in summary
    assert "No broken requirements found" in (out / "environment.txt").read_text()
