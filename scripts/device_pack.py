"""What a lent GPU machine needs beside the working tree, made on a CPU machine with PyPI (docs/gpu.md).

The lent machine has torch, torchvision and its image's other packages (scripts/device_image.txt), and reaches no
package registry and no dataset server. This script fills the git-ignored folder ``.device-pack/``:

- ``wheels/``: the wheels of the project's dependencies that the image lacks (pydantic, dvc, ruamel.yaml.clib,
  papermill, jupytext, nbconvert, ipykernel) with everything they need beyond the image, for CPython 3.12 on
  manylinux x86-64: pydantic-core (compiled, the cp312 manylinux wheel), annotated-types and typing-inspection
  with pydantic (typing-extensions is the image's); a need published only as source (antlr4-python3-runtime,
  nanotime) is built here as a pure-Python wheel.
- ``fashion-mnist/``: the four Fashion-MNIST files (the fidelity step's data) compressed with xz, 26 MB instead
  of the 55 MB the idx files take (the gzip files are 30 MB).

    python scripts/device_pack.py                      # wheels and data for the device, then the size check
    python scripts/device_pack.py wheels --this-python --out DIR   # wheels for the running Python (the CPU dry run)
    python scripts/device_pack.py size                 # what one device call carries, against its 64 MiB
    python scripts/device_pack.py unpack-data          # on the device: .device-pack/fashion-mnist -> data/raw

scripts/gpu_check.sh installs the wheels offline (``pip install --no-index --no-deps --target``) when it runs
where there is no .venv.
"""

from __future__ import annotations

import argparse
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / ".device-pack"
IMAGE_PACKAGES = Path(__file__).resolve().parent / "device_image.txt"
DEVICE_PYTHON = "3.12"
DEVICE_PLATFORMS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64", "manylinux_2_24_x86_64",
                    "manylinux_2_26_x86_64", "manylinux_2_27_x86_64", "manylinux_2_28_x86_64", "manylinux_2_31_x86_64",
                    "manylinux_2_34_x86_64", "manylinux_2_35_x86_64")
NOT_ON_DEVICE = {"jupyterlab": "for reading notebooks interactively; the pipeline executes them with papermill"}
CALL_LIMIT_MIB = 64.0     # the device tool carries at most this much per call (working tree, shared/, carried paths)
CALL_MARGIN_MIB = 2.0     # kept free: the tree grows between making the pack and the call
FASHION_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                       "t10k-labels-idx1-ubyte")
RAW_FASHION_MNIST = Path("data/raw/FashionMNIST/raw")
MAX_SOURCE_BUILDS = 10
IMAGE_VERSIONS = "image-versions.txt"  # in the wheels' folder: the image's packages the wheels need
IMAGE_VERSIONS_HEADER = ("# The image's packages that these wheels need, at the versions pip chose for them while making the\n"
                         "# pack. Where scripts/device_image.txt records a version read on the device, that one counts.\n")


class PackError(RuntimeError):
    """Making or checking the pack failed; the message says what and how to fix it."""


def normalized(name: str) -> str:
    """A project name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def image_packages(path: Path = IMAGE_PACKAGES) -> dict[str, str | None]:
    """The device image's packages: normalized name -> version where recorded (``name==version``), else None."""
    packages = {}
    for line in path.read_text().splitlines():
        for entry in line.partition("#")[0].split():
            name, _, version = entry.partition("==")
            packages[normalized(name)] = version or None
    return packages


def device_needs(pyproject: Path = ROOT / "pyproject.toml", image: dict | None = None) -> list[str]:
    """The requirements of pyproject.toml (with their version ranges) that the image does not satisfy by name,
    less :data:`NOT_ON_DEVICE`."""
    image = image_packages() if image is None else image
    requirements = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    names = {requirement: normalized(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0])
             for requirement in requirements}
    return [requirement for requirement, name in names.items() if name not in image and name not in NOT_ON_DEVICE]


