"""The ablations of Sec. 5.4, drawn from the tables :mod:`arpl.stages.ablations` computes: a metric against the
open-space weight lambda (Fig. 8), and the learned margin R and AUROC against the number of known classes
(Fig. 11)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from arpl.figures.inputs import fractions, non_empty, sorted_pairs
from arpl.figures.style import MARKERS, integer_ticks, legend_outside, method_colours, new_figure, styled


@styled
def lambda_curves(results: Mapping[str, Sequence[tuple[float, float]]], metric_name: str = "AUROC",
                  title: str = "Effect of the open-space weight λ (cf. Fig. 8)") -> Figure:
    """Metric vs λ (Eq. 14), one line with markers per method (paper Fig. 8).

    ``results[method] = [(lambda, value), ...]`` with values as fractions (drawn in percent). The
    λ axis is symmetric-log so that λ = 0 appears next to small positive values; ticks sit at
    the evaluated λ values.
    """
    non_empty("results", results)
    colours = method_colours(list(results))
    fig, axes = new_figure(size=(5.2, 3.8))
    ax = axes[0, 0]
    all_lambdas: list[float] = []
    for index, (method, pairs) in enumerate(results.items()):
        lambdas, values = sorted_pairs(f"results[{method!r}]", pairs)
        if lambdas.min() < 0:
            raise ValueError(f"results[{method!r}] has a negative λ; the loss weight must be >= 0.")
        fractions(f"results[{method!r}] values", values)
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
    legend_outside(ax)
    return fig


@styled
def margin_and_auroc_vs_known(margins: Mapping[str, Sequence[tuple[int, float]]],
                              aurocs: Mapping[str, Sequence[tuple[int, float]]],
                              title: str = "Margin and AUROC vs number of known classes (cf. Fig. 11)") -> Figure:
    """(a) learned margin R vs number of known classes K; (b) AUROC vs K per method (Fig. 11).

    ``margins[method] = [(K, R), ...]`` in feature-space distance units; ``aurocs[method] =
    [(K, auroc), ...]`` with AUROC as a fraction (drawn in percent).
    """
    non_empty("margins", margins)
    non_empty("aurocs", aurocs)
    colours = method_colours(list(dict.fromkeys([*margins, *aurocs])))
    fig, axes = new_figure(1, 2, size=(4.4, 3.5))
    panels = ((axes[0, 0], margins, "margins", "margin R (feature distance)", "(a) margin R", False),
              (axes[0, 1], aurocs, "aurocs", "AUROC (%)", "(b) AUROC", True))
    for ax, data, name, ylabel, panel_title, percent in panels:
        all_counts: list[float] = []
        for index, (method, pairs) in enumerate(data.items()):
            counts, values = sorted_pairs(f"{name}[{method!r}]", pairs)
            if percent:
                values = 100.0 * fractions(f"{name}[{method!r}] values", values)
            ax.plot(counts, values, color=colours[method], marker=MARKERS[index % len(MARKERS)], label=method)
            all_counts.extend(counts.tolist())
        integer_ticks(ax, all_counts)
        ax.set_xlabel("number of known classes K")
        ax.set_ylabel(ylabel)
        ax.set_title(panel_title)
        legend_outside(ax)
    fig.suptitle(title)
    return fig

