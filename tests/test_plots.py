"""The figures: labelled axes, a legend per class in colours told apart, log axes for regression
losses, and no text drawn over other text."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from nncli.report import curves, gridplots, learned, plots


@pytest.fixture
def figures(monkeypatch) -> list:
    """The figures the plot functions would save, kept open to look at."""
    saved: list = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: saved.append(fig))
    yield saved
    for fig in saved:
        plots.pyplot().close(fig)


def texts_do_not_overlap(fig) -> None:
    """Titles, axis labels, tick labels and legends: no two bounding boxes intersect."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for text in [fig._suptitle, fig._supxlabel, fig._supylabel]:
        if text is not None and text.get_text():
            boxes.append((text.get_text(), text.get_window_extent(renderer)))
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        parts = [ax.title, ax.xaxis.label, ax.yaxis.label]
        for axis in (ax.xaxis, ax.yaxis):  # the tick labels drawn: visible, inside the view
            lo, hi = sorted(axis.get_view_interval())
            parts += [
                tick.label1
                for tick in axis.get_major_ticks()
                if tick.label1.get_visible() and lo <= tick.get_loc() <= hi
            ]
        boxes += [(t.get_text(), t.get_window_extent(renderer)) for t in parts if t.get_text()]
    boxes += [("legend", legend.get_window_extent(renderer)) for legend in fig.legends]
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), (a, b)


def three_classes(grid: np.ndarray) -> np.ndarray:
    """A model of three vertical bands: class 0 left of -1, class 2 right of 1, class 1 between;
    and the probabilities (N, 3)."""
    index = np.digitize(grid[:, 0], [-1.0, 1.0])
    return np.eye(3)[index]


def two_classes_far_apart(grid: np.ndarray) -> np.ndarray:
    """Class 0 left of 0, class 2 right of it: class 1 is never predicted."""
    return np.eye(3)[np.where(grid[:, 0] < 0, 0, 2)]


def test_decision_boundaries_name_the_features_and_each_class_in_its_own_colour(figures, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(300, 2))
    y = np.digitize(x[:, 0], [-1.0, 1.0])
    models = [("lr=0.1", three_classes), ("lr=0.5", two_classes_far_apart), ("lr=1", three_classes)]
    learned.plot_decision_boundaries(
        tmp_path / "b.png",
        *learned.boundary_regions(models, x),
        x,
        y,
        title="blobs: decision boundaries",
        feature_names=["petal length", "petal width"],
        classes=["setosa", "versicolor", "virginica"],
    )
    (fig,) = figures
    assert fig._supxlabel.get_text() == "petal length"
    assert fig._supylabel.get_text() == "petal width"
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["setosa", "versicolor", "virginica"]
    colours = [tuple(h.get_color()) for h in legend.legend_handles]
    assert len(set(colours)) == 3
    for a, b in itertools.combinations(colours, 2):  # told apart: far apart in RGB
        assert np.abs(np.subtract(a, b)[:3]).sum() > 0.5, (a, b)
    # Regions are coloured by class: where class 0 meets class 2, no band of class 1 between.
    far_apart = fig.axes[1].images[0].get_array()
    assert set(np.unique(far_apart)) == {0, 2}
    assert set(np.unique(fig.axes[0].images[0].get_array())) == {0, 1, 2}
    texts_do_not_overlap(fig)


def test_class_colours_stay_distinct_for_many_classes():
    for n in (2, 3, 10, 12, 20, 25):
        colours = plots.class_colours(n)
        assert len(colours) == n and len({tuple(np.round(c, 3)) for c in colours}) == n


def history(epochs: int, metric: str, scale: float) -> list[dict]:
    return [
        {
            "epoch": e,
            "train_loss": scale / e,
            f"train_{metric}": 1 - 1 / (e + 1),
            "val_loss": 1.2 * scale / e,
            f"val_{metric}": 1 - 1.2 / (e + 2),
        }
        for e in range(1, epochs + 1)
    ]


