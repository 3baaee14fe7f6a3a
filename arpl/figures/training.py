"""Per-epoch training curves: one panel per metric, one line per model (Fig. 10), drawn from the history a
checkpoint keeps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from arpl.figures.inputs import non_empty
from arpl.figures.style import MARKERS, method_colours, new_figure, styled

_PRETTY = {"test_acc": "test accuracy", "train_acc": "train accuracy", "acc": "accuracy", "auroc": "AUROC",
           "oscr": "OSCR", "loss": "loss", "train_loss": "train loss"}


def _pretty(key: str) -> str:
    return _PRETTY.get(key, key.replace("_", " "))


@styled
def training_curves(histories: Mapping[str, Sequence[Mapping[str, float]]], keys: Sequence[str],
                    title: str = "Training curves (cf. Fig. 10)", epoch_key: str = "epoch") -> Figure:
    """One panel per metric in ``keys``, one line per variant, x = epoch (paper Fig. 10).

    ``histories[variant]`` is a list of per-epoch records (dicts). The x value is
    ``record[epoch_key]`` when present, else the 1-based record index. A metric whose values all
    lie in [0, 1] and whose name has no "loss" in it is drawn in percent. Records missing a key
    leave a gap.
    """
    non_empty("histories", histories)
    if isinstance(keys, str) or len(keys) == 0:
        raise ValueError("keys must be a non-empty list of metric names, e.g. ['test_acc', 'auroc'].")
    for variant, records in histories.items():
        if len(records) == 0 or not all(isinstance(record, Mapping) for record in records):
            raise ValueError(f"histories[{variant!r}] must be a non-empty list of per-epoch dicts.")
    colours = method_colours(list(histories))
    fig, axes = new_figure(1, len(keys), size=(4.4, 3.4))
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

