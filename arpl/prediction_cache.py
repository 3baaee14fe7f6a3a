"""Predictions kept on disk by what determines them, so that a stage that reruns for another reason (a params
key it reads, an edit of its notebook) does not run its networks over the test sets again.

An entry is found only under the same key, a hash of everything that can change the numbers of
:func:`arpl.evaluate.predict`:

* the network's weights and buffers (its ``state_dict``, bytes and names) and the meaning of the code of every
  module of its layers (:func:`arpl.code_identity.identity`: an edit of a docstring reuses, of the forward pass
  recomputes), with :mod:`arpl.evaluate` itself;
* the images: a uint8 tensor by its bytes, :class:`~arpl.data.files.ImageFiles` by their files, size, channels and
  crop (and the code that decodes them);
* how they are computed: the device type, the batch size, the CPU kernel setting (``run.portable_kernels``) and
  the torch version.

The files live in :data:`CACHE_DIR` (git-ignored, outside every DVC output: a stage's outputs are deleted before it
reruns, this folder is not). Deleting it is always safe: the next run computes again. Writes are atomic.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from arpl.code_identity import identity
from arpl.data.files import ImageFiles
from arpl.evaluate import Predictions, predict
from arpl.atomic import atomic_write
from arpl.portable import SWITCH

CACHE_DIR = Path("runs/cache/predictions")


def cached_predict(net: torch.nn.Module, images: torch.Tensor | ImageFiles, device: torch.device | str = "cpu",
                   batch_size: int = 512, features: bool = True) -> Predictions:
    """:func:`arpl.evaluate.predict`, read from :data:`CACHE_DIR` when the same network has predicted the same
    images the same way before (see the module docstring), else computed and stored. ``features=False`` keeps the
    logits only (an empty feature array), for tables that need no features of large sets."""
    kept = "" if features else "-logits"
    path = CACHE_DIR / f"{prediction_key(net, images, device, batch_size)}{kept}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return Predictions(stored["features"], stored["logits"])
    predictions = predict(net, images, batch_size=batch_size, device=device)
    if not features:
        predictions = Predictions(np.empty((len(predictions.logits), 0), np.float32), predictions.logits)
    atomic_write(path, lambda temp: _save_npz(temp, predictions))
    return predictions


def _save_npz(path: Path, predictions: Predictions) -> None:
    with open(path, "wb") as stream:  # a file object: np.savez would append .npz to the temporary name
        np.savez(stream, features=predictions.features, logits=predictions.logits)


def prediction_key(net: torch.nn.Module, images: torch.Tensor | ImageFiles, device: torch.device | str,
                   batch_size: int) -> str:
    """The hash under which the predictions of ``net`` on ``images`` are stored."""
    digest = hashlib.sha256()
    digest.update(network_digest(net).encode())
    digest.update(images_digest(images).encode())
    digest.update(f"{torch.device(device).type}|{batch_size}|{os.environ.get(SWITCH, '0')}|{torch.__version__}"
                  .encode())
    return digest.hexdigest()[:32]


def network_digest(net: torch.nn.Module) -> str:
    """A hash of the network's state (names, shapes, dtypes, values) and of the code of its layers' modules."""
    digest = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tuple(value.shape)}|{value.dtype}|".encode() + _bytes(value))
    modules = {type(layer).__module__ for layer in net.modules()} | {"arpl.evaluate"}
    digest.update(identity(sorted(m for m in modules if not m.startswith("torch."))).encode())
    return digest.hexdigest()


def images_digest(images: torch.Tensor | ImageFiles) -> str:
    """A hash of the images a prediction sees: a tensor's shape, dtype and bytes; files by their names, root and
    decoding settings (with the code that decodes them)."""
    digest = hashlib.sha256()
    if isinstance(images, ImageFiles):
        digest.update(f"{images.root.resolve()}|{images.size}|{images.channels}|{images.crop_fraction}|".encode())
        digest.update("\n".join(images.files.tolist()).encode())
        digest.update(identity([ImageFiles.__module__]).encode())
    else:
        value = images.detach().cpu().contiguous()
        digest.update(f"{tuple(value.shape)}|{value.dtype}|".encode() + _bytes(value))
    return digest.hexdigest()


def _bytes(tensor: torch.Tensor) -> bytes:
    """The raw bytes of a contiguous CPU tensor of any dtype (bfloat16 and bool included)."""
    return tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
