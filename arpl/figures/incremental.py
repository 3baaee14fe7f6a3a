"""Class-incremental learning (Sec. 5.5.4): overall accuracy against the number of classes seen, mean and
spread over class orders (Fig. 13), drawn from the table :func:`arpl.stages.incremental.run_incremental` computes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from arpl.figures.inputs import fractions, non_empty
from arpl.figures.style import MARKERS, integer_ticks, legend_outside, method_colours, new_figure, styled


@styled
def incremental_curves(results: Mapping[str, Mapping[int, Sequence[float]]],
                       title: str = "Class-incremental learning on CIFAR-100 (cf. Fig. 13)") -> Figure:
    """Overall accuracy vs number of classes seen, mean line with a ±1 std band per method (Fig. 13).

    ``results[method][classes_seen]`` lists the accuracies (fractions) over the random class
    orders; the band is the sample standard deviation across orders (zero for a single order).
    """
    non_empty("results", results)
    colours = method_colours(list(results))
    fig, axes = new_figure(size=(5.2, 3.8))
    ax = axes[0, 0]
    all_counts: list[float] = []
    for index, (method, per_count) in enumerate(results.items()):
        non_empty(f"results[{method!r}]", per_count)
        counts = np.array(sorted(per_count), dtype=float)
        runs = [fractions(f"results[{method!r}][{int(c)}]", per_count[int(c)]) for c in counts]
        mean = 100.0 * np.array([values.mean() for values in runs])
        std = 100.0 * np.array([values.std(ddof=1) if len(values) > 1 else 0.0 for values in runs])
        ax.plot(counts, mean, color=colours[method], marker=MARKERS[index % len(MARKERS)], label=method)
        ax.fill_between(counts, mean - std, mean + std, color=colours[method], alpha=0.18, linewidth=0)
        all_counts.extend(counts.tolist())
    integer_ticks(ax, all_counts)
    ax.set_xlabel("number of classes seen")
    ax.set_ylabel("overall accuracy (%), mean ± std")
    ax.set_title(title)
    legend_outside(ax)
    return fig

