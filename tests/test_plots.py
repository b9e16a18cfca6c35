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


def run(rows: list[dict], best: int, diverged: int | None = None) -> dict:
    """One seed of a variant, as app/figures.py hands it to `plot_loss_bands`."""
    return {"history": rows, "best_epoch": best, "diverged": diverged}


def test_loss_bands_share_one_legend_beside_the_panels(figures, tmp_path):
    groups = [(f"activation={a}", [run(history(10, "accuracy", s), 9),
                                   run(history(10, "accuracy", 2 * s), 10)])
              for a, s in (("relu", 1.0), ("tanh", 0.5), ("sigmoid", 0.2))]  # fmt: skip
    gridplots.plot_loss_bands(tmp_path / "bands.png", groups, title="moons: depth 2, width 16")
    (fig,) = figures
    assert [ax.get_legend() for ax in fig.axes] == [None, None]
    (legend,) = fig.legends
    names = [t.get_text() for t in legend.get_texts()]
    assert names == [*(g[0] for g in groups), "best epoch of each seed\n(lowest val loss)"]
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
    groups = [("lr=1.0 (2/2 diverged)", [run([], 0, diverged=1), run([], 0, diverged=1)]),
              ("lr=0.1", [run(history(10, "mse", 1.0), 10)])]  # fmt: skip
    gridplots.plot_loss_bands(tmp_path / "bands.png", groups, title="sgd: depth 1")
    (fig,) = figures
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()][:2] == [g[0] for g in groups]
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
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: saved.append(fig))
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


def single_marks(ax, marker: str) -> list[tuple[float, float]]:
    """The (x, y) of every lone point drawn with `marker`, in data coordinates."""
    return [(float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in ax.lines
            if line.get_marker() == marker and len(line.get_xdata()) == 1]  # fmt: skip


@pytest.mark.parametrize(("kept", "best"), [(12, 12), (40, 12)])
def test_learning_curves_ring_the_epoch_chosen_on_validation(figures, tmp_path, kept, best):
    rows = history(40, "accuracy", 2.0)
    for row in rows:  # val loss lowest at epoch 12; train loss falls to the end
        row["val_loss"] = 1 + (row["epoch"] - 12) ** 2 / 100
    assert min(rows, key=lambda row: row["val_loss"])["epoch"] == best
    plots.plot_learning_curves(tmp_path / "loss.png", rows, title="moons", metric="accuracy",
                               loss_name="cross-entropy loss", kept_epoch=kept,
                               best_epoch=best)  # fmt: skip
    (fig,) = figures
    loss, metric = fig.axes
    assert single_marks(loss, "o") == [(12, 1.0)]
    assert single_marks(metric, "o") == [(12, pytest.approx(rows[11]["val_accuracy"]))]
    assert "best, epoch 12" in [t.get_text() for t in loss.texts]
    legend = [t.get_text() for t in loss.get_legend().get_texts()]
    # Without early stopping the weights kept are the last epoch's: a line of its own.
    kept_lines = [line for line in loss.lines if list(line.get_xdata()) == [kept, kept]]
    assert len(kept_lines) == (kept != best)
    assert ("best val loss: epoch 12, kept" in legend) == (kept == best)
    texts_do_not_overlap(fig)


def test_each_seed_best_epoch_is_ringed_and_a_diverged_seed_is_cut_with_an_x(figures, tmp_path):
    blowing = history(5, "mse", 1.0)
    for row, loss in zip(blowing, [0.9, 3.0, 40.0, 1e30, float("nan")], strict=True):
        row["train_loss"] = row["val_loss"] = loss
    calm = [run(history(30, "mse", 1.0), 30), run(history(20, "mse", 2.0), 17)]
    groups = [("lr=0.1", calm),
              ("lr=1.0 (1/2 diverged)", [run(history(25, "mse", 0.8), 25),
                                         run(blowing, 1, diverged=5)])]  # fmt: skip
    gridplots.plot_loss_bands(tmp_path / "bands.png", groups, title="sgd: depth 1")
    (fig,) = figures
    for ax, split in zip(fig.axes, ("train", "val"), strict=True):
        seeds = [*calm, groups[1][1][0]]  # the diverged seed is never chosen: no ring
        expected = [(r["best_epoch"], r["history"][r["best_epoch"] - 1][f"{split}_loss"])
                    for r in seeds]  # fmt: skip
        np.testing.assert_allclose(sorted(single_marks(ax, "o")), sorted(expected))
        # The diverged seed: its finite losses up to epoch 4, an x at epoch 5 inside the axes.
        (cut,) = single_marks(ax, "x")
        low, high = ax.get_ylim()
        assert cut[0] == 5 and low < cut[1] < high < 10  # 1e30 set no scale
        finite = [list(line.get_xdata()) for line in ax.lines if line.get_marker() == "."]
        assert finite == [[1, 2, 3, 4]]
        assert any(t.get_text().startswith("diverged") for t in ax.texts)
    (legend,) = fig.legends
    assert "diverged: the loss is\nno longer a number" in [t.get_text() for t in legend.get_texts()]
    texts_do_not_overlap(fig)


def test_a_sweeps_diverged_model_is_drawn_up_to_the_epoch_it_diverged(grid_config, tmp_path,
                                                                       monkeypatch):  # fmt: skip
    """End to end: what the sweep records of a diverged model reaches the loss figure."""
    from nncli.app.commands import run_sweep

    saved = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: saved.setdefault(path.name, fig))
    summary = run_sweep(grid_config, ["model.activation=relu"], vary=["training.lr=1e30,0.1"],
                        out=tmp_path / "s").to_json()  # fmt: skip
    try:
        ((where,),) = [r["diverged_at"] for r in summary["results"] if r["diverged_at"]]
        val = saved["loss_curves.png"].axes[1]
        (cut,) = single_marks(val, "x")
        assert cut[0] == where["epoch"] and val.get_ylim()[0] < cut[1] < val.get_ylim()[1]
    finally:
        for fig in saved.values():
            plots.pyplot().close(fig)


