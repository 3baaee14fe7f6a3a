"""Bad starts fail at once, with the fix: on a machine without a profile's data and without network,
``python -m arpl check`` and the pipeline's first stage name every missing dataset and how to get it, and a
download that fails halfway leaves nothing that a rerun takes for complete."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torchvision
import yaml

from arpl.data import DataNotFoundError, archives, folders, load_image_set
from arpl.pipeline.checks import check_data
from arpl.pipeline.params import Params
from arpl.pipeline.params.profiles import profile_params
from arpl.stages.download import download
from tests.fake_data import write_idx, write_tinyimagenet

ROOT = Path(__file__).resolve().parents[1]


def _params(profile: str, root: Path, download_on: bool = False) -> Params:
    params = profile_params(profile)
    params.run.data_root = str(root)
    params.data.download = download_on
    return params


@pytest.mark.parametrize("profile, names, fixes", [
    ("cifar+10", ["- cifar10: missing", "- cifar100: missing", "- svhn (OOD): missing"],
     ["cifar-10-batches-py", "cifar-100-python", "svhn", "download: true"]),
    ("tinyimagenet", ["tinyimagenet:"], ["tiny-imagenet-200.zip"]),
    ("mnist", ["mnist:"], ["MNIST", "download: true"]),
    ("domainnet", ["domainnet-real-A:", "domainnet-quickdraw-B (OOD):"], ["real.zip", "quickdraw.zip",
                                                                          "prepare-domainnet"]),
    ("imagenet", ["imagenet-1k:", "imagenet-o (OOD):"], ["ILSVRC2012_img_train.tar", "prepare-imagenet",
                                                         "imagenet-o.tar"]),
])
def test_check_names_every_missing_dataset_and_its_fix(profile, names, fixes, tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        check_data(_params(profile, tmp_path))
    message = str(error.value)
    for text in names + fixes:
        assert text in message, (text, message)


def test_with_download_on_check_says_what_the_pipeline_will_fetch(tmp_path):
    lines = check_data(_params("cifar10", tmp_path, download_on=True))
    assert any(line.startswith("--  cifar10: not under") and "data.download: true" in line for line in lines)


def test_download_stage_names_every_missing_dataset(tmp_path):
    params = _params("cifar+10", tmp_path / "downloads")
    with pytest.raises(DataNotFoundError) as error:
        download(params, tmp_path / "downloads")
    message = str(error.value)
    assert "3 dataset(s)" in message and all(name in message for name in ("cifar10", "cifar100", "svhn"))
    manifest = (tmp_path / "downloads" / "manifest.json").read_text()
    assert "missing" in manifest


def test_optional_ood_sets_do_not_stop_the_download_stage(tmp_path):
    params = _params("mnist", tmp_path / "downloads")
    params.ood.sets = ["kmnist"]  # the profile's SVHN and CIFAR100 are required sets (the cifar+10 case)
    write_idx(tmp_path / "downloads", "MNIST")
    manifest = download(params, tmp_path / "downloads")
    assert manifest["mnist"] == "present" and manifest["kmnist"].startswith("missing")


def test_check_and_repro_stop_within_seconds_without_data_or_network(tmp_path):
    """The real commands, as a user runs them in a fresh copy with the cifar10 profile and no data."""
    for name in ("dvc.yaml", "params.yaml"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "arpl", "profile", "cifar10"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["data"]["download"] = False
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    tic = time.monotonic()
    checked = subprocess.run([sys.executable, "-m", "arpl", "check"], cwd=tmp_path, env=env, capture_output=True,
                             text=True)
    fetched = subprocess.run([sys.executable, "-m", "arpl", "download"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
    assert time.monotonic() - tic < 60
    for result in (checked, fetched):
        assert result.returncode == 1, result.stdout + result.stderr
        assert "cifar-10-batches-py" in result.stderr and "svhn" in result.stderr, result.stderr


def _zip_of(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(folder.rglob("*")):
            handle.write(path, path.relative_to(folder.parent))
    return archive


def test_archive_download_failing_halfway_leaves_nothing(tmp_path, monkeypatch):
    """TinyImageNet's zip: a download that breaks off halfway leaves no tiny-imagenet-200/ behind (a rerun
    fetches again instead of training on part of it); a complete one unpacks in one piece."""
    write_tinyimagenet(tmp_path / "source")
    archive = _zip_of(tmp_path / "source" / "tiny-imagenet-200", tmp_path / "tiny-imagenet-200.zip")
    root = tmp_path / "downloads"

    def broken_download(url, root, filename=None, md5=None, **kwargs):
        (Path(root) / (filename or url.rsplit("/", 1)[-1])).write_bytes(archive.read_bytes()[:1000])
        raise OSError("connection reset")

    monkeypatch.setattr("torchvision.datasets.utils.download_url", broken_download)
    with pytest.raises(DataNotFoundError, match="connection reset"):
        load_image_set("tinyimagenet", root, train=True, download=True)
    assert not (root / "tiny-imagenet-200").exists() and list(root.iterdir()) == []

    def complete_download(url, root, filename=None, md5=None, **kwargs):
        (Path(root) / (filename or url.rsplit("/", 1)[-1])).write_bytes(archive.read_bytes())

    monkeypatch.setattr("torchvision.datasets.utils.download_url", complete_download)
    monkeypatch.setattr(folders, "TINYIMAGENET_MD5", None)
    assert len(load_image_set("tinyimagenet", root, train=True, download=True)) == 200
    assert [path.name for path in root.iterdir() if path.is_dir()] == ["tiny-imagenet-200"]


def test_archive_without_its_folder_is_refused(tmp_path, monkeypatch):
    def empty_zip(url, root, filename=None, md5=None, **kwargs):
        with zipfile.ZipFile(Path(root) / url.rsplit("/", 1)[-1], "w") as handle:
            handle.writestr("readme.txt", "nothing here")

    monkeypatch.setattr("torchvision.datasets.utils.download_url", empty_zip)
    with pytest.raises(DataNotFoundError, match="holds no imagenet-o/ folder"):
        archives.fetch_archive("https://example.org/imagenet-o.zip", tmp_path, "imagenet-o")
    assert list(tmp_path.iterdir()) == []


def test_idx_file_damaged_by_a_broken_extraction_is_fetched_again(tmp_path, monkeypatch):
    """MNIST: torchvision takes an existing file for complete; a truncated one (an extraction that broke off)
    is deleted and fetched again when downloads are on, and named with the fix when they are off."""
    write_idx(tmp_path, "MNIST")
    raw = tmp_path / "MNIST" / "raw"
    complete = {path: path.read_bytes() for path in raw.iterdir()}
    damaged = raw / "train-images-idx3-ubyte"
    damaged.write_bytes(complete[damaged][:-100])
    with pytest.raises(ValueError, match="truncated"):
        load_image_set("mnist", tmp_path, train=True, download=False)

    def refetch(self):  # what torchvision does: it writes only the files that do not exist
        for path, content in complete.items():
            if not path.exists():
                path.write_bytes(content)

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", refetch)
    assert len(load_image_set("mnist", tmp_path, train=True, download=True)) == 40
    assert damaged.read_bytes() == complete[damaged]
