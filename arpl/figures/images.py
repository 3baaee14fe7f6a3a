"""Image figures: labelled rows of images (a split's samples; real and generated images of Fig. 6b) and
the images retrieved along the line from a class centre to its reciprocal point (Fig. 6a)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from arpl.figures.inputs import finite_vector, images_hwc
from arpl.figures.style import styled


def real_and_generated_rows(real: Any, generated: Any, per_row: int = 10) -> list[tuple[str, Any]]:
    """The rows of Fig. 6b for :func:`image_grid`: a row of real known images, rows of ``per_row`` generated
    ones (a last incomplete row is left out), another row of real images."""
    rows = [("real", real[:per_row])]
    for start in range(0, len(generated) - per_row + 1, per_row):
        rows.append(("generated", generated[start:start + per_row]))
    return rows + [("real", real[per_row:2 * per_row])]


@styled
def image_grid(rows: Sequence[tuple[str, Any]] | Any, title: str = "Samples", max_columns: int = 16,
               gap: int = 2) -> Figure:
    """One labelled row of images per entry of ``rows`` (list of ``(label, uint8 [N, C, H, W])``).

    Used for known vs unknown samples of a split, and for paper Fig. 6(b): real training images
    in the top and bottom rows, generated confusing samples in the rows between. A single
    ``[N, C, H, W]`` array is drawn as one unlabelled row. Rows longer than ``max_columns`` are
    cut; shorter rows are padded with white. All rows must share H and W.
    """
    if hasattr(rows, "shape"):
        rows = [("", rows)]
    if not isinstance(rows, Sequence) or len(rows) == 0:
        raise ValueError("rows must be a non-empty list of (label, images [N, C, H, W]) tuples.")
    if max_columns < 1:
        raise ValueError(f"max_columns must be >= 1, got {max_columns}.")
    labels, blocks = [], []
    for index, row in enumerate(rows):
        if not isinstance(row, (tuple, list)) or len(row) != 2:
            raise ValueError(f"rows[{index}] must be a (label, images) tuple.")
        images = images_hwc(f"rows[{index}] images", row[1])
        if len(images) == 0:
            raise ValueError(f"rows[{index}] ({row[0]!r}) holds no images.")
        labels.append(str(row[0]))
        blocks.append(images[:max_columns])
    height, width = blocks[0].shape[1:3]
    for index, block in enumerate(blocks):
        if block.shape[1:3] != (height, width):
            raise ValueError(f"rows[{index}] images are {block.shape[1]}x{block.shape[2]} but rows[0] are "
                             f"{height}x{width}; resize them to one size first.")
    columns = max(len(block) for block in blocks)
    mosaic = np.full((len(blocks) * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, np.uint8)
    for r, block in enumerate(blocks):
        for c, image in enumerate(block):
            top, left = r * (height + gap), c * (width + gap)
            mosaic[top:top + height, left:left + width] = image
    cell = 0.55
    label_room = 1.2 if any(labels) else 0.2
    fig = Figure(figsize=(columns * cell + label_room, len(blocks) * cell * height / width + 0.6),
                 layout="constrained")
    ax = fig.subplots()
    ax.imshow(mosaic)
    ax.grid(False)
    ax.set_xticks([])
    ax.set_yticks([r * (height + gap) + height / 2 for r in range(len(blocks))], labels)
    ax.tick_params(axis="y", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title)
    return fig


@styled
def retrieval_strip(images_along_line: Sequence[Any], distances_or_t: Sequence[float],
                    title: str = "Images retrieved from class centre to reciprocal point (cf. Fig. 6a)",
                    value_label: str = "t", highlight: Sequence[int] = ()) -> Figure:
    """Images retrieved along the segment from a class centre to its reciprocal point (Fig. 6a).

    ``images_along_line[i]`` (uint8 ``[C, H, W]``) is drawn left to right with ``value_label = value``
    under it (the position t in [0, 1] along the segment, or a distance). Indices in
    ``highlight`` get a red frame, like the failure case marked red in Fig. 6(a).
    """
    if len(images_along_line) == 0:
        raise ValueError("images_along_line is empty; pass at least one [C, H, W] uint8 image.")
    if len(images_along_line) != len(distances_or_t):
        raise ValueError(f"distances_or_t has {len(distances_or_t)} values but images_along_line has "
                         f"{len(images_along_line)} images; pass one position per image.")
    values = finite_vector("distances_or_t", distances_or_t)
    images = [images_hwc(f"images_along_line[{i}]", image, ndim=3) for i, image in enumerate(images_along_line)]
    bad = [i for i in highlight if not 0 <= i < len(images)]
    if bad:
        raise ValueError(f"highlight indices {bad} are outside 0..{len(images) - 1}.")
    height, width = images[0].shape[:2]
    fig = Figure(figsize=(max(1.0 * len(images), 3.0), 0.85 * height / width + 0.65), layout="constrained")
    axes = fig.subplots(1, len(images), squeeze=False)[0]
    for index, (ax, image, value) in enumerate(zip(axes, images, values)):
        ax.imshow(image)
        ax.grid(False)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{value_label} = {value:.2f}", fontsize=8)
        for spine in ax.spines.values():
            spine.set_visible(index in highlight)
            spine.set_color("#d62728")
            spine.set_linewidth(2.5)
    fig.suptitle(title)
    return fig
