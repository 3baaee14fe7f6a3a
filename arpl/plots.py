"""Figures of the paper, drawn from plain numpy arrays (paper Figs. 1, 4, 6, 7, 8, 9, 10, 11, 12, 13).

Every function takes arrays (numpy, or torch tensors, which are copied to the CPU) and returns a
``matplotlib.figure.Figure`` built with the object API: no pyplot, no GUI backend, nothing to close.
:func:`save_figure` writes a figure atomically; :func:`publish` also returns it as a notebook image. Nothing here trains, loads or reads files.

Conventions:

* Metric values (accuracy, AUROC, OSCR, TPR, FPR, CCR) are fractions in [0, 1], as returned by
  ``arpl.metrics``; they are drawn in percent.
* Images are uint8 arrays ``[N, C, H, W]`` (or ``[C, H, W]`` for one image) with C = 1 or 3.
* Each method keeps the same colour in every figure (the ``colour`` its class in :mod:`arpl.methods`
  declares); known classes use ``CLASS_COLOURS``, unknown samples are light grey and generated samples red.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib import colors as mcolors
from matplotlib import ticker as mticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

# --- style -------------------------------------------------------------------------------------

_TAB10 = list(mpl.colormaps["tab10"].colors)

STYLE: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "figure.titlesize": 12,
    "axes.grid": True,
    "grid.alpha": 0.35,
    "grid.linestyle": ":",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "axes.prop_cycle": cycler(color=_TAB10),
    "image.interpolation": "nearest",
}

PANEL_SIZE = (4.2, 3.4)  # inches per plot panel
DPI = 120
UNKNOWN_COLOUR = "#b0b0b0"
GENERATED_COLOURS = ("#d62728", "#000000", "#9467bd")
# tab10 with red and grey swapped out, so known classes never look like generated (red) or
# unknown (grey) samples.
CLASS_COLOURS = tuple(_TAB10[:3] + ["#393b79"] + _TAB10[4:7] + ["#8c6d31"] + _TAB10[8:])
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_IMAGE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")

_F = TypeVar("_F", bound=Callable[..., Figure])


def _styled(build: _F) -> _F:
    """Build the figure under ``STYLE`` (a temporary rc context; global rcParams are restored)."""

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with mpl.rc_context(STYLE):
            return build(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = PANEL_SIZE,
                squeeze: bool = False) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(size[0] * cols, size[1] * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=squeeze)
    return fig, axes


def method_colours(names: Sequence[str]) -> dict[str, Any]:
    """Colour per method name: the one its registered method or variant declares (:mod:`arpl.methods`, by display
    name), the next free tab10 colour otherwise."""
    from arpl.methods import colours as registered_colours

    fixed = {name: mcolors.to_rgb(colour) for name, colour in registered_colours().items()}
    taken = {fixed[name] for name in names if name in fixed}
    free = [colour for colour in _TAB10 if mcolors.to_rgb(colour) not in taken]
    colours: dict[str, Any] = {}
    for name in names:
        if name in fixed:
            colours[name] = fixed[name]
        else:
            colours[name] = free.pop(0) if free else _TAB10[len(colours) % len(_TAB10)]
    return colours


def class_colours(num_classes: int) -> list[Any]:
    """Colour per known class: ``CLASS_COLOURS`` up to 10 classes, tab20 / turbo beyond."""
    if num_classes <= len(CLASS_COLOURS):
        return list(CLASS_COLOURS[:num_classes])
    if num_classes <= 20:
        return list(mpl.colormaps["tab20"].colors[:num_classes])
    return [mpl.colormaps["turbo"](value) for value in np.linspace(0.05, 0.95, num_classes)]


# --- input validation --------------------------------------------------------------------------

def _to_numpy(value: Any) -> np.ndarray:
    """Return ``value`` as a numpy array; torch tensors are detached and copied to the CPU."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _non_empty(name: str, mapping: Mapping[str, Any]) -> None:
    if not isinstance(mapping, Mapping) or len(mapping) == 0:
        raise ValueError(f"{name} must be a non-empty dict (name -> data), got {mapping!r:.80}.")


