"""The prediction cache (arpl.prediction_cache): a hit returns exactly what arpl.evaluate.predict computes, without
running the network; any change to what determines the numbers (weights, images, code of the layers, device,
batch size, kept arrays) misses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from arpl import prediction_cache
from arpl.evaluate import predict
from arpl.prediction_cache import cached_predict, prediction_key
from arpl.training.network import build_model
from arpl.training.specs import ModelSpec


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(prediction_cache, "CACHE_DIR", tmp_path / "predictions")
    return tmp_path / "predictions"


def _net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(ModelSpec(method="ARPL", backbone="small", num_classes=4, width=8, feat_dim=6)).eval()


def _images(seed: int = 0, count: int = 20) -> torch.Tensor:
    return torch.randint(0, 256, (count, 1, 28, 28), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_a_hit_returns_the_stored_predictions_without_running_the_network(cache, monkeypatch):
    net, images = _net(), _images()
    first = cached_predict(net, images)
    expected = predict(net, images)
    np.testing.assert_array_equal(first.features, expected.features)
    np.testing.assert_array_equal(first.logits, expected.logits)
    assert len(list(cache.glob("*.npz"))) == 1

    monkeypatch.setattr(prediction_cache, "predict", lambda *a, **k: pytest.fail("the network ran again"))
    again = cached_predict(_net(), images.clone())  # equal weights and images, other objects
    np.testing.assert_array_equal(again.features, expected.features)
    np.testing.assert_array_equal(again.logits, expected.logits)


def test_logits_only_keeps_no_features(cache):
    net, images = _net(), _images()
    logits_only = cached_predict(net, images, features=False)
    assert logits_only.features.shape == (20, 0)
    assert cached_predict(net, images).features.shape == (20, 6)  # its own entry, not the logits-only one
    assert len(list(cache.glob("*.npz"))) == 2


def test_everything_that_changes_the_numbers_changes_the_key(monkeypatch):
    net, images = _net(), _images()
    key = prediction_key(net, images, "cpu", 512)
    changed_weight = _net()
    with torch.no_grad():
        changed_weight.head.points.data[0, 0] += 1e-6
    changed_buffer = _net()
    next(b for name, b in changed_buffer.named_buffers() if name.endswith("running_mean"))[0] += 1e-6
    changed_image = images.clone()
    changed_image[3, 0, 5, 5] ^= 1
    others = [prediction_key(_net(seed=1), images, "cpu", 512), prediction_key(changed_weight, images, "cpu", 512),
              prediction_key(changed_buffer, images, "cpu", 512),
              prediction_key(net, changed_image, "cpu", 512), prediction_key(net, images[:19], "cpu", 512),
              prediction_key(net, images, "cuda", 512), prediction_key(net, images, "cpu", 64)]
    monkeypatch.setenv(prediction_cache.SWITCH, "1")
    others.append(prediction_key(net, images, "cpu", 512))
    assert len({key, *others}) == len(others) + 1
    monkeypatch.delenv(prediction_cache.SWITCH)
    assert prediction_key(_net(), images.clone(), torch.device("cpu"), 512) == key


def test_the_code_of_the_layers_and_of_predict_is_in_the_key(monkeypatch):
    seen = []

    def identity(modules):
        seen.append(modules)
        return "edited" if len(seen) > 1 else "original"

    monkeypatch.setattr(prediction_cache, "identity", identity)
    net, images = _net(), _images()
    assert prediction_key(net, images, "cpu", 512) != prediction_key(net, images, "cpu", 512)
    assert {"arpl.evaluate", "arpl.models.small", "arpl.methods.arpl", "arpl.training.network"} <= set(seen[0])
    assert not any(module.startswith("torch.") for module in seen[0])