def test_many_variants_get_a_small_panel_each_with_the_others_grey_behind(figures, tmp_path):
    from matplotlib.colors import to_hex

    names = ["identity", "step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu",
             "softplus"]  # fmt: skip
    groups = [(f"activation={a}", [run(history(20, "accuracy", 0.5 + i / 10), 20 - i)])
              for i, a in enumerate(names)]  # fmt: skip
    gridplots.plot_loss_bands(tmp_path / "bands.png", groups, title="moons: depth 2, width 16")
    (fig,) = figures
    panels = [ax for ax in fig.axes if ax.axison]
    titles = [f"{label}\nbest: epoch {seed['best_epoch']}" for label, (seed,) in groups]
    assert [ax.get_title() for ax in panels] == titles
    own = []
    for ax, (_, (seed,)) in zip(panels, groups, strict=True):
        grey = [line for line in ax.lines if line.get_color() == gridplots.GREY]
        assert len(grey) == len(groups) - 1  # every other variant, behind
        colours = {to_hex(line.get_color()) for line in ax.lines if line not in grey}
        assert len(colours) == 1  # and this one alone in colour
        own += colours
        ring = (seed["best_epoch"], seed["history"][seed["best_epoch"] - 1]["val_loss"])
        assert single_marks(ax, "o") == [pytest.approx(ring)]
    assert len(set(own)) == len(groups)
    texts_do_not_overlap(fig)


def test_categories_are_points_side_by_side_and_numbers_a_line(figures, tmp_path):
    results = [{"values": {"model.activation": a, "training.lr": lr}, "seeds": [0, 1],
                "diverged": 0}
               for a in ("relu", "tanh", "sigmoid") for lr in (0.01, 0.1)]  # fmt: skip
    stats = [{"mean": 0.8 + i / 100, "std": 0.01, "values": [0.79 + i / 100, 0.81 + i / 100]}
             for i in range(len(results))]  # fmt: skip
    gridplots.plot_by_value(tmp_path / "v.png", results, ["model.activation", "training.lr"],
                            stats=stats, ylabel="val accuracy", title="moons")  # fmt: skip
    (fig,) = figures
    activation, lr = fig.axes

    def joined(ax) -> list:
        return [line for line in ax.lines
                if len(line.get_xdata()) > 1 and line.get_linestyle() != "None"]  # fmt: skip

    assert joined(activation) == []  # nothing lies between relu and tanh
    assert len(joined(lr)) == 3  # one line per activation, across the learning rates
    series = [line for line in activation.lines if line.get_marker() == "o"]
    assert len(series) == 2 and set(series[0].get_xdata()).isdisjoint(series[1].get_xdata())
    assert [t.get_text() for t in activation.get_xticklabels()] == ["relu", "tanh", "sigmoid"]
    texts_do_not_overlap(fig)


def tick_labels(fig) -> list[tuple[float, str]]:
    """Every labelled tick of every log axis, major and minor, inside the view: (where, text)."""
    fig.canvas.draw()
    found = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() != "log":
                continue
            low, high = sorted(axis.get_view_interval())
            found += [(tick.get_loc(), tick.label1.get_text())
                      for tick in axis.get_major_ticks() + axis.get_minor_ticks()
                      if low <= tick.get_loc() <= high and tick.label1.get_text()]  # fmt: skip
    return found


