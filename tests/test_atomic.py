"""Atomic writes: the target is either the old or the new file, never a partial one."""

from __future__ import annotations

import os

import pytest
import torch

from arpl.atomic import atomic_write, load_json, save_json, save_torch


def test_save_json_roundtrip_and_permissions(tmp_path):
    path = save_json({"a": 1.5, "b": [1, 2]}, tmp_path / "sub" / "m.json")
    assert load_json(path) == {"a": 1.5, "b": [1, 2]}
    assert os.stat(path).st_mode & 0o044, "written files are readable by others like any normal file"


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_torch({"epoch": 1}, path)

    def crash(temp):
        temp.write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt("killed while writing")

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
