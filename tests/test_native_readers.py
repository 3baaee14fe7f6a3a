"""The readers that replace torchvision's for local files (importing torchvision takes seconds): CIFAR10,
CIFAR100, SVHN and ImageFolder trees, on small files in the real formats (tests/fake_data.py), give exactly what
torchvision's own classes give; the md5 lists copied from torchvision are its lists; and reading these sets does
not import torchvision.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10, CIFAR100, SVHN, ImageFolder
from torchvision.datasets import folder as torchvision_folder

from arpl.data import checksums, folders, load_image_set, sources
from arpl.data.files import ImageFiles, decode_all
from tests.fake_data import write_cifar, write_svhn, write_tinyimagenet

ROOT = Path(__file__).resolve().parents[1]


def accept_md5(monkeypatch, md5s: dict) -> None:
    """Point arpl's md5 lists and torchvision's at the fake files (``md5s`` as tests/fake_data.py returns them:
    ``{dataset: {file, or SVHN's split: md5}}``)."""
    for name, parts in checksums.TORCHVISION_FILES.items():
        fake = md5s.get(name, {})
        for part, entries in parts.items():
            monkeypatch.setitem(parts, part, [(filename, fake.get(part if name == "svhn" else filename, md5))
                                              for filename, md5 in entries])
    for name, cls in (("cifar10", CIFAR10), ("cifar100", CIFAR100)):
        fake = md5s.get(name, {})
        for attribute in ("train_list", "test_list"):
            monkeypatch.setattr(cls, attribute, [[filename, fake.get(filename, md5)]
                                                 for filename, md5 in getattr(cls, attribute)])
        monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": fake.get(cls.meta["filename"], cls.meta["md5"])})
    fake = md5s.get("svhn", {})
    monkeypatch.setattr(SVHN, "split_list", {split: [url, filename, fake.get(split, md5)]
                                             for split, (url, filename, md5) in SVHN.split_list.items()})


def test_md5_lists_are_torchvisions():
    """The copied file lists (names, md5s, order, folders) and CIFAR's meta keys are torchvision's."""
    svhn = checksums.TORCHVISION_FILES["svhn"]
    for split in ("train", "test"):
        assert svhn[split] == [tuple(SVHN.split_list[split][1:])]
    assert svhn["meta"] == [] and checksums.TORCHVISION_FOLDERS["svhn"] == sources.TORCHVISION_SETS["svhn"][1]
    for name, cls in (("cifar10", CIFAR10), ("cifar100", CIFAR100)):
        files = checksums.TORCHVISION_FILES[name]
        assert files["train"] == [tuple(entry) for entry in cls.train_list]
        assert files["test"] == [tuple(entry) for entry in cls.test_list]
        assert files["meta"] == [(cls.meta["filename"], cls.meta["md5"])]
        assert checksums.TORCHVISION_FOLDERS[name] == cls.base_folder == sources.TORCHVISION_SETS[name][1]
        assert sources.CIFAR_CLASS_KEYS[name] == cls.meta["key"]


@pytest.mark.parametrize("name, cls", [("cifar10", CIFAR10), ("cifar100", CIFAR100)])
@pytest.mark.parametrize("train", [True, False])
def test_cifar_reads_as_torchvision(tmp_path, monkeypatch, name, cls, train):
    """CIFAR's pickles: the images, labels and class names of torchvision's class, byte for byte."""
    accept_md5(monkeypatch, write_cifar(tmp_path, name))
    native = load_image_set(name, tmp_path, train=train)
    reference = cls(str(tmp_path), train=train)
    assert torch.equal(native.images, torch.from_numpy(reference.data).permute(0, 3, 1, 2))
    assert torch.equal(native.labels, torch.tensor(reference.targets, dtype=torch.int64))
    assert native.classes == reference.classes and native.name == name


@pytest.mark.parametrize("train", [True, False])
def test_svhn_reads_as_torchvision(tmp_path, monkeypatch, train):
    """SVHN's .mat files: the images and labels (10 made 0) of torchvision's class, byte for byte."""
    accept_md5(monkeypatch, write_svhn(tmp_path))
    native = load_image_set("svhn", tmp_path, train=train)
    reference = SVHN(str(tmp_path / "svhn"), split="train" if train else "test")
    assert torch.equal(native.images, torch.from_numpy(reference.data))
    assert torch.equal(native.labels, torch.from_numpy(reference.labels))
    assert 0 in native.labels and native.classes == [str(digit) for digit in range(10)]


def write_odd_tree(root: Path) -> Path:
    """An ImageFolder tree with what the listing must get right: nested and linked folders, extensions in any
    case, files that are no images, a file beside the class folders, a class without images."""
    tree = root / "tree"
    for relative in ("b/x.PNG", "b/a.jpg", "b/m.png", "b/c.ppm", "b/k.pgm", "b/e.TIFF", "b/notes.txt", "b/sub/z.jpeg",
                     "b/sub/deeper/y.webp", "a/1.JPG", "a/0.bmp", "outside/linked/2.tif", "c/readme.md", "stray.png"):
        (tree / relative).parent.mkdir(parents=True, exist_ok=True)
        (tree / relative).write_bytes(b"")
    os.symlink(tree / "outside" / "linked", tree / "a" / "link")
    return tree


def test_folder_listing_is_torchvisions(tmp_path):
    """find_classes and make_dataset list the same classes and (path, index) pairs as torchvision's, and raise
    the same errors."""
    tree = write_odd_tree(tmp_path)
    assert folders.find_classes(tree) == torchvision_folder.find_classes(tree)
    class_to_idx = {"a": 0, "b": 1, "outside": 2}
    assert folders.make_dataset(str(tree), class_to_idx) == torchvision_folder.make_dataset(
        str(tree), class_to_idx, extensions=torchvision_folder.IMG_EXTENSIONS)
    with_empty = {**class_to_idx, "c": 3, "missing": 4}
    assert folders.make_dataset(str(tree), with_empty, allow_empty=True) == torchvision_folder.make_dataset(
        str(tree), with_empty, extensions=torchvision_folder.IMG_EXTENSIONS, allow_empty=True)
    with pytest.raises(FileNotFoundError) as expected:
        torchvision_folder.make_dataset(str(tree), with_empty, extensions=torchvision_folder.IMG_EXTENSIONS)
    with pytest.raises(FileNotFoundError, match="c, missing") as error:
        folders.make_dataset(str(tree), with_empty)
    assert str(error.value) == str(expected.value)
    (tmp_path / "flat").mkdir()
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        folders.find_classes(tmp_path / "flat")
    assert folders.IMG_EXTENSIONS == torchvision_folder.IMG_EXTENSIONS


def test_image_folder_reads_as_torchvision(tmp_path):
    """A folder dataset (TinyImageNet's training folders): the classes, labels and image order of torchvision's
    ImageFolder."""
    write_tinyimagenet(tmp_path)
    train = tmp_path / "tiny-imagenet-200" / "train"
    native = folders.load_image_folder(train, 16)
    reference = ImageFolder(str(train))
    assert native.classes == reference.classes
    assert torch.equal(native.labels, torch.tensor(reference.targets, dtype=torch.int64))
    files = np.array([os.path.relpath(path, train) for path, _ in reference.samples])
    assert torch.equal(native.images, decode_all(ImageFiles(train, files, 16)))


def test_reading_does_not_import_torchvision(tmp_path):
    """A process that reads CIFAR10, SVHN and an image folder through arpl's public loaders never imports
    torchvision."""
    md5s = {**write_cifar(tmp_path, "cifar10"), **write_svhn(tmp_path)}
    write_tinyimagenet(tmp_path)
    code = (
        "import json, sys\n"
        "from arpl.data import checksums, load_image_set\n"
        "md5s = json.loads(sys.argv[2])\n"
        "for name, parts in md5s.items():\n"
        "    for part, entries in checksums.TORCHVISION_FILES[name].items():\n"
        "        entries[:] = [(f, parts.get(part if name == 'svhn' else f, m)) for f, m in entries]\n"
        "for name in ('cifar10', 'svhn', 'tinyimagenet'):\n"
        "    load_image_set(name, sys.argv[1], train=True)\n"
        "assert 'torchvision' not in sys.modules, sorted(m for m in sys.modules if 'torchvision' in m)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path), json.dumps(md5s)], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