@pytest.mark.parametrize(
    ("metric", "log", "scales"),
    [("mse", True, ("log", "log")), ("accuracy", False, ("linear", "linear"))],
)
def test_regression_losses_are_on_a_log_axis_and_labels_never_overlap(
    figures, tmp_path, metric, log, scales
):
    plots.plot_learning_curves(
        tmp_path / "loss.png",
        history(40, metric, 2.0),
        title="diabetes: relu, depth 1, a title long enough to reach both panels of the figure",
        loss_name="MSE loss (standardized target)" if log else "cross-entropy loss",
        metric=metric,
        kept_epoch=12,
        log=log,
    )
    (fig,) = figures
    assert tuple(ax.get_yscale() for ax in fig.axes) == scales
    if log:
        assert all("(log scale)" in ax.get_ylabel() for ax in fig.axes)
    texts_do_not_overlap(fig)


def test_loss_bands_share_one_legend_beside_the_panels(figures, tmp_path):
    groups = [(f"activation={a}", [history(10, "accuracy", s), history(10, "accuracy", 2 * s)])
              for a, s in (("relu", 1.0), ("tanh", 0.5), ("sigmoid", 0.2))]  # fmt: skip
    gridplots.plot_loss_bands(tmp_path / "bands.png", groups, title="moons: depth 2, width 16")
    (fig,) = figures
    assert [ax.get_legend() for ax in fig.axes] == [None, None]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [g[0] for g in groups]
    texts_do_not_overlap(fig)


def test_gradient_figures_show_every_layer_of_the_deepest_variant_on_log_axes(figures, tmp_path):
    rows = [("depth=1", [1e-1, 5e-1]), ("depth=3", [1e-5, 1e-3, 1e-2, 4e-1])]
    gridplots.plot_grad_norms(tmp_path / "g.png", rows, title="deep_moons: gradient by layer")
    results = [
        {"values": {"model.depth": d, "model.activation": a}, "seeds": [0, 1], "diverged": 0,
         "grad_ratio": {"mean": r, "std": r, "values": [r / 2, 3 * r / 2]}}
        for d, a, r in ((1, "sigmoid", 0.2), (4, "sigmoid", 1e-4), (1, "relu", 0.3),
                        (4, "relu", 0.1))
    ]  # fmt: skip
    gridplots.plot_by_value(
        tmp_path / "r.png",
        results,
        ["model.depth", "model.activation"],
        stats=[r["grad_ratio"] for r in results],
        ylabel="first / output",
        title="deep_moons: how much gradient reaches the first layer",
        log=True,
    )
    norms, ratios = figures
    assert [t.get_text() for t in norms.axes[0].get_xticklabels()] == ["1", "2", "3", "4"]
    depth_panel = ratios.axes[0]
    assert depth_panel.get_yscale() == "log" and "log scale" in depth_panel.get_ylabel()
    assert ratios.axes[1].get_ylabel() == ""  # the panels share the first one's
    labels = [t.get_text() for t in depth_panel.get_legend().get_texts()]
    assert labels == ["activation=sigmoid", "activation=relu"]
    assert len(depth_panel.collections) == 2  # each seed's value, per line
    texts_do_not_overlap(norms)
    texts_do_not_overlap(ratios)


def test_function_fits_of_several_models_share_one_legend_beside_the_panel(figures, tmp_path):
    x = np.linspace(-np.pi, np.pi, 50)[:, None]
    models = [(f"width={w}", lambda g, w=w: np.sin(g[:, 0]) * w / 8) for w in (1, 2, 8)]
    learned.plot_function_fit(
        tmp_path / "fits.png",
        *learned.fit_curves(models, x),
        x,
        np.sin(x[:, 0]),
        title="sine",
        feature="x",
        target="y",
    )
    (fig,) = figures
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["training range", "training data", "width=1", "width=2", "width=8"]
    (ax,) = fig.axes
    assert ax.get_xlim()[0] < -1.4 * np.pi and ax.get_xlim()[1] > 1.4 * np.pi  # beyond the data
    texts_do_not_overlap(fig)


