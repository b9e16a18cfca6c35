"""Figures of what models learned: each one's decision regions over 2-D inputs, and each
one's function over a 1-D input, inside the training range and beyond it."""

from __future__ import annotations

from pathlib import Path

from nncli.report import plots

BOUNDARY_RESOLUTION = 200  # grid points along each feature


def boundary_regions(
    models: list[tuple[str, object]], x: object
) -> tuple[list[tuple[str, object]], tuple[float, float, float, float]]:
    """Each model's predicted class over a grid spanning the 2-D inputs `x` (and half a unit
    beyond), for `plot_decision_boundaries`: (label, (R, R) class indices) pairs and the grid's
    extent (x0, x1, y0, y1).

    `models` pairs a label with a function from (N, 2) raw inputs to (N, C) probabilities.
    """
    import numpy as np

    pad = 0.5
    (x0, x1), (y0, y1) = [(x[:, j].min() - pad, x[:, j].max() + pad) for j in range(2)]
    steps = BOUNDARY_RESOLUTION
    gx, gy = np.meshgrid(np.linspace(x0, x1, steps), np.linspace(y0, y1, steps))
    grid = np.column_stack([gx.ravel(), gy.ravel()])  # (R * R, 2)
    regions = [
        (label, predict(grid).argmax(axis=1).reshape(gx.shape).astype(np.int32))
        for label, predict in models
    ]
    return regions, (float(x0), float(x1), float(y0), float(y1))


def plot_decision_boundaries(
    path: Path,
    regions: list[tuple[str, object]],
    extent: tuple[float, float, float, float],
    x: object,
    y: object,
    *,
    title: str,
    feature_names: list[str],
    classes: list,
) -> None:
    """For 2-D inputs: each model's predicted class over a grid, with the training points.

    `regions` and `extent` come from `boundary_regions`; `y` holds class indices into
    `classes`. Each class has its own colour (a qualitative palette, so three or more stay
    apart), named in a legend; the axes are the two features.
    """
    import numpy as np
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D

    plt = plots.pyplot()
    colours = plots.class_colours(len(classes))
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(len(classes) + 1) - 0.5, len(classes))
    rows, columns = plots.panel_grid(len(regions))
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(3.2 * columns + 1.2, 3.2 * rows + 0.6),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    for ax in axes.ravel()[len(regions) :]:
        ax.axis("off")
    for ax, (label, predicted) in zip(axes.ravel(), regions, strict=False):
        # Each grid cell coloured by its class: contours would interpolate class *indices*,
        # drawing a band of class 1 wherever class 0 meets class 2.
        ax.imshow(
            predicted,
            extent=extent,
            origin="lower",
            cmap=cmap,
            norm=norm,
            alpha=0.3,
            interpolation="nearest",
            aspect="auto",
        )
        ax.scatter(
            x[:, 0], x[:, 1], c=y, cmap=cmap, norm=norm, s=7, edgecolors="white", linewidths=0.2
        )
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.supxlabel(feature_names[0])
    fig.supylabel(feature_names[1])
    handles = [
        Line2D([], [], marker="o", linestyle="", color=colour, label=str(name))
        for name, colour in zip(classes, colours, strict=True)
    ]
    fig.legend(handles=handles, title="class", loc="outside right upper", fontsize=8)
    fig.suptitle(title)
    plots.save_figure(fig, path)


def fit_curves(
    models: list[tuple[str, object]], x: object
) -> tuple[object, list[tuple[str, object]]]:
    """Each model's function over the training inputs' range `x` (N, 1) and as far again
    beyond it, for `plot_function_fit`: the (600,) grid and (label, (600,) predictions) pairs.

    `models` pairs a label with a function from raw (N, 1) inputs to predictions in the target's
    units.
    """
    import numpy as np

    lo, hi = float(x.min()), float(x.max())
    span = hi - lo or 1.0
    grid = np.linspace(lo - span / 2, hi + span / 2, 600)[:, None]
    return grid[:, 0], [(label, np.asarray(predict(grid)).ravel()) for label, predict in models]


def plot_function_fit(
    path: Path,
    grid: object,
    curves: list[tuple[str, object]],
    x: object,
    y: object,
    *,
    title: str,
    feature: str,
    target: str,
) -> None:
    """A 1-D regression: each learned function (`fit_curves`) over the training range and as
    far again beyond it, with the training data inside."""
    import numpy as np

    plt = plots.pyplot()
    lo, hi = float(x.min()), float(x.max())
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    ax.axvspan(lo, hi, color="grey", alpha=0.12, label="training range")
    ax.scatter(x[:, 0], y, s=8, color="black", alpha=0.5, label="training data")
    low, high = float(np.min(y)), float(np.max(y))
    colours = plots.class_colours(max(len(curves), 1)) if len(curves) > 1 else ["tab:red"]
    for (label, predicted), colour in zip(curves, colours, strict=True):
        ax.plot(grid, predicted, color=colour, label=label)
    # Far outside, a guess can run off by orders of magnitude: keep the data's scale in view.
    margin = high - low or 1.0
    bottom, top = ax.get_ylim()
    ax.set_ylim(max(bottom, low - 2 * margin), min(top, high + 2 * margin))
    ax.set_xlabel(feature)
    ax.set_ylabel(target)
    ax.grid(alpha=0.3)
    if len(curves) > 1:  # beside the panel, below the title: it covers neither
        fig.legend(*ax.get_legend_handles_labels(), loc="outside right center", fontsize=8)
    else:
        ax.legend(fontsize=8)
    fig.suptitle(f"{title}: fits inside the training range, guesses outside it")
    plots.save_figure(fig, path)
