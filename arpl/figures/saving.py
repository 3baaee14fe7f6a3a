"""Writing figures: :func:`save_figure` renders a figure to image files atomically, :func:`publish` saves it
as the PNG a stage outputs and returns that very file as a notebook image (what the report pages show)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from arpl.figures.style import DPI

_IMAGE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


def save_figure(fig: Figure, path: str | os.PathLike[str], formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write ``fig`` once per format next to ``path`` (its image suffix replaced), atomically.

    Each file is rendered into a temporary file in the target folder and moved into place with
    ``os.replace``, so readers never see a half-written figure. Parent folders are created.
    Returns the written paths in the order of ``formats``.
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}.")
    if isinstance(formats, str) or len(formats) == 0:
        raise ValueError("formats must be a non-empty sequence such as ('png', 'pdf').")
    supported = fig.canvas.get_supported_filetypes()
    unknown = [fmt for fmt in formats if fmt.lower() not in supported]
    if unknown:
        raise ValueError(f"formats {unknown} are not supported; choose from {sorted(supported)}.")
    base = Path(path)
    if base.suffix.lower().lstrip(".") in _IMAGE_FORMATS:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = base.with_name(f"{base.name}.{fmt.lower()}")
        # A fresh unique name (not mkstemp, whose 0600 mode would stick to the final file).
        temp_name = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        try:
            fig.savefig(temp_name, format=fmt.lower(), dpi=DPI, bbox_inches="tight")
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def publish(fig: Figure, path: str | os.PathLike[str]):
    """Save ``fig`` as a PNG with :func:`save_figure` and return that file as an IPython image.

    A notebook cell that ends with ``publish(figure, path)`` shows exactly the file the stage writes as
    its DVC output. (A bare ``Figure`` built without pyplot has no image formatter in the kernel and would
    show only its text repr.)
    """
    from IPython.display import Image

    return Image(filename=str(save_figure(fig, path)[0]))
