"""Checkpoints: written atomically every epoch, read back with ``weights_only=True``, checked before use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from arpl.atomic import save_torch
from arpl.training.network import OpenSetNet, build_model
from arpl.training.specs import ModelSpec, TrainSpec, fingerprint, model_spec_from_dict, spec_dict

FORMAT = 1
CHECKPOINT_FILE = "checkpoint.pt"


class CheckpointMismatchError(ValueError):
    """A checkpoint was made for another configuration than the one requested."""


def checkpoint_in(run_dir: str | Path) -> Path:
    """The checkpoint file of the run in folder ``run_dir``."""
    return Path(run_dir) / CHECKPOINT_FILE


# What a finished run keeps: nothing trains it further (more epochs are another fingerprint, a new run), so the
# optimisers' and the discriminator's states, two to three times the network's size, are left out.
FINISHED_STATES = ("net", "generator")


def save_checkpoint(path: str | Path, *, model_spec: ModelSpec, train_spec: TrainSpec, epoch: int,
                    states: dict[str, Any], history: list[dict]) -> Path:
    """Write the state after ``epoch`` complete epochs. ``states`` maps names ("net", "optimizer",
    "scheduler", "generator", ...) to state dicts (after the last epoch only :data:`FINISHED_STATES` are kept);
    ``history`` holds one metrics dict per epoch."""
    if epoch >= train_spec.epochs:
        states = {name: state for name, state in states.items() if name in FINISHED_STATES}
    payload = {
        "format": FORMAT,
        "fingerprint": fingerprint(model_spec, train_spec),
        "model_spec": spec_dict(model_spec),
        "train_spec": spec_dict(train_spec),
        "epoch": epoch,
        "states": states,
        "history": history,
    }
    return save_torch(payload, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``: tensors and plain Python values only)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Checkpoint {path} not found; run the training stage first (dvc repro).")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file
        raise CheckpointMismatchError(f"{path} is not a readable checkpoint ({error}); delete it and rerun "
                                      f"the training stage.") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointMismatchError(f"{path} was not written by this version of arpl; delete it and rerun "
                                      f"the training stage.")
    return payload


def check_model_spec(path: str | Path, found: dict, expected: dict) -> None:
    """Refuse a checkpoint whose model configuration differs from ``expected`` (only given keys compared)."""
    wrong = {key: (found.get(key), value) for key, value in expected.items() if found.get(key) != value}
    if wrong:
        details = "; ".join(f"{key}: checkpoint has {have!r}, requested {want!r}"
                            for key, (have, want) in wrong.items())
        raise CheckpointMismatchError(f"Checkpoint {path} does not match the requested model ({details}). "
                                      f"Retrain with the current params (dvc repro) or point to the right "
                                      f"checkpoint.")


def load_model(path: str | Path, expected: dict | None = None,
               device: torch.device | str = "cpu") -> tuple[OpenSetNet, dict[str, Any]]:
    """Rebuild the classifier stored in ``path`` in eval mode, after checking it against ``expected``
    (a dict of :class:`ModelSpec` fields such as backbone, num_classes, feat_dim). Returns the network and
    the checkpoint payload (history, specs)."""
    payload = read_checkpoint(path)
    if expected:
        check_model_spec(path, payload["model_spec"], expected)
    net = build_model(model_spec_from_dict(payload["model_spec"]))
    try:
        net.load_state_dict(payload["states"]["net"], strict=True)
    except RuntimeError as error:
        raise CheckpointMismatchError(f"Checkpoint {path} does not fit the network it describes ({error}).") \
            from error
    return net.to(device).eval(), payload
