"""The look shared by every figure: rc style, panel size, colours of methods and classes, markers, and the
helpers that build a styled figure and place its legend and ticks."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib import colors as mcolors
from matplotlib import ticker as mticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from arpl.methods import colours as registered_colours

TAB10 = list(mpl.colormaps["tab10"].colors)

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
    "axes.prop_cycle": cycler(color=TAB10),
    "image.interpolation": "nearest",
}

PANEL_SIZE = (4.2, 3.4)  # inches per plot panel
DPI = 120
UNKNOWN_COLOUR = "#b0b0b0"
GENERATED_COLOURS = ("#d62728", "#000000", "#9467bd")
# tab10 with red and grey swapped out, so known classes never look like generated (red) or
# unknown (grey) samples.
CLASS_COLOURS = tuple(TAB10[:3] + ["#393b79"] + TAB10[4:7] + ["#8c6d31"] + TAB10[8:])
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")

_F = TypeVar("_F", bound=Callable[..., Figure])


def styled(build: _F) -> _F:
    """Build the figure under ``STYLE`` (a temporary rc context; global rcParams are restored)."""

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with mpl.rc_context(STYLE):
            return build(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = PANEL_SIZE,
               squeeze: bool = False) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure of ``rows`` x ``cols`` panels of ``size`` inches each, and its axes."""
    fig = Figure(figsize=(size[0] * cols, size[1] * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=squeeze)
    return fig, axes


def method_colours(names: Sequence[str]) -> dict[str, Any]:
    """Colour per method name: the one its registered method or variant declares (:mod:`arpl.methods`, by display
    name), the next free tab10 colour otherwise."""
    fixed = {name: mcolors.to_rgb(colour) for name, colour in registered_colours().items()}
    taken = {fixed[name] for name in names if name in fixed}
    free = [colour for colour in TAB10 if mcolors.to_rgb(colour) not in taken]
    colours: dict[str, Any] = {}
    for name in names:
        if name in fixed:
            colours[name] = fixed[name]
        else:
            colours[name] = free.pop(0) if free else TAB10[len(colours) % len(TAB10)]
    return colours


def class_colours(num_classes: int) -> list[Any]:
    """Colour per known class: ``CLASS_COLOURS`` up to 10 classes, tab20 / turbo beyond."""
    if num_classes <= len(CLASS_COLOURS):
        return list(CLASS_COLOURS[:num_classes])
    if num_classes <= 20:
        return list(mpl.colormaps["tab20"].colors[:num_classes])
    return [mpl.colormaps["turbo"](value) for value in np.linspace(0.05, 0.95, num_classes)]


def legend_outside(ax: Axes) -> None:
    """Legend to the right of the axes, where it never hides data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))


def integer_ticks(ax: Axes, values: Sequence[float]) -> None:
    """Ticks at the observed x values when few and well spaced, else a sparse integer locator."""
    distinct = sorted(set(values))
    gaps = np.diff(distinct)
    span = distinct[-1] - distinct[0] if distinct else 0.0
    if len(distinct) <= 12 and (gaps.size == 0 or gaps.min() >= span / 14):
        ax.set_xticks(distinct, [f"{value:g}" for value in distinct])
    else:
        ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