@pytest.mark.parametrize("mape", [0.25, None])
def test_regression_errors_show_percentage_errors_exploding_near_zero(figures, tmp_path, mape):
    y_true = np.array([0.01, 0.1, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y_pred = y_true + 0.05  # the same absolute error on every row
    plots.plot_regression_errors(
        tmp_path / "e.png", y_true, y_pred, split="test", target="y", mape=mape
    )
    (fig,) = figures
    left, right = fig.axes
    assert left.get_xlabel() == "true y" and left.get_ylabel() == "predicted y"
    assert (right.get_xscale(), right.get_yscale()) == ("log", "log")
    errors = right.collections[0].get_offsets()[:, 1]
    np.testing.assert_allclose(errors, 0.05 / y_true)  # 5 for the smallest target, 0.008 largest
    share = (5 + 0.5) / float(np.sum(0.05 / y_true))  # the 2 smallest of 8 rows
    assert f"the 2 rows with the smallest |target| hold {share:.0%}" in right.get_title()
    assert right.get_title().startswith("MAPE undefined" if mape is None else "MAPE\n")
    assert [line.get_ydata()[0] for line in right.lines] == ([] if mape is None else [mape])
    texts_do_not_overlap(fig)


def test_a_variant_that_diverged_keeps_its_legend_entry_and_sets_no_scale(figures, tmp_path):
    groups = [("lr=1.0 (2/2 diverged)", []), ("lr=0.1", [history(10, "mse", 1.0)])]
    gridplots.plot_loss_bands(tmp_path / "bands.png", groups, title="sgd: depth 1")
    (fig,) = figures
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [g[0] for g in groups]
    assert all(ax.get_ylim()[1] < 10 for ax in fig.axes)  # the losses drawn set the scale
    texts_do_not_overlap(fig)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_threshold_curves_are_scikit_learns(seed):
    from sklearn import metrics as skm

    rng = np.random.default_rng(seed)
    positive = rng.random(200) < 0.2  # imbalanced, as a binary table often is
    score = np.round(rng.random(200) * 0.5 + positive * 0.3, 2)  # rounded: many ties
    fpr, tpr = curves.roc_points(positive, score)
    want_fpr, want_tpr, _ = skm.roc_curve(positive, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, want_fpr)
    np.testing.assert_allclose(tpr, want_tpr)
    precision, recall = curves.precision_recall_points(positive, score)
    want_precision, want_recall, _ = skm.precision_recall_curve(positive, score)
    np.testing.assert_allclose(precision, want_precision)
    np.testing.assert_allclose(recall, want_recall)
    # What the figures' legends print.
    assert np.trapezoid(tpr, fpr) == pytest.approx(skm.roc_auc_score(positive, score))
    average = -np.sum(np.diff(recall) * precision[:-1])
    assert average == pytest.approx(skm.average_precision_score(positive, score))


def test_threshold_figures_label_their_axes_and_name_the_chance_line(monkeypatch):
    saved: list = []
    monkeypatch.setattr(curves, "save_figure", lambda fig, path: saved.append(fig))
    rng = np.random.default_rng(0)
    positive = rng.random(100) < 0.3
    score = rng.random(100) * 0.6 + positive * 0.4
    title = "moons: test split, positive class 1"
    curves.plot_roc(Path("roc.png"), positive, score, title=title)
    curves.plot_precision_recall(Path("pr.png"), positive, score, title=title)
    try:
        (roc,), (pr,) = saved[0].axes, saved[1].axes
        assert roc.get_xlabel().startswith("false positive rate") and roc.get_title() == title
        assert pr.get_xlabel() == "recall" and pr.get_ylabel() == "precision"
        legends = [t.get_text() for ax in (roc, pr) for t in ax.get_legend().get_texts()]
        assert legends[1] == "random guess (AUC 0.5)"
        assert legends[3] == f"every row positive ({positive.mean():.3f})"
        for fig in saved:
            texts_do_not_overlap(fig)
    finally:
        for fig in saved:
            plots.pyplot().close(fig)
