"""A Python like the lent GPU machine's, for the device-mode dry run (tests/test_device_pack.py).

The device's python3 has torch, torchvision and its image's other packages (scripts/device_image.txt), and none
of dvc, papermill, jupytext, nbconvert, ipykernel. :func:`image_like_python` makes a virtual environment without
pip whose only packages are those of this project's .venv that the image also has, linked (not copied) from
.venv's site-packages; scripts/gpu_check.sh then installs the pack's wheels into it offline, as on the device.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from device_pack import image_packages, normalized  # noqa: E402


def top_level_entries(distribution: importlib.metadata.Distribution) -> set[str]:
    """The names a distribution puts directly into site-packages (packages, modules, its .dist-info folder)."""
    entries = {Path(str(path)).parts[0] for path in distribution.files or ()}
    return {entry for entry in entries if entry not in ("..", "__pycache__")}


def image_like_python(site_packages: Path, target: Path) -> Path:
    """A venv in ``target`` whose packages are the image's ones found in ``site_packages``; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    own_site = Path(subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
    image = image_packages()
    for distribution in importlib.metadata.distributions(path=[str(site_packages)]):
        if normalized(distribution.metadata["Name"]) not in image:
            continue
        for entry in top_level_entries(distribution):
            source, link = site_packages / entry, own_site / entry
            if source.exists() and not link.exists():
                link.symlink_to(source)
    return python
