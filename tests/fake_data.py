"""Small synthetic copies of every dataset the paper profiles read, in the exact on-disk layout of the real
source, so that the real loaders (the CIFAR, SVHN, folder, DomainNet and ImageNet readers) read them.

Layouts (under the profile's ``run.data_root``):

- ``mnist``, ``kmnist``: ``MNIST/raw/`` / ``KMNIST/raw/`` with the four decompressed idx files, as torchvision
  leaves them after its download;
- ``svhn``: ``svhn/train_32x32.mat`` and ``test_32x32.mat`` (``X`` of shape 32x32x3xN, ``y`` in 1..10);
- ``cifar10``, ``cifar100``: the pickled batches of ``cifar-10-batches-py/`` and ``cifar-100-python/``;
- ``tinyimagenet``: the official archive's ``tiny-imagenet-200/`` (``wnids.txt``, ``train/<wnid>/images``, a flat
  ``val/images`` with ``val/val_annotations.txt``, an empty ``test/images``);
- ``domainnet``: ``domainnet/<domain>/<class>/*.png`` with the ``<domain>_train.txt`` / ``_test.txt`` lists;
- ``imagenet-1k``: ``imagenet/train/<wnid>/*.JPEG`` and ``imagenet/val/<wnid>/*.JPEG`` (1,000 class folders)
  and ``imagenet-o/<wnid>/*.jpg``.

Every CIFAR and SVHN file is checked against torchvision's md5 (arpl.data.checksums), which synthetic files
cannot match: :func:`write_md5` records theirs, and ``tests/fake_md5_site/sitecustomize.py`` puts them into
arpl's and torchvision's lists in every process of a pipeline run (``ARPL_FAKE_MD5``), as the unit tests do with
``monkeypatch``.

Command line (used by ``scripts/gpu_check.sh``): ``python tests/fake_data.py [params.yaml]`` writes what the
profile in ``params.yaml`` reads and prints the environment to export.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from arpl.pipeline.params import Params

TRAIN_PER_CLASS = 4    # training images per class where a dataset has few classes
TEST_PER_CLASS = 2
MANY_CLASSES = 100     # from this many classes on, one training image per class and one test image
MD5_FILE = "fake_md5.json"
SITE = Path(__file__).resolve().parent / "fake_md5_site"


def _images(rng: np.random.Generator, labels: np.ndarray, size: int, channels: int = 3) -> np.ndarray:
    """uint8 images (N, size, size, channels): a colour per class plus noise, so a class is learnable."""
    colours = (np.arange(labels.max() + 1)[:, None] * np.array([37, 11, 53]) % 200 + 30)[:, :channels]
    noise = rng.integers(-25, 26, (len(labels), size, size, channels))
    return np.clip(colours[labels][:, None, None, :] + noise, 0, 255).astype(np.uint8)


def _labels(num_classes: int, train: bool) -> np.ndarray:
    if num_classes >= MANY_CLASSES:
        per_class = 1
    else:
        per_class = TRAIN_PER_CLASS if train else TEST_PER_CLASS
    return np.repeat(np.arange(num_classes), per_class)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _idx_bytes(array: np.ndarray) -> bytes:
    """An idx-ubyte file: magic 0x0000 08 <ndim>, big-endian dimensions, then the uint8 data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(root: Path, folder: str, seed: int = 0) -> dict:
    """MNIST-like idx files under ``root/<folder>/raw`` (no md5 to record: torchvision checks none)."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, train in (("train", True), ("t10k", False)):
        labels = _labels(10, train)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(_idx_bytes(_images(rng, labels, 28, 1)[..., 0]))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx_bytes(labels.astype(np.uint8)))
    return {}


def write_svhn(root: Path, seed: int = 1) -> dict:
    """SVHN's ``.mat`` files; returns torchvision's split_list entries with their md5."""
    import scipy.io

    rng = np.random.default_rng(seed)
    folder = root / "svhn"
    folder.mkdir(parents=True, exist_ok=True)
    md5s = {}
    for split, train in (("train", True), ("test", False)):
        labels = _labels(10, train)
        images = _images(rng, labels, 32).transpose(1, 2, 3, 0)
        path = folder / f"{split}_32x32.mat"
        scipy.io.savemat(path, {"X": images, "y": np.where(labels == 0, 10, labels)[:, None].astype(np.uint8)})
        md5s[split] = _md5(path)
    return {"svhn": md5s}


CIFAR = {  # name: (folder, train files, test files, meta file, label key, names key, classes)
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "batches.meta",
                "labels", "label_names", 10),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "meta", "fine_labels", "fine_label_names", 100),
}


def write_cifar(root: Path, name: str, seed: int = 2) -> dict:
    """CIFAR10's or CIFAR100's pickled batches; the training images are spread over the training files."""
    folder_name, train_files, test_files, meta, label_key, names_key, classes = CIFAR[name]
    rng = np.random.default_rng(seed)
    folder = root / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    md5s = {}
    for files, train in ((train_files, True), (test_files, False)):
        labels = rng.permutation(_labels(classes, train))
        for filename, part in zip(files, np.array_split(labels, len(files))):
            data = _images(rng, part, 32).transpose(0, 3, 1, 2).reshape(len(part), -1)
            (folder / filename).write_bytes(pickle.dumps({"data": data, label_key: part.tolist()}))
            md5s[filename] = _md5(folder / filename)
    (folder / meta).write_bytes(pickle.dumps({names_key: [f"class{i}" for i in range(classes)]}))
    md5s[meta] = _md5(folder / meta)
    return {name: md5s}


def _save_png(image: np.ndarray, path: Path, suffix_format: str | None = None) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format=suffix_format)


def write_tinyimagenet(root: Path, seed: int = 3) -> dict:
    """The official archive's layout: 200 wnids (unsorted in wnids.txt), flat ``val/images`` + annotations."""
    rng = np.random.default_rng(seed)
    base = root / "tiny-imagenet-200"
    wnids = [f"n{(i * 7919) % 10**8:08d}" for i in range(200)]
    base.mkdir(parents=True, exist_ok=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    order = np.argsort(wnids)  # ImageFolder sorts the wnids: class index = rank of the wnid
    rank = {wnids[i]: r for r, i in enumerate(order)}
    for wnid in wnids:
        images = _images(rng, _labels(200, True)[:1] * 0 + rank[wnid], 64)
        for k, image in enumerate(images):
            _save_png(image, base / "train" / wnid / "images" / f"{wnid}_{k}.JPEG", "JPEG")
        (base / "train" / wnid / f"{wnid}_boxes.txt").write_text(f"{wnid}_0.JPEG\t0\t0\t63\t63\n")
    lines = []
    for k, wnid in enumerate(wnids):
        _save_png(_images(rng, np.array([rank[wnid]]), 64)[0], base / "val" / "images" / f"val_{k}.JPEG", "JPEG")
        lines.append(f"val_{k}.JPEG\t{wnid}\t0\t0\t63\t63")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    (base / "test" / "images").mkdir(parents=True, exist_ok=True)
    return {}


def write_domainnet(root: Path, domains=("real", "clipart", "quickdraw"), seed: int = 4) -> dict:
    """DomainNet's 345 class folders per domain with one image per class and part (labels 0-334, the two
    halves of the paper), listed in ``<domain>_train.txt`` / ``<domain>_test.txt``."""
    rng = np.random.default_rng(seed)
    base = root / "domainnet"
    classes = [f"class_{i:03d}" for i in range(345)]
    for domain in domains:
        for name in classes:
            (base / domain / name).mkdir(parents=True, exist_ok=True)
        for part in ("train", "test"):
            lines = []
            for label, name in enumerate(classes[:335]):
                relative = f"{domain}/{name}/{part}_0.png"
                _save_png(_images(rng, np.array([label]), 20)[0], base / relative)
                lines.append(f"{relative} {label}")
            (base / f"{domain}_{part}.txt").write_text("\n".join(lines) + "\n")
    return {}


def write_imagenet(root: Path, seed: int = 5) -> dict:
    """ImageNet-1K's train/val ImageFolder trees (1,000 wnid folders, one small JPEG each) and ImageNet-O."""
    rng = np.random.default_rng(seed)
    wnids = [f"n{i:08d}" for i in range(1000)]
    for part in ("train", "val"):
        for i, wnid in enumerate(wnids):
            _save_png(_images(rng, np.array([i]), 24)[0], root / "imagenet" / part / wnid / f"{part}_0.JPEG", "JPEG")
    for k in range(2):
        _save_png(_images(rng, np.array([k]), 40)[0], root / "imagenet-o" / f"n9900000{k}" / f"o{k}.jpg", "JPEG")
    return {}


WRITERS = {
    "mnist": lambda root: write_idx(root, "MNIST"),
    "kmnist": lambda root: write_idx(root, "KMNIST", seed=7),
    "svhn": write_svhn,
    "cifar10": lambda root: write_cifar(root, "cifar10"),
    "cifar100": lambda root: write_cifar(root, "cifar100", seed=6),
    "tinyimagenet": write_tinyimagenet,
    "domainnet": write_domainnet,
    "imagenet": write_imagenet,
}
SOURCE_OF = {"cifar+10": "cifar10", "cifar+50": "cifar10", "imagenet-1k": "imagenet", "imagenet-o": "imagenet"}


def sources_read(params: Params) -> list[str]:
    """The :data:`WRITERS` a profile's datasets need: its training set (CIFAR+N: CIFAR10 and CIFAR100), and each
    out-of-distribution set read from files."""
    dataset = params.data.dataset
    names = [dataset, *params.ood.sets] + (["cifar100"] if dataset.startswith("cifar+") else [])
    sources = [SOURCE_OF.get(name, "domainnet" if name.startswith("domainnet") else name) for name in names]
    return [source for source in dict.fromkeys(sources) if source in WRITERS]


def write_profile_data(params: Params, root: Path) -> Path:
    """Write every dataset ``params`` reads into ``root`` and the md5 file of the CIFAR/SVHN files; returns
    the md5 file (point ``ARPL_FAKE_MD5`` at it)."""
    md5s = {}
    for source in sources_read(params):
        md5s.update(WRITERS[source](root))
    return write_md5(md5s, root / MD5_FILE)


def write_md5(md5s: dict, path: Path) -> Path:
    """Save ``{dataset: {file: md5}}`` for ``tests/fake_md5_site/sitecustomize.py``."""
    path.write_text(json.dumps(md5s, indent=1))
    return path


def fake_environment(md5_file: Path) -> dict[str, str]:
    """The environment that makes every process of a pipeline run accept the fake files' md5."""
    import os

    paths = [str(SITE), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"ARPL_FAKE_MD5": str(md5_file), "PYTHONPATH": os.pathsep.join(paths)}


if __name__ == "__main__":
    from arpl.pipeline.params import load_params

    params = load_params(sys.argv[1] if len(sys.argv) > 1 else "params.yaml")
    md5_file = write_profile_data(params, Path(params.run.data_root))
    for key, value in fake_environment(md5_file.resolve()).items():
        print(f"export {key}={value}")
