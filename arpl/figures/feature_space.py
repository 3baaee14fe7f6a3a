"""What a model's feature space looks like: the 2-D scatter of known, unknown and generated samples with the
reciprocal points or prototypes (Figs. 1, 4, 7 top row, 12), and how its open-set score separates known
from unknown samples (Fig. 7 bottom row)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from arpl.figures.inputs import finite_vector, float_array, to_numpy
from arpl.figures.style import GENERATED_COLOURS, TAB10, UNKNOWN_COLOUR, class_colours, new_figure, styled


def _subsample(count: int, max_points: int) -> np.ndarray:
    """Deterministic uniform subsample of ``range(count)`` (fixed seed, sorted indices)."""
    if count <= max_points:
        return np.arange(count)
    return np.sort(np.random.default_rng(0).choice(count, size=max_points, replace=False))


def _triangle_handle(label: str) -> Line2D:
    return Line2D([], [], linestyle="", marker="^", markersize=5, markerfacecolor="white",
                  markeredgecolor="black", label=label)


@styled
def feature_scatter(features: Any, labels: Any, points: Any | None = None,
                  title: str = "Learned 2-D feature space (cf. Figs. 1, 7 top row, 12)",
                  max_points: int = 3000, extra: Mapping[str, Any] | None = None,
                  class_names: Sequence[str] | None = None, points_label: str = "reciprocal points") -> Figure:
    """Scatter of 2-D deep features (paper Figs. 1, 7 top row, 12; Fig. 4 with ``extra``).

    ``features`` ``[N, 2]`` with ``labels`` ``[N]``: known class index, or -1 for unknown samples.
    Known classes are coloured dots, unknowns small grey dots. ``points`` ``[K, 2]`` (reciprocal
    points or prototypes, one per class) are big triangles in the class colours with a black edge.
    ``extra[name]`` ``[M, 2]`` (e.g. generated confusing samples, Fig. 4) is drawn in red crosses.
    At most ``max_points`` samples (and as many per ``extra`` set) are drawn, picked by a fixed-seed
    subsample so that the same inputs always give the same figure.
    """
    xy = float_array("features", features)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"features must be [N, 2] (project higher-dimensional features first), got {xy.shape}.")
    classes = to_numpy(labels)
    if classes.ndim != 1 or len(classes) != len(xy):
        raise ValueError(f"labels must be 1-D with one entry per feature row: got shape {classes.shape} "
                         f"for {len(xy)} features.")
    if classes.size and (not np.issubdtype(classes.dtype, np.integer) or classes.min() < -1):
        raise ValueError("labels must be integers: a known class index >= 0, or -1 for unknown samples.")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}.")
    bases = None if points is None else float_array("points", points)
    if bases is not None and (bases.ndim != 2 or bases.shape[1] != 2):
        raise ValueError(f"points must be [K, 2], one 2-D point per known class, got {bases.shape}.")
    num_classes = int(classes.max()) + 1 if classes.size else 0
    if bases is not None:
        if num_classes > len(bases):
            raise ValueError(f"labels use {num_classes} known classes but points has only {len(bases)} rows; "
                             "pass one point per known class.")
        num_classes = len(bases)
    if class_names is not None and len(class_names) < num_classes:
        raise ValueError(f"class_names has {len(class_names)} names but there are {num_classes} classes.")
    names = list(class_names) if class_names is not None else [f"class {k}" for k in range(num_classes)]
    colours = class_colours(num_classes)

    fig, axes = new_figure(size=(6.2, 4.8))
    ax = axes[0, 0]
    keep = _subsample(len(xy), max_points)
    xy, classes = xy[keep], classes[keep]
    for k in range(num_classes):
        members = classes == k
        if members.any():
            ax.scatter(xy[members, 0], xy[members, 1], s=5, color=colours[k], alpha=0.8, linewidths=0,
                       label=names[k], rasterized=True)
    unknown = classes == -1
    if unknown.any():
        ax.scatter(xy[unknown, 0], xy[unknown, 1], s=3, color=UNKNOWN_COLOUR, alpha=0.6, linewidths=0,
                   label="unknown", rasterized=True)
    for index, (name, values) in enumerate((extra or {}).items()):
        generated = float_array(f"extra[{name!r}]", values)
        if generated.ndim != 2 or generated.shape[1] != 2:
            raise ValueError(f"extra[{name!r}] must be [M, 2], got shape {generated.shape}.")
        generated = generated[_subsample(len(generated), max_points)]
        ax.scatter(generated[:, 0], generated[:, 1], s=12, marker="x", linewidths=0.9,
                   color=GENERATED_COLOURS[index % len(GENERATED_COLOURS)], label=name, rasterized=True)
    handles, _ = ax.get_legend_handles_labels()
    if bases is not None:
        ax.scatter(bases[:, 0], bases[:, 1], s=110, marker="^", c=colours, edgecolors="black",
                   linewidths=1.2, zorder=5, label="_points")
        handles.append(_triangle_handle(points_label))
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("feature 1")
    ax.set_ylabel("feature 2")
    ax.set_title(title)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=2.0,
                  handletextpad=0.3)
    return fig




@styled
def score_histograms(known_scores: Any, unknown_scores: Any,
                     title: str = "Maximum distance to reciprocal points (cf. Fig. 7, bottom row)",
                     bins: int = 60, xlabel: str = "max distance to reciprocal points (Eq. 20)",
                     labels: tuple[str, str] = ("known", "unknown")) -> Figure:
    """Overlapping density histograms of a score for known vs unknown samples (Fig. 7 bottom row), drawn
    with seaborn's ``histplot``.

    Both histograms share the same bin edges so their shapes compare directly; each is normalised to
    area 1 on its own, so the smaller set is not drawn flatter.
    """
    import seaborn as sns  # here: seaborn imports scipy, a second per stage

    known = finite_vector("known_scores", known_scores)
    unknown = finite_vector("unknown_scores", unknown_scores)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}.")
    if labels[0] == labels[1]:
        raise ValueError(f"labels must name the two sets differently, got {labels!r}.")
    low = min(known.min(), unknown.min())
    high = max(known.max(), unknown.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    names = [f"{labels[0]} (n={len(known)})", f"{labels[1]} (n={len(unknown)})"]
    scores = pd.DataFrame({"score": np.concatenate([known, unknown]),
                           "set": np.repeat(names, [len(known), len(unknown)])})
    fig, axes = new_figure(size=(5.6, 3.4))
    ax = axes[0, 0]
    sns.histplot(data=scores, x="score", hue="set", hue_order=names, palette=dict(zip(names, TAB10[:2])),
                 bins=edges, stat="density", common_norm=False, element="step", fill=True, alpha=0.4,
                 linewidth=1.2, ax=ax)
    sns.move_legend(ax, "best", title=None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    return fig
