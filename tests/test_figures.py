"""Tests for the arpl.figures package: figure structure, atomic saving, input validation (all headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
import torch
from matplotlib.collections import FillBetweenPolyCollection, PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from arpl.figures import style
from arpl.figures.ablations import lambda_curves, margin_and_auroc_vs_known
from arpl.figures.bars import bar_table
from arpl.figures.feature_space import feature_scatter, score_histograms
from arpl.figures.images import image_grid, real_and_generated_rows, retrieval_strip
from arpl.figures.incremental import incremental_curves
from arpl.figures.osr import oscr_curves, roc_curves, roc_oscr_grid
from arpl.figures.saving import publish, save_figure
from arpl.figures.training import training_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _curve(power: float, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    fpr = np.linspace(0.0, 1.0, n)
    return fpr, fpr ** power


def _legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def _visible_lines(ax) -> list:
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def _features(n_known: int = 600, n_unknown: int = 200, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng()
    labels = np.concatenate([rng.integers(0, k, n_known), -np.ones(n_unknown, dtype=np.int64)])
    features = rng.normal(size=(n_known + n_unknown, 2)) + 5 * (labels[:, None] + 1)
    return features, labels


def _images(n: int, channels: int = 1, size: int = 8) -> np.ndarray:
    return _rng().integers(0, 256, (n, channels, size, size), dtype=np.uint8)


# --- save_figure ---------------------------------------------------------------------------------

def test_save_figure_writes_png_atomically_without_leftovers(tmp_path: Path) -> None:
    fig = roc_curves({"ARPL": _curve(0.2)})
    written = save_figure(fig, tmp_path / "nested" / "dir" / "roc.png")
    assert written == [tmp_path / "nested" / "dir" / "roc.png"]
    data = written[0].read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert sorted(p.name for p in written[0].parent.iterdir()) == ["roc.png"]


def test_save_figure_several_formats_and_overwrite(tmp_path: Path) -> None:
    fig = score_histograms([1.0, 2.0, 3.0], [0.5, 1.5])
    first = save_figure(fig, tmp_path / "hist", formats=("png", "svg"))
    assert [p.name for p in first] == ["hist.png", "hist.svg"]
    second = save_figure(fig, tmp_path / "hist.png", formats=("png",))
    assert second == [tmp_path / "hist.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hist.png", "hist.svg"]
    assert (tmp_path / "hist.svg").read_text().lstrip().startswith("<?xml")


def test_save_figure_rejects_bad_formats_and_leaves_nothing(tmp_path: Path) -> None:
    fig = roc_curves({"ARPL": _curve(0.2)})
    with pytest.raises(ValueError, match="formats"):
        save_figure(fig, tmp_path / "x", formats=("nope",))
    with pytest.raises(ValueError, match="formats"):
        save_figure(fig, tmp_path / "x", formats=())
    with pytest.raises(ValueError, match="Figure"):
        save_figure("not a figure", tmp_path / "x")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_publish_saves_the_png_and_shows_that_very_file(tmp_path: Path) -> None:
    image = publish(roc_curves({"ARPL": _curve(0.2)}), tmp_path / "figures" / "roc.png")
    saved = tmp_path / "figures" / "roc.png"
    assert type(image).__name__ == "Image" and image.format == "png"
    assert image.data == saved.read_bytes() and saved.read_bytes().startswith(PNG_MAGIC)


def test_builders_leave_global_rcparams_untouched() -> None:
    before = dict(mpl.rcParams)
    lambda_curves({"ARPL": [(0.0, 0.8), (0.1, 0.9)]})
    assert dict(mpl.rcParams) == before


# --- ROC / OSCR ----------------------------------------------------------------------------------

def test_roc_curves_three_lines_legend_with_areas() -> None:
    curves = {"Softmax": _curve(0.5), "GCPL": _curve(0.3), "ARPL": _curve(0.1)}
    fig = roc_curves(curves, title="ROC", areas={"ARPL": 0.925})
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(_visible_lines(ax)) == 3
    texts = _legend_texts(ax)
    assert texts[:2] == ["Softmax", "GCPL"]
    assert texts[2] == "ARPL (AUROC 92.5%)"
    assert ax.get_title() == "ROC"
    np.testing.assert_allclose(_visible_lines(ax)[0].get_xdata(), 100 * curves["Softmax"][0])


def test_method_colours_are_the_same_across_figures() -> None:
    a = roc_curves({"ARPL": _curve(0.1), "Softmax": _curve(0.5)})
    b = roc_curves({"Softmax": _curve(0.5), "ARPL": _curve(0.1), "Mine": _curve(0.2)})
    colour_a = {line.get_label(): line.get_color() for line in _visible_lines(a.axes[0])}
    colour_b = {line.get_label(): line.get_color() for line in _visible_lines(b.axes[0])}
    assert colour_a["ARPL"] == colour_b["ARPL"] and colour_a["Softmax"] == colour_b["Softmax"]
    assert len(set(colour_b.values())) == 3


def test_oscr_curves_log_axis_drops_zero_fpr() -> None:
    fpr = np.array([0.0, 0.001, 0.01, 0.1, 1.0])
    ccr = np.array([0.0, 0.3, 0.5, 0.8, 0.95])
    fig = oscr_curves({"ARPL": (fpr, ccr), "GCPL": (fpr, ccr * 0.9)}, areas={"ARPL": 0.8, "GCPL": 0.7})
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert len(ax.get_lines()) == 2
    assert len(ax.get_lines()[0].get_xdata()) == 4
    assert _legend_texts(ax) == ["ARPL (OSCR 80.0%)", "GCPL (OSCR 70.0%)"]
    linear = oscr_curves({"ARPL": (fpr, ccr)}, log_fpr=False)
    assert linear.axes[0].get_xscale() == "linear"


def test_roc_oscr_grid_has_two_rows_per_dataset() -> None:
    panel = {"Softmax": _curve(0.5), "ARPL": _curve(0.1)}
    datasets = ["KMNIST", "SVHN", "CIFAR100"]
    fig = roc_oscr_grid({d: panel for d in datasets}, {d: panel for d in datasets})
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == [f"unknown: {d}" for d in datasets]
    assert [ax.get_xscale() for ax in fig.axes[3:]] == ["log"] * 3
    with pytest.raises(ValueError, match="same datasets"):
        roc_oscr_grid({"A": panel}, {"B": panel})


def test_curve_validation_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"curves\['ARPL'\].*same length"):
        roc_curves({"ARPL": (np.linspace(0, 1, 5), np.linspace(0, 1, 4))})
    with pytest.raises(ValueError, match="fractions"):
        roc_curves({"ARPL": (np.linspace(0, 100, 5), np.linspace(0, 1, 5))})
    with pytest.raises(ValueError, match="pair"):
        oscr_curves({"ARPL": np.linspace(0, 1, 5)})
    with pytest.raises(ValueError, match="non-empty dict"):
        roc_curves({})
    with pytest.raises(ValueError, match="areas"):
        roc_curves({"ARPL": _curve(0.2)}, areas={"ARPL": 92.5})


# --- feature space and histograms ----------------------------------------------------------------

def test_feature_scatter_draws_classes_unknowns_and_k_triangles() -> None:
    features, labels = _features(k=4)
    points = np.arange(8, dtype=float).reshape(4, 2)
    fig = feature_scatter(features, labels, points, title="features")
    (ax,) = fig.axes
    collections = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(collections) == 4 + 1 + 1  # 4 classes, unknown, points
    triangles = collections[-1]
    assert len(triangles.get_offsets()) == 4
    assert len(triangles.get_facecolors()) == 4
    np.testing.assert_allclose(triangles.get_offsets(), points)
    assert _legend_texts(ax) == ["class 0", "class 1", "class 2", "class 3", "unknown", "reciprocal points"]


def test_feature_scatter_subsamples_deterministically() -> None:
    features, labels = _features(n_known=3000, n_unknown=1000)
    first = feature_scatter(features, labels, max_points=500)
    second = feature_scatter(features, labels, max_points=500)
    offsets_first = [c.get_offsets() for c in first.axes[0].collections]
    offsets_second = [c.get_offsets() for c in second.axes[0].collections]
    assert sum(len(o) for o in offsets_first) == 500
    for a, b in zip(offsets_first, offsets_second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_feature_scatter_extra_generated_samples_in_red_and_torch_input() -> None:
    features, labels = _features(k=3)
    generated = torch.zeros(50, 2)
    fig = feature_scatter(torch.from_numpy(features), torch.from_numpy(labels),
                          extra={"generated": generated}, class_names=["a", "b", "c"])
    (ax,) = fig.axes
    red = [c for c in ax.collections if c.get_label() == "generated"]
    assert len(red) == 1 and len(red[0].get_offsets()) == 50
    np.testing.assert_allclose(red[0].get_edgecolor()[0][:3], mpl.colors.to_rgb(style.GENERATED_COLOURS[0]))
    assert "a" in _legend_texts(ax) and "generated" in _legend_texts(ax)


def test_feature_scatter_rejects_bad_inputs() -> None:
    features, labels = _features(k=4)
    with pytest.raises(ValueError, match="labels"):
        feature_scatter(features, labels[:-1])
    with pytest.raises(ValueError, match="features"):
        feature_scatter(np.zeros((10, 3)), np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="points"):
        feature_scatter(features, labels, points=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="labels"):
        feature_scatter(features, labels.astype(float))
    with pytest.raises(ValueError, match="extra"):
        feature_scatter(features, labels, extra={"gen": np.zeros((5, 3))})
    with pytest.raises(ValueError, match="class_names"):
        feature_scatter(features, labels, class_names=["a"])


def _polygon_area(vertices: np.ndarray) -> float:
    x, y = vertices[:, 0], vertices[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def test_score_histograms_two_filled_densities_sharing_bins() -> None:
    rng = _rng()
    fig = score_histograms(rng.normal(15, 1, 400), rng.normal(8, 3, 300), bins=30)
    (ax,) = fig.axes
    fills = [c for c in ax.collections if isinstance(c, FillBetweenPolyCollection)]
    assert len(fills) == 2
    assert _legend_texts(ax) == ["known (n=400)", "unknown (n=300)"]
    outlines = [fill.get_paths()[0].vertices for fill in fills]
    xs = [np.unique(outline[:, 0]) for outline in outlines]
    np.testing.assert_allclose(xs[0], xs[1])
    assert len(xs[0]) == 31
    for outline in outlines:  # each set normalised on its own: area 1 under each step outline
        assert _polygon_area(outline) == pytest.approx(1.0, rel=1e-6)
    colours = sorted(tuple(np.round(fill.get_facecolor()[0][:3], 6)) for fill in fills)
    assert colours == sorted(tuple(np.round(c, 6)) for c in style.TAB10[:2])
    assert ax.get_ylabel() == "density" and ax.get_xlabel() == "max distance to reciprocal points (Eq. 20)"
    with pytest.raises(ValueError, match="unknown_scores"):
        score_histograms([1.0, 2.0], [np.nan])
    with pytest.raises(ValueError, match="labels"):
        score_histograms([1.0, 2.0], [3.0], labels=("same", "same"))


# --- images --------------------------------------------------------------------------------------

def test_image_grid_rows_labels_and_padding() -> None:
    rows = [("real", _images(5)), ("generated", _images(3)), ("real", torch.from_numpy(_images(5)))]
    fig = image_grid(rows, title="Fig. 6b", gap=2)
    (ax,) = fig.axes
    (image,) = [i for i in ax.get_children() if isinstance(i, AxesImage)]
    mosaic = image.get_array()
    assert mosaic.shape == (3 * 8 + 2 * 2, 5 * 8 + 4 * 2, 3)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["real", "generated", "real"]
    assert (np.asarray(mosaic[10:18, 3 * 10:]) == 255).all()  # short row padded white


def test_image_grid_rgb_single_array_and_max_columns() -> None:
    fig = image_grid(_images(20, channels=3), max_columns=6, gap=0)
    mosaic = fig.axes[0].get_images()[0].get_array()
    assert mosaic.shape == (8, 6 * 8, 3)


def test_image_grid_rejects_bad_images() -> None:
    with pytest.raises(ValueError, match="uint8"):
        image_grid([("x", np.zeros((2, 1, 8, 8), dtype=np.float32))])
    with pytest.raises(ValueError, match="channels"):
        image_grid([("x", np.zeros((2, 2, 8, 8), dtype=np.uint8))])
    with pytest.raises(ValueError, match=r"rows\[1\]"):
        image_grid([("a", _images(2)), ("b", _images(2, size=6))])
    with pytest.raises(ValueError, match="rows"):
        image_grid([])


def test_real_and_generated_rows_frame_full_generated_rows_with_real_ones() -> None:
    real, generated = _images(20), _images(25)
    rows = real_and_generated_rows(real, generated, per_row=10)
    assert [label for label, _ in rows] == ["real", "generated", "generated", "real"]
    np.testing.assert_array_equal(rows[0][1], real[:10])
    np.testing.assert_array_equal(rows[2][1], generated[10:20])
    np.testing.assert_array_equal(rows[-1][1], real[10:20])
    assert image_grid(rows).axes[0].get_images()[0].get_array().shape[0] == 4 * 8 + 3 * 2


def test_retrieval_strip_one_axes_per_image_with_positions() -> None:
    images = list(_images(5))
    fig = retrieval_strip(images, [0.0, 0.25, 0.5, 0.75, 1.0], highlight=[3])
    assert len(fig.axes) == 5
    assert [ax.get_xlabel() for ax in fig.axes] == ["t = 0.00", "t = 0.25", "t = 0.50", "t = 0.75", "t = 1.00"]
    assert fig.axes[3].spines["left"].get_visible() and not fig.axes[0].spines["left"].get_visible()
    with pytest.raises(ValueError, match="distances_or_t"):
        retrieval_strip(images, [0.0, 1.0])
    with pytest.raises(ValueError, match="highlight"):
        retrieval_strip(images, [0.0] * 5, highlight=[9])


# --- training, ablation, incremental, bars -------------------------------------------------------

def test_training_curves_panel_per_key_line_per_variant() -> None:
    histories = {
        "ARPL+CS": [{"epoch": e, "test_acc": 0.9 + e / 100, "auroc": 0.8, "loss": 2.0 / e} for e in range(1, 6)],
        "w/o ABN": [{"test_acc": 0.85, "auroc": 0.7, "loss": 1.0} for _ in range(4)],
    }
    fig = training_curves(histories, ["test_acc", "auroc", "loss"])
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert len(ax.get_lines()) == 2
    assert fig.axes[0].get_ylabel() == "test accuracy (%)"
    assert fig.axes[2].get_ylabel() == "loss"
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), [91, 92, 93, 94, 95])
    np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_xdata(), [1, 2, 3, 4])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["ARPL+CS", "w/o ABN"]
    with pytest.raises(ValueError, match="oscr"):
        training_curves(histories, ["oscr"])
    with pytest.raises(ValueError, match="keys"):
        training_curves(histories, [])


def test_lambda_curves_symlog_lines_with_markers() -> None:
    lambdas = [0.0, 0.01, 0.1, 1.0]
    methods = ["RPL", "RPL+cosine", "RPL+AMC", "ARPL"]
    results = {m: [(lam, 0.8 + i / 100) for lam in lambdas] for i, m in enumerate(methods)}
    fig = lambda_curves(results, metric_name="AUROC")
    (ax,) = fig.axes
    assert ax.get_xscale() == "symlog"
    assert len(ax.get_lines()) == 4
    assert all(line.get_marker() not in (None, "None", "") for line in ax.get_lines())
    np.testing.assert_allclose(ax.get_xticks(), lambdas)
    assert ax.get_ylabel() == "AUROC (%)"
    with pytest.raises(ValueError, match="RPL"):
        lambda_curves({"RPL": [(0.0, 80.0)]})
    with pytest.raises(ValueError, match="pairs"):
        lambda_curves({"RPL": [0.1, 0.2]})


def test_margin_and_auroc_vs_known_two_panels() -> None:
    ks = [2, 4, 6, 8, 10]
    fig = margin_and_auroc_vs_known({"ARPL": [(k, 1.0 + k) for k in ks]},
                                    {m: [(k, 0.9 - k / 100) for k in ks] for m in ["Softmax", "GCPL", "ARPL"]})
    assert len(fig.axes) == 2
    assert len(fig.axes[0].get_lines()) == 1 and len(fig.axes[1].get_lines()) == 3
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), [88, 86, 84, 82, 80])
    with pytest.raises(ValueError, match="aurocs"):
        margin_and_auroc_vs_known({"ARPL": [(2, 1.0)]}, {"ARPL": [(2, 88.0)]})


def test_incremental_curves_mean_line_and_std_band() -> None:
    results = {"Softmax": {50: [0.7, 0.72], 75: [0.5, 0.52], 100: [0.4, 0.42]},
               "ARPL": {100: [0.5], 50: [0.75]}}
    fig = incremental_curves(results)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 2
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [71, 51, 41])
    np.testing.assert_allclose(ax.get_lines()[1].get_xdata(), [50, 100])
    with pytest.raises(ValueError, match="ARPL"):
        incremental_curves({"ARPL": {50: [75.0]}})


def test_bar_table_grouped_bars_with_missing_value() -> None:
    values = {"MNIST": {"Softmax": 0.99, "ARPL": 0.997}, "SVHN": {"Softmax": 0.94}}
    fig = bar_table(values, title="acc", ylabel="accuracy (%)")
    (ax,) = fig.axes
    assert len(ax.containers) == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["MNIST", "SVHN"]
    np.testing.assert_allclose([bar.get_height() for bar in ax.containers[0]], [99.0, 94.0])
    assert [t.get_text() for t in ax.texts] == ["99.0", "94.0", "99.7", ""]
    with pytest.raises(ValueError, match="fractions"):
        bar_table({"MNIST": {"ARPL": 99.7}})
    raw = bar_table({"MNIST": {"ARPL": 99.7}}, percent=False)
    assert raw.axes[0].containers[0][0].get_height() == pytest.approx(99.7)

