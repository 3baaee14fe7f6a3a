"""Images decoded lazily from files: eval and training decodes, lazy subsets, parallel decoding, and
StreamBatches matching Batches (order, batches, DDP shards) with worker-independent augmentation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from arpl.data.batches import Batches, epoch_order
from arpl.data.checksums import CorruptDataError, DataNotFoundError
from arpl.data.files import (FileDataset, ImageFiles, StreamBatches, decode_all, default_workers, eval_batches,
                             random_resized_crop_box, sample_seed)

SIZES = [(40, 30), (25, 50), (33, 33), (64, 20), (30, 45), (50, 50),
         (41, 29), (20, 64), (36, 24), (28, 28), (45, 31), (27, 39)]  # (width, height)
CLASSES = ["cat", "dog", "eel"]
SIDE = 16


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[Path, list[str], torch.Tensor]:
    """An ImageFolder tree of 12 random-pixel PNGs of varied shapes, 4 per class."""
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(0)
    files, labels = [], []
    for i, (width, height) in enumerate(SIZES):
        label = i % len(CLASSES)
        (root / CLASSES[label]).mkdir(exist_ok=True)
        name = f"{CLASSES[label]}/image_{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(root / name)
        files.append(name)
        labels.append(label)
    return root, files, torch.tensor(labels)


@pytest.fixture(scope="module")
def images(folder) -> ImageFiles:
    root, files, _ = folder
    return ImageFiles(root, files, SIDE)


def brute_force(path: Path, size: int, fraction: float, mode: str = "RGB") -> torch.Tensor:
    """Centred square crop of side round(fraction * short side), bilinear resize, as uint8 [C, H, W]."""
    image = Image.open(path).convert(mode)
    width, height = image.size
    side = max(1, round(fraction * min(width, height)))
    left, top = (width - side) // 2, (height - side) // 2
    pixels = np.array(image.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR))
    tensor = torch.from_numpy(pixels)
    return tensor.unsqueeze(0) if tensor.dim() == 2 else tensor.permute(2, 0, 1)


@pytest.mark.parametrize("fraction", [1.0, 0.875, 0.5])
def test_eval_decode_is_centre_crop_then_bilinear_resize(folder, fraction):
    root, files, _ = folder
    images = ImageFiles(root, files, SIDE, crop_fraction=fraction)
    for i, name in enumerate(files):
        decoded = images[i]
        assert decoded.dtype == torch.uint8 and decoded.shape == (3, SIDE, SIDE)
        assert torch.equal(decoded, brute_force(root / name, SIDE, fraction))
        assert torch.equal(images.decode(i), decoded)


def test_crop_fraction_keeps_only_the_centre(tmp_path):
    pixels = np.zeros((40, 60, 3), dtype=np.uint8)  # red frame 10 px wide around a blue 20x40 centre
    pixels[:, :, 0] = 255
    pixels[10:30, 10:50] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "framed.png")
    inner = ImageFiles(tmp_path, ["framed.png"], 8, crop_fraction=0.5)[0]  # 20x20 centre square
    assert torch.equal(inner, torch.tensor([0, 0, 255], dtype=torch.uint8).view(3, 1, 1).expand(3, 8, 8))
    whole = ImageFiles(tmp_path, ["framed.png"], 8)[0]  # 40x40 square: frame at top and bottom
    assert whole[0, 0].eq(255).all() and whole[2, 4, 4] == 255


def test_greyscale_decode(folder):
    root, files, _ = folder
    grey = ImageFiles(root, files, SIDE, channels=1)
    assert grey.shape == (12, 1, SIDE, SIDE)
    assert torch.equal(grey[1], brute_force(root / files[1], SIDE, 1.0, mode="L"))
    assert grey.decode_train(1, torch.Generator().manual_seed(0)).shape == (1, SIDE, SIDE)


def test_lazy_indexing_selects_files(images, folder):
    _, files, _ = folder
    assert images.shape == (12, 3, SIDE, SIDE) and len(images) == 12 and images.dtype == torch.uint8
    assert images.dim() == 4 and "12 files" in repr(images)
    cases = {
        "slice": (slice(2, 9, 3), [2, 5, 8]),
        "list": ([7, 0, 7], [7, 0, 7]),
        "array": (np.array([3, 1]), [3, 1]),
        "tensor": (torch.tensor([11, 4, -1]), [11, 4, 11]),
        "mask": (torch.arange(12) % 4 == 0, [0, 4, 8]),
        "numpy mask": (np.arange(12) >= 10, [10, 11]),
        "empty": ([], []),
    }
    for name, (index, expected) in cases.items():
        subset = images[index]
        assert isinstance(subset, ImageFiles), name
        assert list(subset.files) == [files[i] for i in expected], name
        assert (subset.root, subset.size, subset.channels, subset.crop_fraction) == \
            (images.root, images.size, images.channels, images.crop_fraction)
    assert torch.equal(images[[5, 2]][1], images[2])
    assert torch.equal(images[torch.tensor(3)], images[3]) and torch.equal(images[np.int64(-1)], images[11])


def test_resized_is_lazy_and_decodes_at_the_new_size(images, folder):
    root, files, _ = folder
    small = images.resized(8, channels=1)
    assert small.shape == (12, 1, 8, 8) and list(small.files) == files and images.size == SIDE
    assert torch.equal(small[4], brute_force(root / files[4], 8, 1.0, mode="L"))
    assert images.resized(8).channels == 3


def test_decode_all_is_the_same_with_and_without_workers(images):
    serial = decode_all(images, workers=0, batch_size=5)
    assert serial.shape == (12, 3, SIDE, SIDE) and serial.dtype == torch.uint8
    assert torch.equal(serial, torch.stack([images[i] for i in range(12)]))
    assert torch.equal(decode_all(images, workers=2, batch_size=5), serial)
    batches = list(eval_batches(images, batch_size=5, workers=0))
    assert [len(batch) for batch in batches] == [5, 5, 2]
    assert torch.equal(torch.cat(batches), serial)
    assert default_workers() >= 0


def labelled(batches) -> list[list[int]]:
    return [y.tolist() for _, y in batches]


@pytest.mark.parametrize("shuffle, drop_last", [(True, False), (False, False), (True, True)])
def test_stream_batches_match_in_memory_batches(images, folder, shuffle, drop_last):
    labels = torch.arange(12)  # label = index, so batches reveal their indices
    decoded = decode_all(images, workers=0)
    memory = Batches(decoded, labels, batch_size=5, shuffle=shuffle, drop_last=drop_last, seed=3)
    plain = StreamBatches(images, labels, batch_size=5, shuffle=shuffle, drop_last=drop_last, seed=3,
                          workers=0, augment=False)
    augmented = StreamBatches(images, labels, batch_size=5, shuffle=shuffle, drop_last=drop_last, seed=3,
                              workers=0)
    assert len(plain) == len(memory) and plain.shard_size == memory.shard_size
    assert torch.equal(plain.order(2), memory.order(2))
    assert labelled(plain.epoch(2)) == labelled(memory.epoch(2)) == labelled(augmented.epoch(2))
    for (x, y), (x_memory, y_memory) in zip(plain.epoch(2), memory.epoch(2)):
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert torch.equal(x, x_memory) and torch.equal(y, y_memory)
    x_augmented = torch.cat([x for x, _ in augmented.epoch(2)])
    assert x_augmented.shape == torch.cat([x for x, _ in memory.epoch(2)]).shape
    assert 0.0 <= x_augmented.min() and x_augmented.max() <= 1.0
    real = folder[2]
    assert [y for _, y in StreamBatches(images, real, 12, shuffle=False, workers=0, augment=False)][0].tolist() \
        == real.tolist()


def test_epoch_order_is_what_batches_order_was():
    for count, world_size, rank in [(50, 1, 0), (50, 3, 2), (7, 2, 1)]:
        order = epoch_order(count, True, 3, 4, rank, world_size)
        shard = math.ceil(count / world_size)
        full = torch.randperm(count, generator=torch.Generator().manual_seed(7))
        padded = torch.cat([full, full[: shard * world_size - count]])
        assert torch.equal(order, padded[rank::world_size])
    assert torch.equal(epoch_order(5, False, 0, 9, 0, 1), torch.arange(5))


def test_training_decode_is_reproducible_and_independent_of_workers(images):
    def epoch(workers: int, epoch: int = 1, seed: int = 5) -> list[torch.Tensor]:
        stream = StreamBatches(images, torch.zeros(12, dtype=torch.int64), batch_size=4, seed=seed,
                               workers=workers)
        return [x for x, _ in stream.epoch(epoch)]

    first = epoch(0)
    assert all(torch.equal(a, b) for a, b in zip(first, epoch(0)))
    assert all(torch.equal(a, b) for a, b in zip(first, epoch(2)))
    assert not all(torch.equal(a, b) for a, b in zip(first, epoch(0, epoch=2)))
    assert not all(torch.equal(a, b) for a, b in zip(first, epoch(0, seed=6)))


def test_file_dataset_seeds_each_sample(images):
    train = FileDataset(images, train=True, seed=2, epoch=3)
    expected = images.decode_train(7, torch.Generator().manual_seed(sample_seed(2, 3, 7)))
    assert torch.equal(train[7], expected) and torch.equal(train[7], train[7])
    assert torch.equal(FileDataset(images, train=False)[7], images[7]) and len(train) == 12


def test_sample_seed_is_fixed_and_spread():
    assert sample_seed(0, 0, 0) == sample_seed(0, 0, 0)
    seeds = {sample_seed(seed, epoch, index) for seed in range(3) for epoch in range(3) for index in range(50)}
    assert len(seeds) == 3 * 3 * 50
    assert all(0 <= seed < 2 ** 63 for seed in seeds)
    assert 0 <= sample_seed(-1, 0, 10 ** 9) < 2 ** 63


@pytest.mark.parametrize("width, height", [(300, 200), (50, 50), (1000, 10), (10, 1000), (7, 5)])
def test_crop_box_equals_torchvision_get_params(width, height):
    image = Image.new("RGB", (width, height))
    for seed in range(40):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            top, left, crop_height, crop_width = T.RandomResizedCrop.get_params(image, [0.08, 1.0], [3 / 4, 4 / 3])
        box = random_resized_crop_box(width, height, (0.08, 1.0), (3 / 4, 4 / 3), torch.Generator().manual_seed(seed))
        assert box == (left, top, crop_width, crop_height)


def test_crop_box_distribution():
    width, height, generator = 300, 200, torch.Generator().manual_seed(0)
    areas, ratios = [], []
    for _ in range(500):
        left, top, crop_width, crop_height = random_resized_crop_box(width, height, (0.08, 1.0), (3 / 4, 4 / 3),
                                                                     generator)
        assert 0 <= left and 0 <= top and left + crop_width <= width and top + crop_height <= height
        areas.append(crop_width * crop_height / (width * height))
        ratios.append(crop_width / crop_height)
    assert 0.08 * 0.95 <= min(areas) and max(areas) <= 1.0
    assert 0.75 * 0.95 <= min(ratios) and max(ratios) <= 4 / 3 * 1.05
    assert 0.3 < np.mean(areas) < 0.55  # uniform in [0.08, 1], less the large crops that do not fit
    assert 0.1 < np.mean(np.array(ratios) < 1.0) < 0.9
    # extreme aspect ratios never fit: centred fallback clamped to the ratio range
    assert random_resized_crop_box(1000, 10, (0.08, 1.0), (3 / 4, 4 / 3), generator) == (493, 0, 13, 10)
    assert random_resized_crop_box(10, 1000, (0.08, 1.0), (3 / 4, 4 / 3), generator) == (0, 493, 10, 13)


def test_training_decode_equals_torchvision_random_resized_crop_and_flip(images, folder):
    root, files, _ = folder
    reference = T.Compose([T.RandomResizedCrop(SIDE), T.RandomHorizontalFlip(), T.PILToTensor()])
    for seed in range(12):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            expected = reference(Image.open(root / files[seed]).convert("RGB"))
        decoded = images.decode_train(seed, torch.Generator().manual_seed(seed))
        assert torch.equal(decoded, expected)


@pytest.mark.parametrize("count, world_size", [(12, 2), (11, 2), (12, 5)])
def test_ddp_shards_are_disjoint_and_covering(images, count, world_size):
    subset = images[:count]
    shards = []
    for rank in range(world_size):
        stream = StreamBatches(subset, torch.arange(count), batch_size=4, seed=1, rank=rank,
                               world_size=world_size, workers=0, augment=False)
        shards.append([i for _, y in stream.epoch(3) for i in y.tolist()])
    assert len({len(shard) for shard in shards}) == 1
    everything = [i for shard in shards for i in shard]
    assert sorted(set(everything)) == list(range(count))
    assert len(everything) - count == (-count) % world_size  # only the wrap-around padding repeats
    decoded = decode_all(subset, workers=0)
    assert shards == [[i for y in labelled(Batches(decoded, torch.arange(count), batch_size=4, seed=1, rank=rank,
                                                   world_size=world_size).epoch(3)) for i in y]
                      for rank in range(world_size)]


def test_set_epoch_and_iteration(images):
    stream = StreamBatches(images, torch.arange(12), batch_size=5, workers=0, augment=False)
    stream.set_epoch(4)
    assert [i for _, y in stream for i in y.tolist()] == [i for _, y in stream.epoch(4) for i in y.tolist()]


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_batches_arrive_on_the_device(images, device):
    stream = StreamBatches(images, torch.arange(12), batch_size=5, device=device, workers=0)
    for x, y in stream:
        assert x.device.type == device and y.device.type == device


def test_bad_arguments(images, folder, tmp_path):
    root, files, labels = folder
    with pytest.raises(ValueError, match="size"):
        ImageFiles(root, files, 0)
    with pytest.raises(ValueError, match="channels"):
        ImageFiles(root, files, SIDE, channels=2)
    with pytest.raises(ValueError, match="crop_fraction"):
        ImageFiles(root, files, SIDE, crop_fraction=1.5)
    with pytest.raises(ValueError, match="labels"):
        StreamBatches(images, labels[:5], batch_size=4)
    with pytest.raises(ValueError, match="rank"):
        StreamBatches(images, labels, batch_size=4, rank=2, world_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        StreamBatches(images, labels, batch_size=0)
    with pytest.raises(ValueError, match="workers"):
        StreamBatches(images, labels, batch_size=4, workers=-1)
    with pytest.raises(ValueError, match="empty"):
        StreamBatches(images[[]], labels[:0], batch_size=4)
    with pytest.raises(ValueError, match="Batches"):
        StreamBatches(torch.zeros(12, 3, 4, 4, dtype=torch.uint8), labels, batch_size=4)
    with pytest.raises(TypeError, match="integers or booleans"):
        images[np.array([0.5])]
    with pytest.raises(IndexError, match="mask"):
        images[torch.ones(3, dtype=torch.bool)]
    with pytest.raises(DataNotFoundError, match="missing.png"):
        ImageFiles(root, ["missing.png"], SIDE)[0]
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(CorruptDataError, match="broken.png"):
        ImageFiles(tmp_path, ["broken.png"], SIDE)[0]
