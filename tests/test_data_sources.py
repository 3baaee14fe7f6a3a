"""Loaders of every dataset on small files written here in the exact layouts torchvision (or
ImageFolder) expects, Fashion-MNIST's resolution order, integrity checks, and the real installed
Fashion-MNIST. No network.

SVHN's and CIFAR's files are checked against torchvision's md5 lists, copied into
:data:`arpl.data.checksums.TORCHVISION_FILES`; the tests point those lists at the md5 of the files they write,
with ``monkeypatch``. tests/test_native_readers.py compares what is read with torchvision's own classes.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
import torchvision
from PIL import Image

from arpl.data import (DATASETS, ImageSet, checksums, dataset_source, ensure_fashion_mnist, folders, load_image_set,
                       sources)
from arpl.data.checksums import CorruptDataError, DataNotFoundError

ROOT = Path(__file__).resolve().parents[1]
IDX_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx-ubyte file: magic 0x0000 08 <ndim>, big-endian dimensions, then the uint8 data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def tiny_idx_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(20, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(10, dtype=np.uint8) * 3) % 10,
    }


def write_idx_folder(folder: Path, seed: int = 0) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = tiny_idx_arrays(seed)
    for name, array in arrays.items():
        (folder / name).write_bytes(idx_bytes(array))
    return arrays


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian-here")


def fake_fashion_md5(monkeypatch, arrays: dict[str, np.ndarray]) -> None:
    table = {name: hashlib.md5(idx_bytes(array)).hexdigest() for name, array in arrays.items()}
    monkeypatch.setitem(checksums.RAW_MD5, "fashion-mnist", table)


# --- MNIST-like idx datasets -------------------------------------------------------------------

@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("kmnist", "KMNIST")])
def test_idx_datasets_load_as_torchvision_reads_them(tmp_path, name, folder):
    """The MNIST-format sets are read from their IDX files without torchvision (slow to import): the same
    images, labels and class names as torchvision's own classes give."""
    arrays = write_idx_folder(tmp_path / folder / "raw")
    train = load_image_set(name, tmp_path, train=True)
    test = load_image_set(name, tmp_path, train=False)
    assert train.images.shape == (20, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (10, 1, 28, 28)
    assert torch.equal(train.images[:, 0], torch.from_numpy(arrays["train-images-idx3-ubyte"]))
    assert torch.equal(test.labels, torch.from_numpy(arrays["t10k-labels-idx1-ubyte"]).long())
    assert train.labels.dtype == torch.int64
    reference = getattr(torchvision.datasets, sources.TORCHVISION_SETS[name][0])(str(tmp_path), train=True)
    assert torch.equal(train.images[:, 0], reference.data) and torch.equal(train.labels, reference.targets)
    assert train.classes == reference.classes and train.name == name


def test_missing_idx_dataset_names_path_and_fix(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        load_image_set("mnist", tmp_path, train=True)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "train-images-idx3-ubyte" in message
    assert "download: true" in message
    assert isinstance(error.value, FileNotFoundError)


def test_failed_download_is_reported(tmp_path, monkeypatch):
    def offline(self):
        raise RuntimeError("no route to host")

    monkeypatch.setattr(torchvision.datasets.KMNIST, "download", offline)
    with pytest.raises(DataNotFoundError, match="no route to host"):
        load_image_set("kmnist", tmp_path, train=True, download=True)


def test_truncated_idx_file_is_corrupt(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_idx_folder(raw)
    damaged = raw / "train-images-idx3-ubyte"
    damaged.write_bytes(damaged.read_bytes()[:-100])
    with pytest.raises(CorruptDataError) as error:
        load_image_set("mnist", tmp_path, train=True)
    assert str(damaged) in str(error.value) and "delete" in str(error.value)


# --- Fashion-MNIST resolution order -----------------------------------------------------------

def test_fashion_mnist_from_materialised_root(tmp_path, monkeypatch, no_debian):
    arrays = write_idx_folder(tmp_path / "FashionMNIST" / "raw")
    fake_fashion_md5(monkeypatch, arrays)
    assert ensure_fashion_mnist(tmp_path) == tmp_path / "FashionMNIST" / "raw"
    train = load_image_set("fashion-mnist", tmp_path, train=True)
    assert len(train) == 20 and train.classes[0] == "T-shirt/top"
    assert torch.equal(train.images[:, 0], torch.from_numpy(arrays["train-images-idx3-ubyte"]))


def test_fashion_mnist_from_debian_folder(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    debian.mkdir()
    arrays = tiny_idx_arrays()
    for name, array in arrays.items():
        (debian / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", debian)
    fake_fashion_md5(monkeypatch, arrays)
    root = tmp_path / "data"
    test = load_image_set("fashion-mnist", root, train=False)
    assert torch.equal(test.labels, torch.from_numpy(arrays["t10k-labels-idx1-ubyte"]).long())
    raw = root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_NAMES)  # no temporary files left
    assert md5(raw / "train-images-idx3-ubyte") == checksums.RAW_MD5["fashion-mnist"]["train-images-idx3-ubyte"]


def test_damaged_debian_archive_leaves_nothing_behind(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    debian.mkdir()
    arrays = tiny_idx_arrays()
    for name, array in arrays.items():
        (debian / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    fake_fashion_md5(monkeypatch, arrays)
    (debian / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\0\0\x08\x01garbage"))
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", debian)
    with pytest.raises(CorruptDataError, match="reinstall"):
        ensure_fashion_mnist(tmp_path / "data")
    assert not (tmp_path / "data" / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").exists()
    assert not list((tmp_path / "data" / "FashionMNIST" / "raw").glob("*.partial"))


def test_fashion_mnist_nowhere_lists_places_and_fixes(tmp_path, no_debian):
    with pytest.raises(DataNotFoundError) as error:
        load_image_set("fashion-mnist", tmp_path / "data", train=True)
    message = str(error.value)
    assert str(tmp_path / "data" / "FashionMNIST" / "raw") in message
    assert str(tmp_path / "no-debian-here") in message
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert "download: true" in message


def test_fashion_mnist_download_path(tmp_path, monkeypatch, no_debian):
    arrays = tiny_idx_arrays()
    fake_fashion_md5(monkeypatch, arrays)

    def fake_download(self):  # what torchvision's download leaves behind, without the network
        write_idx_folder(Path(self.raw_folder))

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", fake_download)
    assert len(load_image_set("fashion-mnist", tmp_path, train=True, download=True)) == 20

    def offline(self):
        raise RuntimeError("network unreachable")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", offline)
    with pytest.raises(DataNotFoundError, match="network unreachable"):
        ensure_fashion_mnist(tmp_path / "elsewhere", download=True)


def test_corrupt_fashion_mnist_file_is_named(tmp_path, monkeypatch, no_debian):
    raw = tmp_path / "FashionMNIST" / "raw"
    fake_fashion_md5(monkeypatch, write_idx_folder(raw))
    damaged = raw / "train-labels-idx1-ubyte"
    content = bytearray(damaged.read_bytes())
    content[-1] ^= 0xFF
    damaged.write_bytes(bytes(content))
    with pytest.raises(CorruptDataError) as error:
        load_image_set("fashion-mnist", tmp_path, train=True)
    message = str(error.value)
    expected = checksums.RAW_MD5["fashion-mnist"]["train-labels-idx1-ubyte"]
    assert str(damaged) in message and expected in message and md5(damaged) in message
    assert "delete" in message


def test_real_fashion_mnist_from_debian_package(tmp_path):
    """The installed dataset-fashion-mnist package (on every machine of this project, CI included)."""
    debian = Path(sources.DEBIAN_FASHION_MNIST_DIR)
    if not all((debian / f"{name}.gz").is_file() for name in IDX_NAMES):
        pytest.fail(f"Fashion-MNIST is not installed in {debian}; run: {sources.APT_HINT}")
    train = load_image_set("fashion-mnist", tmp_path, train=True)
    test = load_image_set("fashion-mnist", tmp_path, train=False)
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    assert abs(train.images.float().mean().item() / 255 - 0.286) < 0.001
    checksums.verify_files("fashion-mnist", tmp_path)


# --- SVHN and CIFAR ----------------------------------------------------------------------------

def test_svhn_mat_files(tmp_path, monkeypatch):
    """SVHN's .mat files: X (32, 32, 3, N) becomes [N, 3, 32, 32], SVHN's label 10 the digit 0."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "svhn"
    folder.mkdir()
    contents = {}
    for split, count in (("train", 7), ("test", 5)):
        images = rng.integers(0, 256, (32, 32, 3, count), dtype=np.uint8)
        digits = np.arange(1, count + 1, dtype=np.uint8) % 10 + 1  # 1..10, 10 = digit 0
        path = folder / f"{split}_32x32.mat"
        scipy.io.savemat(path, {"X": images, "y": digits[:, None]})
        monkeypatch.setitem(checksums.TORCHVISION_FILES["svhn"], split, [(path.name, md5(path))])
        contents[split] = (images, digits)
    train = load_image_set("svhn", tmp_path, train=True)
    test = load_image_set("svhn", tmp_path, train=False)
    assert train.images.shape == (7, 3, 32, 32) and len(test) == 5
    images, digits = contents["train"]
    assert torch.equal(train.images[2], torch.from_numpy(images[:, :, :, 2].transpose(2, 0, 1).copy()))
    assert train.labels.tolist() == [d % 10 for d in digits.tolist()]
    assert train.classes == [str(d) for d in range(10)]


def write_cifar(root: Path, name: str, label_key: str, names_key: str, num_classes: int, monkeypatch) -> dict:
    """Write the pickles of ``name`` (cifar10 or cifar100) and point its md5 lists at them."""
    rng = np.random.default_rng(2)
    folder = root / checksums.TORCHVISION_FOLDERS[name]
    folder.mkdir(parents=True)
    files = checksums.TORCHVISION_FILES[name]
    written = {}

    def write(filename: str, entry: dict) -> tuple[str, str]:
        path = folder / filename
        path.write_bytes(pickle.dumps(entry))
        written[filename] = entry
        return filename, md5(path)

    def batch(count: int) -> dict:
        return {"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                label_key: rng.integers(0, num_classes, count).tolist()}

    monkeypatch.setitem(files, "train", [write(filename, batch(3)) for filename, _ in files["train"]])
    monkeypatch.setitem(files, "test", [write(filename, batch(4)) for filename, _ in files["test"]])
    names = {names_key: [f"class{i}" for i in range(num_classes)]}
    monkeypatch.setitem(files, "meta", [write(filename, names) for filename, _ in files["meta"]])
    return written


@pytest.mark.parametrize("name, label_key, names_key, num_classes", [
    ("cifar10", "labels", "label_names", 10),
    ("cifar100", "fine_labels", "fine_label_names", 100),
])
def test_cifar_pickles(tmp_path, monkeypatch, name, label_key, names_key, num_classes):
    """CIFAR's pickled batches: the rows of ``data`` become [3, 32, 32] images, in the order of the batches."""
    written = write_cifar(tmp_path, name, label_key, names_key, num_classes, monkeypatch)
    train = load_image_set(name, tmp_path, train=True)
    test = load_image_set(name, tmp_path, train=False)
    train_files = checksums.TORCHVISION_FILES[name]["train"]
    assert len(train) == 3 * len(train_files) and len(test) == 4
    assert train.images.shape[1:] == (3, 32, 32) and train.images.dtype == torch.uint8
    first = written[train_files[0][0]]
    assert torch.equal(train.images[1], torch.from_numpy(first["data"][1].reshape(3, 32, 32)))
    assert train.labels[:3].tolist() == first[label_key]
    assert len(train.classes) == num_classes and train.classes[0] == "class0"


def test_corrupt_cifar_file_is_named(tmp_path, monkeypatch):
    write_cifar(tmp_path, "cifar10", "labels", "label_names", 10, monkeypatch)
    damaged = tmp_path / "cifar-10-batches-py" / "test_batch"
    damaged.write_bytes(damaged.read_bytes() + b"x")
    with pytest.raises(CorruptDataError, match="test_batch"):
        load_image_set("cifar10", tmp_path, train=False)


def test_missing_cifar_names_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="cifar-100-python"):
        load_image_set("cifar100", tmp_path, train=True)


# --- TinyImageNet (ImageFolder) ----------------------------------------------------------------

WNIDS = ["n02124075", "n01443537", "n09193705"]  # deliberately unsorted
COLOURS = {"n01443537": (250, 10, 10), "n02124075": (10, 250, 10), "n09193705": (10, 10, 250)}


def write_tinyimagenet(root: Path) -> Path:
    base = root / "tiny-imagenet-200"
    (base / "wnids.txt").parent.mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    for wnid in WNIDS:
        images = base / "train" / wnid / "images"
        images.mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (64, 64), COLOURS[wnid]).save(images / f"{wnid}_{k}.JPEG")
        (base / "train" / wnid / f"{wnid}_boxes.txt").write_text(f"{wnid}_0.JPEG\t0\t0\t63\t63\n")
    (base / "val" / "images").mkdir(parents=True)
    lines = []
    for k, wnid in enumerate(WNIDS * 2):
        Image.new("RGB", (64, 64), COLOURS[wnid]).save(base / "val" / "images" / f"val_{k}.JPEG")
        lines.append(f"val_{k}.JPEG\t{wnid}\t0\t0\t63\t63")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    (base / "test" / "images").mkdir(parents=True)
    return base


def test_tinyimagenet_prepare_and_load(tmp_path, monkeypatch):
    base = write_tinyimagenet(tmp_path)
    train = load_image_set("tinyimagenet", tmp_path, train=True)
    val = load_image_set("tinyimagenet", tmp_path, train=False)
    assert not (base / "val" / "images").exists()
    assert sorted(p.name for p in (base / "val" / "n01443537" / "images").iterdir()) == ["val_1.JPEG", "val_4.JPEG"]
    assert train.classes == sorted(WNIDS) and val.classes == sorted(WNIDS)
    assert train.images.shape == (6, 3, 64, 64) and val.images.shape == (6, 3, 64, 64)
    for image_set in (train, val):
        for image, label in zip(image_set.images, image_set.labels):
            colour = torch.tensor(COLOURS[image_set.classes[label]], dtype=torch.float)
            assert torch.allclose(image.float().mean(dim=(1, 2)), colour, atol=6)
    assert (base / "train_64px.npz").is_file() and (base / "val_64px.npz").is_file()
    assert folders.prepare_tinyimagenet(tmp_path) == base  # idempotent

    def no_decoding(*args):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(folders, "decode_all", no_decoding)
    again = load_image_set("tinyimagenet", tmp_path, train=True)
    assert torch.equal(again.images, train.images) and torch.equal(again.labels, train.labels)


def test_image_folder_resizes_and_rebuilds_stale_cache(tmp_path):
    base = write_tinyimagenet(tmp_path)
    small = folders.load_image_folder(base / "train", 32)
    assert small.images.shape == (6, 3, 32, 32) and (base / "train_32px.npz").is_file()
    extra = base / "train" / "n01443537" / "images" / "extra.JPEG"
    Image.new("RGB", (64, 64), (0, 0, 0)).save(extra)
    assert len(folders.load_image_folder(base / "train", 32)) == 7


def test_tinyimagenet_missing_names_download_url(tmp_path):
    with pytest.raises(DataNotFoundError, match="http://cs231n.stanford.edu/tiny-imagenet-200.zip"):
        load_image_set("tinyimagenet", tmp_path, train=True)


# --- OOD-only sets -----------------------------------------------------------------------------

def test_digits_are_upscaled_sklearn_digits(tmp_path):
    digits = load_image_set("digits", tmp_path, train=False)
    assert digits.images.shape == (1797, 1, 28, 28) and digits.images.dtype == torch.uint8
    assert digits.images.max() >= 250 and digits.classes == [str(d) for d in range(10)]
    assert torch.equal(load_image_set("digits", tmp_path, train=True).images, digits.images)


def test_digits_are_read_as_sklearn_reads_them_without_importing_it():
    """arpl.data.generated reads scikit-learn's digits file itself (importing scikit-learn takes seconds a stage):
    the same pixels and labels as ``sklearn.datasets.load_digits``, upscaled as before."""
    from sklearn.datasets import load_digits as sklearn_digits

    from arpl.data.generated import load_digits
    from arpl.data.transforms import to_size

    bunch, digits = sklearn_digits(), load_digits()
    pixels = torch.from_numpy(bunch.images).float() * (255.0 / 16.0)
    assert torch.equal(digits.images, to_size(pixels.round().clamp(0, 255).to(torch.uint8).unsqueeze(1), 28))
    assert digits.labels.tolist() == bunch.target.tolist()
    code = "import sys; from arpl.data.generated import load_digits; load_digits(); print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("name, mean, std", [("gaussian-noise", 0.5, 0.24), ("uniform-noise", 0.5, 0.289)])
def test_noise_sets(tmp_path, name, mean, std):
    noise = load_image_set(name, tmp_path, size=32, channels=3)
    assert noise.images.shape == (1000, 3, 32, 32) and noise.labels.unique().tolist() == [0]
    values = noise.images.float() / 255
    assert abs(values.mean().item() - mean) < 0.01 and abs(values.std().item() - std) < 0.01
    assert torch.equal(load_image_set(name, tmp_path, size=32, channels=3).images, noise.images)
    assert load_image_set(name, tmp_path, count=5).images.shape == (5, 1, 28, 28)


def test_load_image_set_rejects_bad_requests(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        load_image_set("imagenet", tmp_path)
    with pytest.raises(ValueError, match="count"):
        load_image_set("digits", tmp_path, count=3)


def test_resize_on_load(tmp_path):
    digits = load_image_set("digits", tmp_path, size=32, channels=3)
    assert digits.images.shape == (1797, 3, 32, 32)


# --- ImageSet and the registry -----------------------------------------------------------------

def test_image_set_subset_and_validation():
    images = torch.arange(5, dtype=torch.uint8).view(5, 1, 1, 1).expand(5, 1, 2, 2).contiguous()
    image_set = ImageSet(images, torch.tensor([0, 1, 0, 1, 2]), ["a", "b", "c"], "toy")
    part = image_set.subset([4, 0])
    assert len(part) == 2 and part.labels.tolist() == [2, 0] and part.images[0, 0, 0, 0] == 4
    assert part.classes == ["a", "b", "c"] and part.name == "toy"
    with pytest.raises(ValueError, match="uint8"):
        ImageSet(images.float(), torch.zeros(5, dtype=torch.int64), ["a"])
    with pytest.raises(ValueError, match="int64"):
        ImageSet(images, torch.zeros(4, dtype=torch.int64), ["a"])


def test_registry_facts():
    fashion = getattr(torchvision.datasets, sources.TORCHVISION_SETS["fashion-mnist"][0])
    assert fashion is torchvision.datasets.FashionMNIST
    assert sources.MNIST_FORMAT_CLASSES["fashion-mnist"] == torchvision.datasets.FashionMNIST.classes
    assert (dataset_source("cifar100").num_classes, dataset_source("tinyimagenet").num_classes) == (100, 200)
    assert (dataset_source("svhn").size, dataset_source("svhn").channels) == (32, 3)
    assert dataset_source("tinyimagenet").size == 64 and dataset_source("mnist").channels == 1
    assert not dataset_source("digits").open_set and dataset_source("cifar10").open_set
    assert dataset_source("cifar+10").images_of == "cifar10" and dataset_source("cifar+50").unknowns_from == "cifar100"
    assert DATASETS.names()[:2] == ["fashion-mnist", "mnist"] and "imagenet-o" in DATASETS