def _float_array(name: str, value: Any) -> np.ndarray:
    try:
        return _to_numpy(value).astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric and rectangular (equal-length rows): {error}") from error


def _finite_vector(name: str, value: Any) -> np.ndarray:
    array = _float_array(name, value)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values; drop them before plotting.")
    return array


def _fractions(name: str, value: Any) -> np.ndarray:
    array = _finite_vector(name, value)
    if array.min() < 0.0 or array.max() > 1.0:
        raise ValueError(f"{name} must hold fractions in [0, 1] (got range {array.min():g}..{array.max():g}); "
                         "pass metric values as fractions, they are drawn in percent.")
    return array


def _curve(name: str, pair: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
        raise ValueError(f"{name} must be a pair (x, y) of 1-D arrays, e.g. (fpr, tpr).")
    x = _fractions(f"{name}[0]", pair[0])
    y = _fractions(f"{name}[1]", pair[1])
    if len(x) != len(y):
        raise ValueError(f"{name} has {len(x)} x values but {len(y)} y values; both arrays come from "
                         "the same threshold sweep and must have the same length.")
    return x, y


def _images(name: str, value: Any, ndim: int = 4) -> np.ndarray:
    """Return uint8 images as ``[N, H, W, 3]`` (ndim=4) or ``[H, W, 3]`` (ndim=3) for imshow."""
    array = _to_numpy(value)
    layout = "[N, C, H, W]" if ndim == 4 else "[C, H, W]"
    if array.ndim != ndim:
        raise ValueError(f"{name} must have layout {layout}, got shape {array.shape}.")
    if array.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 in 0..255, got dtype {array.dtype}; convert float images "
                         "in [0, 1] with (x * 255).round().astype(np.uint8).")
    channels = array.shape[-3]
    if channels not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels (C in {layout}), got {channels}.")
    if channels == 1:
        array = np.repeat(array, 3, axis=-3)
    return np.moveaxis(array, -3, -1)


def _pairs(name: str, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Split a list of (x, y) tuples into two float arrays sorted by x."""
    array = _float_array(name, values)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ValueError(f"{name} must be a non-empty list of (x, y) pairs, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    order = np.argsort(array[:, 0], kind="stable")
    return array[order, 0], array[order, 1]


def _legend_outside(ax: Axes) -> None:
    """Legend to the right of the axes, where it never hides data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _integer_ticks(ax: Axes, values: Sequence[float]) -> None:
    """Ticks at the observed x values when few and well spaced, else a sparse integer locator."""
    distinct = sorted(set(values))
    gaps = np.diff(distinct)
    span = distinct[-1] - distinct[0] if distinct else 0.0
    if len(distinct) <= 12 and (gaps.size == 0 or gaps.min() >= span / 14):
        ax.set_xticks(distinct, [f"{value:g}" for value in distinct])
    else:
        ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))


def _percent_label(area: float | None, metric: str) -> str:
    return "" if area is None else f" ({metric} {100.0 * area:.1f}%)"


def _area(name: str, areas: Mapping[str, Any] | None, key: str) -> float | None:
    if areas is None or key not in areas:
        return None
    return float(_fractions(f"{name}[{key!r}]", [areas[key]])[0])