def pip(*args: str) -> subprocess.CompletedProcess:
    """Run pip with the running Python; its output (both streams) in ``stdout``."""
    return subprocess.run([sys.executable, "-m", "pip", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def target_options(this_python: bool) -> list[str]:
    """pip's options for the wheels of the device's Python, or none for the running one."""
    if this_python:
        return []
    return ["--python-version", DEVICE_PYTHON, "--implementation", "cp",
            *(option for platform in DEVICE_PLATFORMS for option in ("--platform", platform))]


def download(requirements: list[str], folder: Path, this_python: bool) -> None:
    """Wheels of ``requirements`` and all they need into ``folder``. A need with no wheel is built here from its
    source, once, and must come out pure Python (``py3-none-any``) to serve another Python."""
    built = folder.parent / f"{folder.name}.built"
    built.mkdir(exist_ok=True)
    for _ in range(MAX_SOURCE_BUILDS):
        result = pip("download", "--only-binary=:all:", "--find-links", str(built), "-d", str(folder),
                     *target_options(this_python), *requirements)
        if result.returncode == 0:
            shutil.rmtree(built)
            return
        build_pure_wheel(requirement_without_wheel(result.stdout), built)
    raise PackError(f"more than {MAX_SOURCE_BUILDS} needs without wheels; see pip's output above")


def requirement_without_wheel(pip_error: str) -> str:
    """The requirement pip found no wheel for, from its error: named directly, or (when it made the resolution
    impossible) listed as having no matching distribution, with the first range a package asked of it."""
    direct = re.search(r"No matching distribution found for (\S+)", pip_error)
    if direct:
        return direct.group(1)
    listed = re.search(r"no matching distributions available for your environment:\s+(\S+)", pip_error)
    if not listed:
        raise PackError(f"pip download failed:\n{pip_error[-3000:]}")
    asked = re.search(rf"depends on ({re.escape(listed.group(1))}\S*)", pip_error, flags=re.IGNORECASE)
    return asked.group(1) if asked else listed.group(1)


def build_pure_wheel(requirement: str, folder: Path) -> None:
    """Build ``requirement`` from its source distribution into ``folder``; it must be pure Python."""
    print(f"  {requirement} has no wheel for the target: building it here from its source", flush=True)
    before = set(folder.glob("*.whl"))
    name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
    result = pip("wheel", "--quiet", "--no-deps", "--no-binary", name, "-w", str(folder), requirement)
    made = set(folder.glob("*.whl")) - before
    if result.returncode != 0 or not made:
        raise PackError(f"no wheel of {requirement} and building one failed:\n{result.stdout[-3000:]}")
    impure = [wheel.name for wheel in made if not wheel.name.endswith("-py3-none-any.whl")]
    if impure:
        raise PackError(f"{impure[0]} is not pure Python, so it cannot serve another Python; carry a wheel built "
                        f"for the device's Python {DEVICE_PYTHON} instead")


def wheel_name(wheel: Path) -> str:
    """The normalized project name of a wheel file."""
    return normalized(wheel.name.split("-")[0])


def make_wheels(out: Path, this_python: bool = False) -> list[Path]:
    """The wheelhouse in ``out``: :func:`device_needs` and what they need, less the image's packages (one version
    of each), and :data:`IMAGE_VERSIONS`: the image's packages they need, with the versions pip chose (the
    resolve test checks them against the image's recorded ones). Made in a temporary folder, moved into place."""
    image = image_packages()
    with tempfile.TemporaryDirectory(prefix=".wheels-", dir=out.parent if out.parent.exists() else None) as temp:
        folder = Path(temp) / "all"
        folder.mkdir()
        download(device_needs(image=image), folder, this_python)
        kept = Path(temp) / "kept"
        kept.mkdir()
        assumed = []
        for wheel in sorted(folder.glob("*.whl")):
            if wheel_name(wheel) not in image:
                shutil.move(wheel, kept / wheel.name)
            else:
                assumed.append(f"{wheel_name(wheel)}=={wheel.name.split('-')[1]}")
        (kept / IMAGE_VERSIONS).write_text(IMAGE_VERSIONS_HEADER + "\n".join(assumed) + "\n")
        names = [wheel_name(wheel) for wheel in kept.glob("*.whl")]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise PackError(f"two versions of {', '.join(twice)} in the wheelhouse: pip would refuse to install both")
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(kept, out)
    return sorted(out.glob("*.whl"))


def make_data(out: Path, raw: Path = ROOT / RAW_FASHION_MNIST, preset: int = 9) -> list[Path]:
    """The four Fashion-MNIST files of ``raw`` (verified by ``python -m arpl prepare-data``) as ``.xz`` in ``out``
    (``preset``: xz's level; 9 packs them smallest, 0 fastest)."""
    missing = [name for name in FASHION_MNIST_FILES if not (raw / name).is_file()]
    if missing:
        raise PackError(f"{raw} lacks {', '.join(missing)}: run `python -m arpl prepare-data` (scripts/setup.sh "
                        f"does) first")
    out.mkdir(parents=True, exist_ok=True)
    for name in FASHION_MNIST_FILES:
        target = out / f"{name}.xz"
        if target.exists() and target.stat().st_mtime >= (raw / name).stat().st_mtime:
            continue
        print(f"  compressing {name}", flush=True)
        partial = target.with_suffix(".xz.partial")
        with open(raw / name, "rb") as source, lzma.open(partial, "wb", preset=preset) as packed:
            shutil.copyfileobj(source, packed, 1 << 20)
        os.replace(partial, target)
    return [out / f"{name}.xz" for name in FASHION_MNIST_FILES]


def unpack_data(pack: Path = PACK / "fashion-mnist", raw: Path = ROOT / RAW_FASHION_MNIST) -> None:
    """Decompress the pack's Fashion-MNIST files into ``raw`` (``python -m arpl prepare-data`` then checks them)."""
    raw.mkdir(parents=True, exist_ok=True)
    for name in FASHION_MNIST_FILES:
        partial = raw / f".{name}.partial"
        with lzma.open(pack / f"{name}.xz", "rb") as packed, open(partial, "wb") as target:
            shutil.copyfileobj(packed, target, 1 << 20)
        os.replace(partial, raw / name)


def tree_bytes(root: Path = ROOT) -> int:
    """Bytes of the files a device call sends as the working tree: tracked, and untracked but not ignored."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return sum((root / name).stat().st_size for name in listed if name and (root / name).is_file())


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def size_report(root: Path = ROOT, pack: Path = PACK) -> list[str]:
    """What one device call carries (the tree and the pack), against :data:`CALL_LIMIT_MIB` less the margin;
    raises :class:`PackError` when it does not fit."""
    parts = {"working tree": tree_bytes(root), **{f"{pack.name}/{folder.name}": folder_bytes(folder)
                                                  for folder in sorted(pack.iterdir()) if folder.is_dir()}}
    total = sum(parts.values()) / 2**20
    lines = [f"  {name:<28} {size / 2**20:6.1f} MiB" for name, size in parts.items()]
    lines.append(f"  {'in all':<28} {total:6.1f} MiB of the {CALL_LIMIT_MIB:.0f} MiB a device call carries")
    if total > CALL_LIMIT_MIB - CALL_MARGIN_MIB:
        raise PackError("\n".join(lines) + f"\nmore than {CALL_LIMIT_MIB - CALL_MARGIN_MIB:.0f} MiB: leave out what "
                        f"the device does not need (docs/gpu.md)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", default="all", choices=["all", "wheels", "data", "size", "unpack-data"])
    parser.add_argument("--out", type=Path, help="wheels: their folder (default .device-pack/wheels)")
    parser.add_argument("--this-python", action="store_true", help="wheels for the running Python, not the device's")
    args = parser.parse_args(argv)
    try:
        if args.what == "unpack-data":
            unpack_data()
            print(f"Fashion-MNIST unpacked into {RAW_FASHION_MNIST}")
            return 0
        if args.what in ("all", "wheels"):
            target = "this Python" if args.this_python else f"CPython {DEVICE_PYTHON}, manylinux x86-64"
            print(f"==> wheels of what the device image lacks ({target})", flush=True)
            wheels = make_wheels(args.out or PACK / "wheels", args.this_python)
            print(f"  {len(wheels)} wheels, {sum(w.stat().st_size for w in wheels) / 2**20:.1f} MiB")
        if args.what in ("all", "data"):
            print("==> Fashion-MNIST, xz-compressed", flush=True)
            make_data(PACK / "fashion-mnist")
        if args.what in ("all", "size"):
            print("==> what a device call carries")
            print("\n".join(size_report()))
    except PackError as error:
        print(f"device_pack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
