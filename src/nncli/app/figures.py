"""The figures a finished run leaves in its folder, asked of a `Drawer` (report/drawing.py):
what each shows is computed here, with the trained models, and handed over as plain data."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nncli.config.keys import variant_label
from nncli.config.schema import Config
from nncli.metrics import headline_metric
from nncli.report import curves, figurecache, gridplots, learned, plots
from nncli.report.drawing import Drawer
from nncli.runs import layout as runs
from nncli.tasks import TASKS

# A run folder's file paths, asked for one at a time (app/outputs.py's `Outputs`: a stop request
# ends the run before the next file).
Outputs = Callable[..., Path]

if TYPE_CHECKING:
    from nncli.data.prepared import PreparedData
    from nncli.train.stack import ModelFit


def loss_name(prepared: PreparedData) -> str:
    name = TASKS[prepared.task].loss_name
    if not TASKS[prepared.task].classes and prepared.target_scaler is not None:
        name += " (standardized target)"
    return name


def train_figures(
    drawer: Drawer, out: Outputs, config: Config, prepared: PreparedData, model: ModelFit
) -> None:
    """loss.png; for regression errors.png, and fit.png for one feature; for a binary
    classifier roc.png and precision_recall.png; for a classifier of two inputs
    decision_boundary.png."""
    drawer.draw(
        plots.plot_learning_curves,
        out(runs.LOSS_PLOT_FILE),
        model.record.history,
        title=f"{config.name}: {config.model.activation}, depth {config.model.depth}",
        loss_name=loss_name(prepared),
        metric=headline_metric(prepared.task),  # the one history.csv tracks every epoch
        kept_epoch=model.record.kept_epoch,
        best_epoch=model.record.best_epoch,
        log=not TASKS[prepared.task].classes,
    )
    if not TASKS[prepared.task].classes:
        _regression_figures(drawer, out, config, prepared, model)
    elif len(prepared.dataset.classes or []) == 2:
        _binary_figures(drawer, out, config, prepared, model)
    if TASKS[prepared.task].classes and prepared.raw["train"][0].shape[1] == 2:
        _boundary_figure(drawer, out, config, prepared, model)


# Training points drawn over the decision boundary at most: 700,000 take half a minute to
# draw, and a few thousand show the classes as well.
BOUNDARY_POINTS = 5000


def _boundary_figure(
    drawer: Drawer, out: Outputs, config: Config, prepared: PreparedData, model: ModelFit
) -> None:
    """decision_boundary.png: the class the model predicts over the plane of its two inputs,
    with the training points (a seeded sample of BOUNDARY_POINTS of a larger split)."""
    x, y = prepared.raw["train"]
    n = len(x)
    points = f"{n} training points" if n <= BOUNDARY_POINTS else (
        f"{BOUNDARY_POINTS} of {n} training points"
    )  # fmt: skip
    depth = config.model.depth  # without a hidden layer the activation is never applied
    shape = f"{config.model.activation}, depth {depth}" if depth else "no hidden layer"
    label = f"{shape}, epoch {model.record.kept_epoch}\n{points}"
    predict = partial(model.card.predict_raw, model.net)
    regions, extent = learned.boundary_regions([(label, predict)], x)  # spans every point
    if n > BOUNDARY_POINTS:
        rows = np.random.default_rng(0).choice(n, BOUNDARY_POINTS, replace=False)
        x, y = x[rows], y[rows]
    drawer.draw(
        learned.plot_decision_boundaries,
        out(runs.BOUNDARY_PLOT_FILE),
        regions,
        extent,
        x,
        y,
        title=f"{config.name or 'run'}: decision boundary",
        feature_names=prepared.encoder.feature_names,
        classes=prepared.dataset.classes,
    )


def _binary_figures(
    drawer: Drawer, out: Outputs, config: Config, prepared: PreparedData, model: ModelFit
) -> None:
    """roc.png and precision_recall.png on test (val, else train, without one); none where the
    split holds one class only or the model's outputs are not finite."""
    split = "test" if "test" in prepared.raw else "val" if "val" in prepared.raw else "train"
    x, y = prepared.raw[split]
    positive, classes = model.card.positive, prepared.dataset.classes or []
    score = model.card.predict_raw(model.net, x)[:, positive]  # (N,) the positive class's
    is_positive = y == positive
    if is_positive.all() or not is_positive.any() or not np.isfinite(score).all():
        return
    title = f"{config.name or 'run'}: {split} split, positive class {classes[positive]}"
    drawer.draw(curves.plot_roc, out(runs.ROC_PLOT_FILE), is_positive, score, title=title)
    drawer.draw(
        curves.plot_precision_recall, out(runs.PR_PLOT_FILE), is_positive, score, title=title
    )