def test_log_axes_read_as_plain_numbers(figures, tmp_path):
    rows = history(30, "mse", 0.5)  # 0.5 to 0.017: some minor ticks labelled too
    plots.plot_learning_curves(tmp_path / "a.png", rows, title="t", loss_name="mse",
                               metric="mse", kept_epoch=30, log=True)  # fmt: skip
    gridplots.plot_grad_norms(tmp_path / "b.png", [("depth=8", [2e-7, 1e-4, 0.3, 4e5])], title="t")
    y = np.array([0.01, 0.5, 3.0, 200.0])
    plots.plot_regression_errors(tmp_path / "c.png", y, y * 1.1, split="test", target="y",
                                 mape=0.1)  # fmt: skip
    for fig in figures:
        labels = tick_labels(fig)
        assert len(labels) >= 3
        for where, text in labels:  # `0.6`, `2e-7`: a number, the tick's own; never 6x10^-1
            assert float(text) == pytest.approx(where, rel=0.01), text
    shown = {text for fig in figures for _, text in tick_labels(fig)}
    assert {"0.1", "0.01", "1e-6"} <= shown


def test_a_layer_without_gradient_is_a_triangle_inside_the_bottom_edge(figures, tmp_path):
    gridplots.plot_grad_norms(tmp_path / "g.png", [("activation=step", [0.0, 0.0, 0.4]),
                                                   ("activation=sigmoid", [1e-3, 5e-2, 0.3])],
                              title="moons: gradient by layer")  # fmt: skip
    results = [{"values": {"model.activation": a}, "seeds": [0, 1], "diverged": 0,
                "grad_ratio": {"mean": r, "std": 0.0, "values": [r, r]}}
               for a, r in (("identity", 0.5), ("step", 0.0), ("sigmoid", 0.04))]  # fmt: skip
    gridplots.plot_by_value(tmp_path / "r.png", results, ["model.activation"], log=True,
                            stats=[r["grad_ratio"] for r in results], ylabel="first / output",
                            title="how much gradient reaches the first layer")  # fmt: skip
    norms, ratios = figures
    for fig, zero_at in ((norms, [1, 2]), (ratios, [1])):
        fig.canvas.draw()
        (ax,) = fig.axes
        (triangles,) = [line for line in ax.lines if line.get_marker() == "v"]
        assert list(triangles.get_xdata()) == zero_at
        at = triangles.get_transform().transform(
            np.column_stack([triangles.get_xdata(), triangles.get_ydata()])
        )
        box = ax.get_window_extent()
        points = np.concatenate([line.get_xydata() for line in ax.lines
                                 if line.get_marker() == "o" and line.get_visible()])  # fmt: skip
        lowest = ax.transData.transform(points[np.isfinite(points[:, 1])])[:, 1].min()
        assert all(box.x0 < x < box.x1 and box.y0 < y < lowest for x, y in at)
        # No line plunges to the zero: where it is, the line has no point.
        for line in ax.lines:
            if line.get_marker() == "o" and len(line.get_xdata()) > 1:
                ys = np.asarray(line.get_ydata(), dtype=float)
                assert np.all(np.isnan(ys) | (ys > 0))
        legend = fig.legends[0] if fig.legends else ax.get_legend()
        assert "0 (no gradient)" in [t.get_text() for t in legend.get_texts()]
        texts_do_not_overlap(fig)


def test_a_figure_laid_out_once_has_the_pixels_savefig_gives_it(tmp_path):
    """save_figure runs the constrained layout once, where savefig runs it twice: the same image,
    Korean labels, a legend outside and a suptitle included."""
    from matplotlib.image import imread

    from nncli.report import fonts

    def figure():
        plt = plots.pyplot()
        fig, axes = plt.subplots(2, 3, figsize=(9, 5), sharex=True, layout="constrained")
        for i, ax in enumerate(axes.ravel()):
            ax.plot(np.arange(50), np.exp(-np.arange(50) / (i + 3)), label=f"변형 {i}")
            ax.set_yscale("log")
            ax.set_title(f"학습률={0.1 * (i + 1):.1f}")
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper")
        fig.suptitle("손실 곡선: 에폭마다")
        fig.supxlabel("에폭 (epoch)")
        return fig

    plots.save_figure(figure(), tmp_path / "once.png")
    fig = figure()
    with fonts.glyphs_watched():
        fig.savefig(tmp_path / "twice.png", dpi=plots.DPI)
    plots.pyplot().close(fig)
    once, twice = imread(tmp_path / "once.png"), imread(tmp_path / "twice.png")
    assert once.shape == twice.shape
    assert np.array_equal(once, twice)


@pytest.mark.parametrize(
    ("panels", "grid"),
    [(1, (1, 1)), (5, (1, 5)), (6, (2, 3)), (7, (2, 4)), (11, (3, 4)), (20, (4, 5))],
)
def test_small_panels_fill_their_rows_evenly_at_most_five_a_row(panels, grid):
    rows, columns = plots.panel_grid(panels)
    assert (rows, columns) == grid
    assert rows * columns - panels < columns  # never a whole row of empty axes
