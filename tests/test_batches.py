"""On-device mini-batches: order by seed + epoch, coverage, drop_last, DDP shards, device placement."""

from __future__ import annotations

import pytest
import torch

from arpl.data.batches import AUGMENT_SEED_STRIDE, Batches
from arpl.data.transforms import Augment

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def identity_data(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Image i is filled with i (count <= 256) and labelled i, so batches reveal their indices."""
    images = torch.arange(count, dtype=torch.uint8).view(count, 1, 1, 1).expand(count, 1, 2, 2).contiguous()
    return images, torch.arange(count)


def visited(batches: Batches, epoch: int) -> list[int]:
    return [i for _, y in batches.epoch(epoch) for i in y.tolist()]


def test_order_depends_only_on_seed_plus_epoch():
    images, labels = identity_data(50)
    batches = Batches(images, labels, batch_size=8, seed=3)
    assert visited(batches, 2) == visited(batches, 2)
    assert visited(batches, 2) != visited(batches, 3)
    assert visited(Batches(images, labels, batch_size=8, seed=4), 1) == visited(batches, 2)
    fresh = Batches(images, labels, batch_size=8, seed=3)  # a resumed run
    assert visited(fresh, 2) == visited(batches, 2)


def test_full_coverage_and_batch_sizes():
    images, labels = identity_data(50)
    batches = Batches(images, labels, batch_size=8)
    assert len(batches) == 7
    assert sorted(visited(batches, 0)) == list(range(50))
    assert [len(y) for _, y in batches.epoch(0)] == [8] * 6 + [2]
    assert visited(Batches(images, labels, batch_size=8, shuffle=False), 5) == list(range(50))


def test_drop_last():
    images, labels = identity_data(50)
    batches = Batches(images, labels, batch_size=8, drop_last=True)
    assert len(batches) == 6
    assert [len(y) for _, y in batches.epoch(1)] == [8] * 6


def test_images_arrive_as_floats_in_unit_range():
    images, labels = identity_data(20)
    x, y = next(iter(Batches(images, labels, batch_size=20, shuffle=False)))
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.allclose(x[:, 0, 0, 0], torch.arange(20) / 255.0)


@pytest.mark.parametrize("count, world_size", [(50, 3), (48, 4), (7, 2)])
def test_ddp_shards_are_disjoint_equal_and_covering(count, world_size):
    images, labels = identity_data(count)
    shards = [visited(Batches(images, labels, batch_size=4, seed=1, rank=r, world_size=world_size), 3)
              for r in range(world_size)]
    assert len({len(shard) for shard in shards}) == 1
    everything = [i for shard in shards for i in shard]
    assert sorted(set(everything)) == list(range(count))
    assert len(everything) - count == (-count) % world_size  # only the wrap-around padding repeats
    lengths = [len(Batches(images, labels, batch_size=4, rank=r, world_size=world_size)) for r in range(world_size)]
    assert len(set(lengths)) == 1


def test_set_epoch_and_iteration():
    images, labels = identity_data(30)
    batches = Batches(images, labels, batch_size=7)
    batches.set_epoch(4)
    assert [i for _, y in batches for i in y.tolist()] == visited(batches, 4)


def test_augmentation_is_reproducible_per_epoch():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(1, 256, (40, 3, 8, 8), generator=generator, dtype=torch.uint8)
    labels = torch.zeros(40, dtype=torch.int64)
    batches = Batches(images, labels, batch_size=16, augment=Augment(8, padding=2), seed=7)
    first = [x for x, _ in batches.epoch(1)]
    again = [x for x, _ in Batches(images, labels, batch_size=16, augment=Augment(8, padding=2), seed=7).epoch(1)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    plain = [x for x, _ in Batches(images, labels, batch_size=16, seed=7).epoch(1)]
    assert not all(torch.equal(a, b) for a, b in zip(first, plain))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("flip", [True, False])
def test_augmentation_drawn_up_front_equals_drawing_batch_by_batch(device, flip):
    """The epoch's crops and flips reach the device in one copy; the images are those that augmenting each batch
    with the same generator, one batch after another, gives (so CPU numbers did not move when this changed)."""
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (37, 3, 8, 8), generator=generator, dtype=torch.uint8)
    labels = torch.arange(37)
    augment = Augment(8, padding=2, flip=flip)
    batches = Batches(images, labels, batch_size=8, augment=augment, seed=5, rank=1, world_size=2, device=device)
    reference_generator = torch.Generator().manual_seed(5 + 3 + AUGMENT_SEED_STRIDE * 2)
    order = batches.order(3)
    for start, (x, y) in zip(range(0, len(order), 8), batches.epoch(3)):
        index = order[start:start + 8]
        expected = augment(images[index].float().div_(255.0), reference_generator)
        assert torch.equal(x.cpu(), expected) and torch.equal(y.cpu(), labels[index])


@pytest.mark.parametrize("device", DEVICES)
def test_data_lives_on_the_device(device):
    images, labels = identity_data(10)
    batches = Batches(images, labels, batch_size=4, augment=Augment(2, padding=1), device=device)
    assert batches.images.device.type == device and batches.labels.device.type == device
    for x, y in batches.epoch(0):
        assert x.device.type == device and y.device.type == device


def test_bad_arguments():
    images, labels = identity_data(10)
    with pytest.raises(ValueError, match="rank"):
        Batches(images, labels, batch_size=4, rank=2, world_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        Batches(images, labels, batch_size=0)
    with pytest.raises(ValueError, match="uint8"):
        Batches(images.float(), labels, batch_size=4)
    with pytest.raises(ValueError, match="labels"):
        Batches(images, labels[:5], batch_size=4)
