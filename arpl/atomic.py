"""Atomic file writes: a kill at any moment leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temp_path)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    os.chmod(temp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
    temp_path = Path(temp)
    try:
        write(temp_path)
        with open(temp_path, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temp_path, path)
    finally:
        temp_path.unlink(missing_ok=True)
    return path


def save_torch(obj: Any, path: str | Path) -> Path:
    """``torch.save`` atomically."""
    import torch  # here: this module is also used where nothing else needs torch (a switched-off stage)

    return atomic_write(path, lambda temp: torch.save(obj, temp))


def save_json(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda temp: temp.write_text(text))


def save_text(text: str, path: str | Path) -> Path:
    """Write ``text`` atomically."""
    return atomic_write(path, lambda temp: temp.write_text(text))


def load_json(path: str | Path) -> Any:
    """Read a JSON file written by :func:`save_json`."""
    return json.loads(Path(path).read_text())


def save_table(table, path: str | Path) -> Path:
    """Write a pandas DataFrame as CSV atomically."""
    return atomic_write(path, lambda temp: table.to_csv(temp, index=False))