def _regression_figures(
    drawer: Drawer, out: Outputs, config: Config, prepared: PreparedData, model: ModelFit
) -> None:
    """errors.png, and fit.png for one feature."""
    split = "test" if "test" in prepared.raw else "val" if "val" in prepared.raw else "train"
    x, y = prepared.raw[split]
    drawer.draw(
        plots.plot_regression_errors,
        out(runs.ERRORS_PLOT_FILE),
        y,
        model.card.predict_raw(model.net, x),
        split=split,
        target=prepared.dataset.target_name,
        mape=model.metrics[split]["mape"],
    )
    if prepared.n_features == 1:
        x, y = prepared.raw["train"]
        drawer.draw(
            learned.plot_function_fit,
            out(runs.FIT_PLOT_FILE),
            *learned.fit_curves([("network", partial(model.card.predict_raw, model.net))], x),
            x,
            y,
            title=config.name or "fit",
            feature=prepared.dataset.feature_names[0],
            target=prepared.dataset.target_name,
        )


def grid_figures(
    drawer: Drawer,
    out: Outputs,
    grid,
    prepared: PreparedData,
    fits: list[ModelFit],
    results: list[dict],
    summary: dict,
    title: str,
    diagnostics: bool,
) -> None:
    """loss_curves.png; the fits (1-D regression) or decision boundaries (2-D classification) of
    each variant's first seed; metric_by_value.png where something varies; with diagnostics the
    gradient figures; activations.png where the activation varies."""
    labels = [variant_label(values) for values in grid.values]
    drawer.draw(
        gridplots.plot_loss_bands,
        out(runs.LOSS_CURVES_PLOT),
        _histories(grid, fits, labels),
        title=title,
    )
    # The largest figure next, drawn beside the loss bands: with a few drawn at once, figures
    # asked for largest first are all done soonest.
    _learned_figures(drawer, out, grid, prepared, fits, labels, title)
    if grid.varied:  # on the split the best variant was chosen on, never test
        best = summary.get("best") or {}
        split, metric = best.get("split", "val"), best.get("metric", fits[0].headline)
        chosen = next(
            (i for i, r in enumerate(results) if str(r.get("chosen")).startswith("best")), None
        )
        drawer.draw(
            gridplots.plot_by_value,
            out(runs.METRIC_PLOT),
            results,
            grid.varied,
            stats=[r["metrics"][split][metric] for r in results],
            ylabel=f"{split} {metric}",
            title=f"{title}: {split} {metric}",
            best=chosen,
            baseline=fits[0].baseline.get(split, {}).get(metric),
        )
    if diagnostics:
        norms = [(label, r["grad_norms"]) for label, r in zip(labels, results, strict=True)]
        drawer.draw(
            gridplots.plot_grad_norms,
            out(runs.GRAD_NORMS_PLOT),
            norms,
            title=f"{title}: gradient by layer",
        )
        if grid.varied:
            drawer.draw(
                gridplots.plot_by_value,
                out(runs.GRAD_RATIO_PLOT),
                results,
                grid.varied,
                stats=[r["grad_ratio"] for r in results],
                ylabel="first layer's gradient / output layer's",
                title=f"{title}: how much gradient reaches the first layer",
                log=True,
            )
    activations = list(dict.fromkeys(m.config.model.activation for m in grid.models))
    if "model.activation" in grid.varied:
        curves = plots.activation_curves(activations)
        # The same curves in every comparison of these activations: drawn once per machine.
        drawer.draw(figurecache.reused, plots.plot_activations, out(runs.ACTIVATIONS_PLOT), curves)


def _learned_figures(
    drawer: Drawer, out: Outputs, grid, prepared: PreparedData, fits: list[ModelFit],
    labels: list[str], title: str,
) -> None:  # fmt: skip
    """The fits (1-D regression) or decision boundaries (2-D classification) of each variant's
    first seed, up to 20."""
    x, y = prepared.raw["train"]
    first_seed = [
        (labels[m.variant], partial(f.card.predict_raw, f.net))
        for m, f in zip(grid.models, fits, strict=True)
        if m.seed == grid.seeds(m.variant)[0]
    ][:20]
    if not TASKS[prepared.task].classes and x.shape[1] == 1:
        drawer.draw(
            learned.plot_function_fit,
            out(runs.FITS_PLOT),
            *learned.fit_curves(first_seed[:10], x),
            x,
            y,
            title=f"{title} (first seed)",
            feature=prepared.dataset.feature_names[0],
            target=prepared.dataset.target_name,
        )
    if TASKS[prepared.task].classes and x.shape[1] == 2:
        drawer.draw(
            learned.plot_decision_boundaries,
            out(runs.BOUNDARIES_PLOT),
            *learned.boundary_regions(first_seed, x),
            x,
            y,
            title=f"{title}: decision boundaries (first seed, training points)",
            feature_names=prepared.dataset.feature_names,
            classes=prepared.dataset.classes,
        )


def _histories(grid, fits: list[ModelFit], labels: list[str]) -> list[tuple[str, list]]:
    """Per variant: its label, saying how many seeds diverged, and each seed's history, best
    epoch and the epoch it diverged at (None)."""
    groups = []
    for v, label in enumerate(labels):
        records = [f.record for m, f in zip(grid.models, fits, strict=True) if m.variant == v]
        runs = [
            {"history": r.history, "best_epoch": r.best_epoch,
             "diverged": None if r.diverged is None else r.diverged[0]}
            for r in records
        ]  # fmt: skip
        lost = sum(run["diverged"] is not None for run in runs)
        groups.append((f"{label} ({lost}/{len(records)} diverged)" if lost else label, runs))
    return groups
