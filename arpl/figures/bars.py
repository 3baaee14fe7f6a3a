"""Bar charts: grouped values per dataset and method (closed-set accuracy, Table 4), and our scores beside
those of the authors' own code on the same splits (the report's front page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from arpl.figures.inputs import fractions, non_empty
from arpl.figures.style import method_colours, new_figure, styled


@styled
def bar_table(values: Mapping[str, Mapping[str, float]], title: str = "Closed-set accuracy (cf. Table 4)",
              ylabel: str = "accuracy (%)", percent: bool = True) -> Figure:
    """Grouped bars: one group per outer key (e.g. dataset), one bar per inner key (e.g. method).

    With ``percent`` the values must be fractions and are drawn ×100. Each bar is labelled with
    its value; a method missing from a group leaves an empty slot.
    """
    non_empty("values", values)
    series = list(dict.fromkeys(name for group in values.values() for name in group))
    colours = method_colours(series)
    groups = list(values)
    fig, axes = new_figure(size=(max(4.5, 1.0 + 0.45 * len(groups) * len(series)), 3.6))
    ax = axes[0, 0]
    width = 0.8 / len(series)
    for index, name in enumerate(series):
        heights = np.array([values[group].get(name, np.nan) for group in groups], dtype=float)
        finite = heights[np.isfinite(heights)]
        if percent:
            fractions(f"values[...][{name!r}]", finite)
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


@styled
def anchor_bars(table: Any, metric: str = "AUROC",
                title: str = "Ours vs the authors' code on the same splits") -> Figure:
    """Bars of our ``metric`` (percent) per split, one bar per method, and a black tick with the value of the
    authors' own code (the anchor) where it exists, labelled with our difference to it.

    ``table`` is :func:`arpl.stages.report.anchor_comparison`'s frame: columns method, split, ``metric`` and
    ``"<metric> anchor"`` (NaN where the authors' code was not run).
    """
    import seaborn as sns  # here: seaborn imports scipy, a second per stage

    methods = list(dict.fromkeys(table["method"]))
    fig, axes = new_figure(size=(max(5.0, 0.5 * len(methods) * table["split"].nunique() + 2.0), 3.8))
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