# --- saving ------------------------------------------------------------------------------------

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

    A notebook cell that ends with ``plots.publish(figure, path)`` shows exactly the file the stage writes as
    its DVC output. (A bare ``Figure`` built without pyplot has no image formatter in the kernel and would
    show only its text repr.)
    """
    from IPython.display import Image

    return Image(filename=str(save_figure(fig, path)[0]))

# --- images (data stage, Fig. 6) ---------------------------------------------------------------

@_styled
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
        images = _images(f"rows[{index}] images", row[1])
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


@_styled
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
    values = _finite_vector("distances_or_t", distances_or_t)
    images = [_images(f"images_along_line[{i}]", image, ndim=3) for i, image in enumerate(images_along_line)]
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


# --- ROC / OSCR (Fig. 9) -----------------------------------------------------------------------

def _draw_roc(ax: Axes, curves: Mapping[str, Any], areas: Mapping[str, Any] | None,
              colours: Mapping[str, Any], log_fpr: bool, name: str) -> None:
    ax.plot([0, 100], [0, 100], linestyle="--", color=UNKNOWN_COLOUR, linewidth=1, label="_chance")
    _draw_rate_curves(ax, curves, areas, colours, log_fpr, name, "AUROC")
    ax.set_ylabel("True positive rate, knowns accepted (%)")


def _draw_oscr(ax: Axes, curves: Mapping[str, Any], areas: Mapping[str, Any] | None,
               colours: Mapping[str, Any], log_fpr: bool, name: str) -> None:
    _draw_rate_curves(ax, curves, areas, colours, log_fpr, name, "OSCR")
    ax.set_ylabel("Correct classification rate (%)")


def _draw_rate_curves(ax: Axes, curves: Mapping[str, Any], areas: Mapping[str, Any] | None,
                      colours: Mapping[str, Any], log_fpr: bool, name: str, metric: str) -> None:
    """Draw y-vs-FPR curves in percent; on a log FPR axis the FPR = 0 points are dropped."""
    _non_empty(name, curves)
    smallest_positive = 1.0
    for method, pair in curves.items():
        fpr, rate = _curve(f"{name}[{method!r}]", pair)
        if log_fpr:
            keep = fpr > 0
            fpr, rate = fpr[keep], rate[keep]
            if fpr.size:
                smallest_positive = min(smallest_positive, float(fpr.min()))
        label = f"{method}{_percent_label(_area('areas', areas, method), metric)}"
        ax.plot(100.0 * fpr, 100.0 * rate, color=colours[method], label=label)
    if log_fpr:
        ax.set_xscale("log")
        ax.set_xlim(100.0 * 10 ** np.floor(np.log10(smallest_positive)), 100.0)
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda value, _: f"{value:g}"))
        ax.set_xlabel("False positive rate, unknowns accepted (%, log scale)")
    else:
        ax.set_xlim(0, 100)
        ax.set_xlabel("False positive rate, unknowns accepted (%)")
    ax.set_ylim(0, 101)
    ax.legend(loc="lower right")


@_styled
def roc_curves(curves: Mapping[str, tuple[Any, Any]], title: str = "ROC curves (cf. Fig. 9, top row)",
               areas: Mapping[str, float] | None = None, log_fpr: bool = False) -> Figure:
    """ROC curves, one line per method (paper Fig. 9, top row): ``curves[method] = (fpr, tpr)``.

    Rates are fractions, drawn in percent. ``areas[method]`` (AUROC, a fraction) is appended to
    the legend label when given. A dashed diagonal marks chance level.
    """
    fig, axes = _new_figure(size=(4.6, 3.8))
    _draw_roc(axes[0, 0], curves, areas, method_colours(list(curves)), log_fpr, "curves")
    axes[0, 0].set_title(title)
    return fig


@_styled
def oscr_curves(curves: Mapping[str, tuple[Any, Any]],
                title: str = "Open set classification rate (cf. Fig. 9, bottom row)",
                areas: Mapping[str, float] | None = None, log_fpr: bool = True) -> Figure:
    """OSCR curves (paper Eq. 21-22, Fig. 9 bottom row): ``curves[method] = (fpr, ccr)``.

    The FPR axis is logarithmic by default, as in Fig. 9, which shows where methods differ: at
    low false positive rates. ``areas[method]`` (OSCR, a fraction) goes into the legend label.
    """
    fig, axes = _new_figure(size=(4.6, 3.8))
    _draw_oscr(axes[0, 0], curves, areas, method_colours(list(curves)), log_fpr, "curves")
    axes[0, 0].set_title(title)
    return fig


@_styled
def roc_oscr_grid(roc: Mapping[str, Mapping[str, tuple[Any, Any]]],
                  oscr: Mapping[str, Mapping[str, tuple[Any, Any]]],
                  roc_areas: Mapping[str, Mapping[str, float]] | None = None,
                  oscr_areas: Mapping[str, Mapping[str, float]] | None = None,
                  title: str = "ROC (top) and OSCR (bottom) curves per unknown dataset (cf. Fig. 9)") -> Figure:
    """The full Fig. 9 layout: one column per unknown dataset, ROC on top and OSCR (log FPR) below.

    ``roc[dataset][method] = (fpr, tpr)`` and ``oscr[dataset][method] = (fpr, ccr)`` must name the
    same datasets; areas are nested the same way (dataset -> method -> fraction).
    """
    _non_empty("roc", roc)
    _non_empty("oscr", oscr)
    if list(roc) != list(oscr):
        raise ValueError(f"roc and oscr must list the same datasets in the same order, got {list(roc)} "
                         f"and {list(oscr)}.")
    methods = list(dict.fromkeys(m for panel in (*roc.values(), *oscr.values()) for m in panel))
    colours = method_colours(methods)
    fig, axes = _new_figure(2, len(roc), size=(4.4, 3.6))
    for column, dataset in enumerate(roc):
        _draw_roc(axes[0, column], roc[dataset], (roc_areas or {}).get(dataset), colours, False,
                  f"roc[{dataset!r}]")
        _draw_oscr(axes[1, column], oscr[dataset], (oscr_areas or {}).get(dataset), colours, True,
                   f"oscr[{dataset!r}]")
        axes[0, column].set_title(f"unknown: {dataset}")
    fig.suptitle(title)
    return fig


# --- feature space (Figs. 1, 4, 7, 12) ---------------------------------------------------------

def _subsample(count: int, max_points: int) -> np.ndarray:
    """Deterministic uniform subsample of ``range(count)`` (fixed seed, sorted indices)."""
    if count <= max_points:
        return np.arange(count)
    return np.sort(np.random.default_rng(0).choice(count, size=max_points, replace=False))


def _triangle_handle(label: str) -> Line2D:
    return Line2D([], [], linestyle="", marker="^", markersize=5, markerfacecolor="white",
                  markeredgecolor="black", label=label)


@_styled
def feature_space(features: Any, labels: Any, points: Any | None = None,
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
    xy = _float_array("features", features)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"features must be [N, 2] (project higher-dimensional features first), got {xy.shape}.")
    classes = _to_numpy(labels)
    if classes.ndim != 1 or len(classes) != len(xy):
        raise ValueError(f"labels must be 1-D with one entry per feature row: got shape {classes.shape} "
                         f"for {len(xy)} features.")
    if classes.size and (not np.issubdtype(classes.dtype, np.integer) or classes.min() < -1):
        raise ValueError("labels must be integers: a known class index >= 0, or -1 for unknown samples.")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}.")
    bases = None if points is None else _float_array("points", points)
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

    fig, axes = _new_figure(size=(6.2, 4.8))
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
        generated = _float_array(f"extra[{name!r}]", values)
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


@_styled
def distance_histograms(known_scores: Any, unknown_scores: Any,
                        title: str = "Maximum distance to reciprocal points (cf. Fig. 7, bottom row)",
                        bins: int = 60, xlabel: str = "max distance to reciprocal points (Eq. 20)",
                        labels: tuple[str, str] = ("known", "unknown")) -> Figure:
    """Overlapping density histograms of a score for known vs unknown samples (Fig. 7 bottom row).

    Both histograms share the same bin edges so their shapes compare directly.
    """
    known = _finite_vector("known_scores", known_scores)
    unknown = _finite_vector("unknown_scores", unknown_scores)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}.")
    low = min(known.min(), unknown.min())
    high = max(known.max(), unknown.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    fig, axes = _new_figure(size=(5.6, 3.4))
    ax = axes[0, 0]
    for values, label, colour in ((known, labels[0], _TAB10[0]), (unknown, labels[1], _TAB10[1])):
        ax.hist(values, bins=edges, density=True, histtype="stepfilled", facecolor=mcolors.to_rgba(colour, 0.4),
                edgecolor=colour, linewidth=1.2, label=f"{label} (n={len(values)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(loc="best")
    return fig


# --- training and ablation curves (Figs. 8, 10, 11, 13) ----------------------------------------

_PRETTY = {"test_acc": "test accuracy", "train_acc": "train accuracy", "acc": "accuracy", "auroc": "AUROC",
           "oscr": "OSCR", "loss": "loss", "train_loss": "train loss"}


def _pretty(key: str) -> str:
    return _PRETTY.get(key, key.replace("_", " "))


@_styled
def training_curves(histories: Mapping[str, Sequence[Mapping[str, float]]], keys: Sequence[str],
                    title: str = "Training curves (cf. Fig. 10)", epoch_key: str = "epoch") -> Figure:
    """One panel per metric in ``keys``, one line per variant, x = epoch (paper Fig. 10).

    ``histories[variant]`` is a list of per-epoch records (dicts). The x value is
    ``record[epoch_key]`` when present, else the 1-based record index. A metric whose values all
    lie in [0, 1] and whose name has no "loss" in it is drawn in percent. Records missing a key
    leave a gap.
    """
    _non_empty("histories", histories)
    if isinstance(keys, str) or len(keys) == 0:
        raise ValueError("keys must be a non-empty list of metric names, e.g. ['test_acc', 'auroc'].")
    for variant, records in histories.items():
        if len(records) == 0 or not all(isinstance(record, Mapping) for record in records):
            raise ValueError(f"histories[{variant!r}] must be a non-empty list of per-epoch dicts.")
    colours = method_colours(list(histories))
    fig, axes = _new_figure(1, len(keys), size=(4.4, 3.4))
    for ax, key in zip(axes[0], keys):
        series = {variant: np.array([float(record.get(key, np.nan)) for record in records])
                  for variant, records in histories.items()}
        observed = np.concatenate([values[np.isfinite(values)] for values in series.values()])
        if observed.size == 0:
            raise ValueError(f"key {key!r} is missing from every record of every history; "
                             f"available keys include {sorted(next(iter(histories.values()))[0])}.")
        percent = "loss" not in key and observed.min() >= 0.0 and observed.max() <= 1.0
        for index, (variant, values) in enumerate(series.items()):
            records = histories[variant]
            epochs = np.array([record.get(epoch_key, i + 1) for i, record in enumerate(records)], dtype=float)
            ax.plot(epochs, 100.0 * values if percent else values, color=colours[variant], label=variant,
                    marker=MARKERS[index % len(MARKERS)], markevery=max(1, len(epochs) // 10))
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{_pretty(key)} (%)" if percent else _pretty(key))
        ax.set_title(_pretty(key))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5))
    fig.suptitle(title)
    return fig


@_styled
def lambda_ablation(results: Mapping[str, Sequence[tuple[float, float]]], metric_name: str = "AUROC",
                    title: str = "Effect of the open-space weight λ (cf. Fig. 8)") -> Figure:
    """Metric vs λ (Eq. 14), one line with markers per method (paper Fig. 8).

    ``results[method] = [(lambda, value), ...]`` with values as fractions (drawn in percent). The
    λ axis is symmetric-log so that λ = 0 appears next to small positive values; ticks sit at
    the evaluated λ values.
    """
    _non_empty("results", results)
    colours = method_colours(list(results))
    fig, axes = _new_figure(size=(5.2, 3.8))
    ax = axes[0, 0]
    all_lambdas: list[float] = []
    for index, (method, pairs) in enumerate(results.items()):
        lambdas, values = _pairs(f"results[{method!r}]", pairs)
        if lambdas.min() < 0:
            raise ValueError(f"results[{method!r}] has a negative λ; the loss weight must be >= 0.")
        _fractions(f"results[{method!r}] values", values)
        ax.plot(lambdas, 100.0 * values, color=colours[method], marker=MARKERS[index % len(MARKERS)],
                label=method)
        all_lambdas.extend(lambdas.tolist())
    ticks = sorted(set(all_lambdas))
    positive = [value for value in ticks if value > 0]
    ax.set_xscale("symlog", linthresh=min(positive) if positive else 1.0, linscale=0.5)
    ax.set_xticks(ticks, [f"{value:g}" for value in ticks])
    ax.minorticks_off()
    ax.set_xlabel("λ (weight of the open-space loss, Eq. 14; symlog scale)")
    ax.set_ylabel(f"{metric_name} (%)")
    ax.set_title(title)
    _legend_outside(ax)
    return fig


@_styled
def margin_and_auroc_vs_known(margins: Mapping[str, Sequence[tuple[int, float]]],
                              aurocs: Mapping[str, Sequence[tuple[int, float]]],
                              title: str = "Margin and AUROC vs number of known classes (cf. Fig. 11)") -> Figure:
    """(a) learned margin R vs number of known classes K; (b) AUROC vs K per method (Fig. 11).

    ``margins[method] = [(K, R), ...]`` in feature-space distance units; ``aurocs[method] =
    [(K, auroc), ...]`` with AUROC as a fraction (drawn in percent).
    """
    _non_empty("margins", margins)
    _non_empty("aurocs", aurocs)
    colours = method_colours(list(dict.fromkeys([*margins, *aurocs])))
    fig, axes = _new_figure(1, 2, size=(4.4, 3.5))
    panels = ((axes[0, 0], margins, "margins", "margin R (feature distance)", "(a) margin R", False),
              (axes[0, 1], aurocs, "aurocs", "AUROC (%)", "(b) AUROC", True))
    for ax, data, name, ylabel, panel_title, percent in panels:
        all_counts: list[float] = []
        for index, (method, pairs) in enumerate(data.items()):
            counts, values = _pairs(f"{name}[{method!r}]", pairs)
            if percent:
                values = 100.0 * _fractions(f"{name}[{method!r}] values", values)
            ax.plot(counts, values, color=colours[method], marker=MARKERS[index % len(MARKERS)], label=method)
            all_counts.extend(counts.tolist())
        _integer_ticks(ax, all_counts)
        ax.set_xlabel("number of known classes K")
        ax.set_ylabel(ylabel)
        ax.set_title(panel_title)
        _legend_outside(ax)
    fig.suptitle(title)
    return fig


@_styled
def incremental_curves(results: Mapping[str, Mapping[int, Sequence[float]]],
                       title: str = "Class-incremental learning on CIFAR-100 (cf. Fig. 13)") -> Figure:
    """Overall accuracy vs number of classes seen, mean line with a ±1 std band per method (Fig. 13).

    ``results[method][classes_seen]`` lists the accuracies (fractions) over the random class
    orders; the band is the sample standard deviation across orders (zero for a single order).
    """
    _non_empty("results", results)
    colours = method_colours(list(results))
    fig, axes = _new_figure(size=(5.2, 3.8))
    ax = axes[0, 0]
    all_counts: list[float] = []
    for index, (method, per_count) in enumerate(results.items()):
        _non_empty(f"results[{method!r}]", per_count)
        counts = np.array(sorted(per_count), dtype=float)
        runs = [_fractions(f"results[{method!r}][{int(c)}]", per_count[int(c)]) for c in counts]
        mean = 100.0 * np.array([values.mean() for values in runs])
        std = 100.0 * np.array([values.std(ddof=1) if len(values) > 1 else 0.0 for values in runs])
        ax.plot(counts, mean, color=colours[method], marker=MARKERS[index % len(MARKERS)], label=method)
        ax.fill_between(counts, mean - std, mean + std, color=colours[method], alpha=0.18, linewidth=0)
        all_counts.extend(counts.tolist())
    _integer_ticks(ax, all_counts)
    ax.set_xlabel("number of classes seen")
    ax.set_ylabel("overall accuracy (%), mean ± std")
    ax.set_title(title)
    _legend_outside(ax)
    return fig


@_styled
def bar_table(values: Mapping[str, Mapping[str, float]], title: str = "Closed-set accuracy (cf. Table 4)",
              ylabel: str = "accuracy (%)", percent: bool = True) -> Figure:
    """Grouped bars: one group per outer key (e.g. dataset), one bar per inner key (e.g. method).

    With ``percent`` the values must be fractions and are drawn ×100. Each bar is labelled with
    its value; a method missing from a group leaves an empty slot.
    """
    _non_empty("values", values)
    series = list(dict.fromkeys(name for group in values.values() for name in group))
    colours = method_colours(series)
    groups = list(values)
    fig, axes = _new_figure(size=(max(4.5, 1.0 + 0.45 * len(groups) * len(series)), 3.6))
    ax = axes[0, 0]
    width = 0.8 / len(series)
    for index, name in enumerate(series):
        heights = np.array([values[group].get(name, np.nan) for group in groups], dtype=float)
        finite = heights[np.isfinite(heights)]
        if percent:
            _fractions(f"values[...][{name!r}]", finite)
            heights = 100.0 * heights
        positions = np.arange(len(groups)) + (index - (len(series) - 1) / 2) * width
        bars = ax.bar(positions, np.nan_to_num(heights), width=width * 0.95, color=colours[name], label=name)
        ax.bar_label(bars, [f"{h:.1f}" if np.isfinite(h) else "" for h in heights], fontsize=7, padding=1)
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.grid(axis="x", visible=False)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


# --- the report's front page ---------------------------------------------------------------------

@_styled
def anchor_comparison(table: Any, metric: str = "AUROC",
                      title: str = "Ours vs the authors' code on the same splits") -> Figure:
    """Bars of our ``metric`` (percent) per split, one bar per method, and a black tick with the value of the
    authors' own code (the anchor) where it exists, labelled with our difference to it.

    ``table`` is :func:`arpl.summary.anchor_comparison`'s frame: columns method, split, ``metric`` and
    ``"<metric> anchor"`` (NaN where the authors' code was not run).
    """
    import seaborn as sns

    methods = list(dict.fromkeys(table["method"]))
    fig, axes = _new_figure(size=(max(5.0, 0.5 * len(methods) * table["split"].nunique() + 2.0), 3.8))
    ax = axes[0, 0]
    sns.barplot(data=table, x="split", y=metric, hue="method", hue_order=methods, palette=method_colours(methods),
                ax=ax)
    splits = sorted(table["split"].unique())
    for method, bars in zip(methods, ax.containers):
        rows = table[table.method == method].set_index("split")
        for split, bar in zip(splits, bars):
            anchor = rows[f"{metric} anchor"].get(split, np.nan)
            if not np.isfinite(anchor):
                continue
            x0, width = bar.get_x(), bar.get_width()
            ax.plot([x0, x0 + width], [anchor, anchor], color="black", linewidth=2.2, solid_capstyle="butt")
            ax.annotate(f"{rows[metric][split] - anchor:+.1f}", (x0 + width / 2, max(anchor, rows[metric][split])),
                        xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7)
    ax.plot([], [], color="black", linewidth=2.2, label="authors' code (anchor)")
    lowest = np.nanmin(np.concatenate([table[metric].to_numpy(float), table[f"{metric} anchor"].to_numpy(float)]))
    ax.set_ylim(max(0.0, float(lowest) - 15.0), 100.0)
    ax.set_ylabel(f"{metric} (%), own score")
    ax.set_title(title)
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
