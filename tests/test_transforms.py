"""Resizing (28 -> 32, bilinear antialiased), channel repetition and the batched crop + flip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from arpl.data import dataset_source
from arpl.data.transforms import Augment, to_size


def random_images(count: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, channels, size, size), generator=generator, dtype=torch.uint8)


def test_resize_28_to_32_matches_pil_bilinear():
    images = random_images(4, 1, 28)
    resized = to_size(images, 32)
    assert resized.shape == (4, 1, 32, 32) and resized.dtype == torch.uint8
    for image, ours in zip(images, resized):
        pil = np.asarray(Image.fromarray(image[0].numpy()).resize((32, 32), Image.BILINEAR))
        assert np.abs(ours[0].numpy().astype(int) - pil.astype(int)).max() <= 1


def test_resize_keeps_constant_images_and_downscales_with_antialiasing():
    constant = torch.full((2, 3, 28, 28), 77, dtype=torch.uint8)
    assert torch.equal(to_size(constant, 32), torch.full((2, 3, 32, 32), 77, dtype=torch.uint8))
    stripes = torch.zeros(1, 1, 64, 64, dtype=torch.uint8)
    stripes[..., ::2] = 255
    assert (to_size(stripes, 16)[..., 1:-1].float() - 127.5).abs().max() <= 1  # averaged, not aliased


def test_channel_repetition_and_no_op():
    images = random_images(3, 1, 28)
    rgb = to_size(images, 32, channels=3)
    assert rgb.shape == (3, 3, 32, 32)
    assert torch.equal(rgb[:, 0], rgb[:, 1]) and torch.equal(rgb[:, 1], rgb[:, 2])
    assert torch.equal(rgb[:, :1], to_size(images, 32))
    assert to_size(images, 28) is images
    assert torch.equal(to_size(images, 28, channels=3), images.repeat(1, 3, 1, 1))
    with pytest.raises(ValueError, match="channels"):
        to_size(rgb, 32, channels=1)
    with pytest.raises(ValueError, match="uint8"):
        to_size(images.float(), 32)


def test_chunks_do_not_change_the_result():
    images = random_images(10, 1, 28)
    assert torch.equal(to_size(images, 32, chunk_size=3), to_size(images, 32))


def test_augment_is_deterministic_given_the_generator():
    batch = random_images(8, 3, 32).float() / 255
    augment = Augment(32)
    first = augment(batch, torch.Generator().manual_seed(11))
    assert torch.equal(first, augment(batch, torch.Generator().manual_seed(11)))
    assert not torch.equal(first, augment(batch, torch.Generator().manual_seed(12)))
    assert torch.equal(Augment(32, seed=3)(batch), Augment(32, seed=3)(batch))


def find_shift(original: torch.Tensor, cropped: torch.Tensor, padding: int) -> tuple[int, int] | None:
    """The (dy, dx) for which ``cropped`` is ``original`` shifted, with zeros shifted in."""
    padded = torch.nn.functional.pad(original, (padding,) * 4)
    size = original.shape[-1]
    for top in range(2 * padding + 1):
        for left in range(2 * padding + 1):
            if torch.equal(padded[:, top:top + size, left:left + size], cropped):
                return top - padding, left - padding
    return None


def test_crop_shifts_content_by_at_most_four_pixels():
    batch = random_images(32, 3, 32, seed=1) // 2 + 1  # no zeros, so padding is recognisable
    cropped = Augment(32, padding=4, flip=False)(batch, torch.Generator().manual_seed(0))
    assert cropped.shape == batch.shape and cropped.dtype == batch.dtype
    shifts = [find_shift(original, crop, 4) for original, crop in zip(batch, cropped)]
    assert all(shift is not None and max(abs(shift[0]), abs(shift[1])) <= 4 for shift in shifts)
    assert len(set(shifts)) > 1


def test_flip_flips():
    batch = random_images(16, 3, 8)
    assert torch.equal(Augment(8, padding=0, flip_p=1.0)(batch), batch.flip(-1))
    assert torch.equal(Augment(8, padding=0, flip_p=0.0)(batch), batch)
    mixed = Augment(8, padding=0)(batch, torch.Generator().manual_seed(0))
    flipped = [torch.equal(m, b.flip(-1)) for m, b in zip(mixed, batch)]
    assert all(torch.equal(m, b) or f for m, b, f in zip(mixed, batch, flipped))
    assert 0 < sum(flipped) < 16


def test_augmented_sources_follow_the_authors():
    assert not any(dataset_source(name).augment for name in ("fashion-mnist", "mnist", "kmnist"))
    assert all(dataset_source(name).augment for name in ("svhn", "cifar10", "cifar+10", "tinyimagenet", "imagenet-1k"))
