"""ROC and OSCR curves, one line per method (Fig. 9; OSCR is Eq. 21-22), drawn from the rates
:func:`arpl.stages.osr.curves` computes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib import ticker as mticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from arpl.figures.inputs import fractions, non_empty, rate_curve
from arpl.figures.style import UNKNOWN_COLOUR, method_colours, new_figure, styled


def _percent_label(area: float | None, metric: str) -> str:
    return "" if area is None else f" ({metric} {100.0 * area:.1f}%)"


def _area(name: str, areas: Mapping[str, Any] | None, key: str) -> float | None:
    if areas is None or key not in areas:
        return None
    return float(fractions(f"{name}[{key!r}]", [areas[key]])[0])


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
    non_empty(name, curves)
    smallest_positive = 1.0
    for method, pair in curves.items():
        fpr, rate = rate_curve(f"{name}[{method!r}]", pair)
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


@styled
def roc_curves(curves: Mapping[str, tuple[Any, Any]], title: str = "ROC curves (cf. Fig. 9, top row)",
               areas: Mapping[str, float] | None = None, log_fpr: bool = False) -> Figure:
    """ROC curves, one line per method (paper Fig. 9, top row): ``curves[method] = (fpr, tpr)``.

    Rates are fractions, drawn in percent. ``areas[method]`` (AUROC, a fraction) is appended to
    the legend label when given. A dashed diagonal marks chance level.
    """
    fig, axes = new_figure(size=(4.6, 3.8))
    _draw_roc(axes[0, 0], curves, areas, method_colours(list(curves)), log_fpr, "curves")
    axes[0, 0].set_title(title)
    return fig


@styled
def oscr_curves(curves: Mapping[str, tuple[Any, Any]],
                title: str = "Open set classification rate (cf. Fig. 9, bottom row)",
                areas: Mapping[str, float] | None = None, log_fpr: bool = True) -> Figure:
    """OSCR curves (paper Eq. 21-22, Fig. 9 bottom row): ``curves[method] = (fpr, ccr)``.

    The FPR axis is logarithmic by default, as in Fig. 9, which shows where methods differ: at
    low false positive rates. ``areas[method]`` (OSCR, a fraction) goes into the legend label.
    """
    fig, axes = new_figure(size=(4.6, 3.8))
    _draw_oscr(axes[0, 0], curves, areas, method_colours(list(curves)), log_fpr, "curves")
    axes[0, 0].set_title(title)
    return fig


@styled
def roc_oscr_grid(roc: Mapping[str, Mapping[str, tuple[Any, Any]]],
                  oscr: Mapping[str, Mapping[str, tuple[Any, Any]]],
                  roc_areas: Mapping[str, Mapping[str, float]] | None = None,
                  oscr_areas: Mapping[str, Mapping[str, float]] | None = None,
                  title: str = "ROC (top) and OSCR (bottom) curves per unknown dataset (cf. Fig. 9)") -> Figure:
    """The full Fig. 9 layout: one column per unknown dataset, ROC on top and OSCR (log FPR) below.

    ``roc[dataset][method] = (fpr, tpr)`` and ``oscr[dataset][method] = (fpr, ccr)`` must name the
    same datasets; areas are nested the same way (dataset -> method -> fraction).
    """
    non_empty("roc", roc)
    non_empty("oscr", oscr)
    if list(roc) != list(oscr):
        raise ValueError(f"roc and oscr must list the same datasets in the same order, got {list(roc)} "
                         f"and {list(oscr)}.")
    methods = list(dict.fromkeys(m for panel in (*roc.values(), *oscr.values()) for m in panel))
    colours = method_colours(methods)
    fig, axes = new_figure(2, len(roc), size=(4.4, 3.6))
    for column, dataset in enumerate(roc):
        _draw_roc(axes[0, column], roc[dataset], (roc_areas or {}).get(dataset), colours, False,
                  f"roc[{dataset!r}]")
        _draw_oscr(axes[1, column], oscr[dataset], (oscr_areas or {}).get(dataset), colours, True,
                   f"oscr[{dataset!r}]")
        axes[0, column].set_title(f"unknown: {dataset}")
    fig.suptitle(title)
    return fig

