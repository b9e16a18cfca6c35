"""Figures, written as PNG with matplotlib's non-interactive backend."""

from __future__ import annotations

from pathlib import Path

from nncli.fileio import atomic_write_bytes


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def plot_learning_curves(
    path: Path,
    history: list[dict[str, float]],
    *,
    title: str,
    loss_name: str,
    metric: str,
    kept_epoch: int,
    log: bool = False,
) -> None:
    """Loss (left) and the headline metric (right) for train and val, the kept epoch marked.

    `log` puts both on a log axis (regression: errors span decades); otherwise the loss gets
    one when it spans more than two decades.
    """
    plt = pyplot()
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for ax, key, label in ((axes[0], "loss", loss_name), (axes[1], metric, metric)):
        for split, style in (("train", "-"), ("val", "--")):
            column = f"{split}_{key}"
            if history and column in history[0]:
                ax.plot(epochs, [row[column] for row in history], style, label=split)
        ax.axvline(
            kept_epoch,
            color="grey",
            linewidth=0.8,
            linestyle=":",
            label=f"kept (epoch {kept_epoch})",
        )
        values = [row[f"train_{key}"] for row in history if row[f"train_{key}"] > 0]
        if log or (key == "loss" and values and max(values) / min(values) > 100):
            ax.set_yscale("log")
            label += " (log scale)"
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(integer_ticks())
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    if history and "val_loss" not in history[0]:
        title += " (no validation split)"
    fig.suptitle(title)
    save_figure(fig, path)


def plot_decision_boundaries(
    path: Path,
    models: list[tuple[str, object]],
    x: object,
    y: object,
    *,
    title: str,
    feature_names: list[str],
    classes: list,
) -> None:
    """For 2-D inputs: each model's predicted class over a grid, with the training points.

    `models` pairs a label with a function from (N, 2) raw inputs to (N, C) probabilities; `y`
    holds class indices into `classes`. Each class has its own colour (a qualitative palette, so
    three or more stay apart), named in a legend; the axes are the two features.
    """
    import numpy as np
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D

    plt = pyplot()
    colours = class_colours(len(classes))
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(len(classes) + 1) - 0.5, len(classes))
    columns = min(len(models), 5)
    rows = -(-len(models) // columns)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(3.2 * columns + 1.2, 3.2 * rows + 0.6),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    pad = 0.5
    (x0, x1), (y0, y1) = [(x[:, j].min() - pad, x[:, j].max() + pad) for j in range(2)]
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    grid = np.column_stack([gx.ravel(), gy.ravel()])  # (G, 2)
    for ax in axes.ravel()[len(models) :]:
        ax.axis("off")
    for ax, (label, predict) in zip(axes.ravel(), models, strict=False):
        predicted = predict(grid).argmax(axis=1).reshape(gx.shape)  # (200, 200) class indices
        # Each grid cell coloured by its class: contours would interpolate class *indices*,
        # drawing a band of class 1 wherever class 0 meets class 2.
        ax.imshow(
            predicted,
            extent=(x0, x1, y0, y1),
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
    save_figure(fig, path)


def class_colours(n: int) -> list:
    """`n` colours told apart at a glance: tab10's, then tab20's, then evenly spaced hues."""
    plt = pyplot()
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return [plt.get_cmap("hsv")(i / n) for i in range(n)]


def integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def plot_activations(path: Path, names: list[str]) -> None:
    """Each activation and its derivative on [-4, 4], with the registry's notes on them."""
    import torch

    from nncli.model.activations import ACTIVATIONS

    plt = pyplot()
    columns = min(len(names), 5)
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 3.0 * rows), squeeze=False, layout="constrained"
    )
    z = torch.linspace(-4, 4, 801, dtype=torch.float64)
    zs = z.numpy()
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names, strict=False):
        spec = ACTIVATIONS[name]
        derivative = spec.derivative(z)
        ax.plot(zs, spec.fn(z).numpy(), label="f(z)")
        ax.plot(zs, derivative.numpy(), "--", label="f'(z)")
        peak = float(derivative.max())
        ax.set_title(f"{name}   max f' = {peak:.3g}", fontsize=9)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.grid(alpha=0.3)
        if spec.max_derivative is not None:
            ax.axhline(spec.max_derivative, color="red", linewidth=0.7, linestyle=":")
        if spec.note:
            ax.text(0.03, 0.97, spec.note, transform=ax.transAxes, va="top", fontsize=6)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Activations and their derivatives")
    save_figure(fig, path)


def plot_function_fit(
    path: Path,
    models: list[tuple[str, object]],
    x: object,
    y: object,
    *,
    title: str,
    feature: str,
    target: str,
) -> None:
    """A 1-D regression: each learned function over the training range and as far again beyond
    it, with the training data inside.

    `models` pairs a label with a function from raw (N, 1) inputs to predictions in the target's
    units.
    """
    import numpy as np

    plt = pyplot()
    lo, hi = float(x.min()), float(x.max())
    span = hi - lo or 1.0
    grid = np.linspace(lo - span / 2, hi + span / 2, 600)[:, None]
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    ax.axvspan(lo, hi, color="grey", alpha=0.12, label="training range")
    ax.scatter(x[:, 0], y, s=8, color="black", alpha=0.5, label="training data")
    low, high = float(np.min(y)), float(np.max(y))
    colours = class_colours(max(len(models), 1)) if len(models) > 1 else ["tab:red"]
    for (label, predict), colour in zip(models, colours, strict=True):
        ax.plot(grid[:, 0], predict(grid), color=colour, label=label)
    # Far outside, a guess can run off by orders of magnitude: keep the data's scale in view.
    margin = high - low or 1.0
    bottom, top = ax.get_ylim()
    ax.set_ylim(max(bottom, low - 2 * margin), min(top, high + 2 * margin))
    ax.set_xlabel(feature)
    ax.set_ylabel(target)
    ax.grid(alpha=0.3)
    if len(models) > 1:  # beside the panel, below the title: it covers neither
        fig.legend(*ax.get_legend_handles_labels(), loc="outside right center", fontsize=8)
    else:
        ax.legend(fontsize=8)
    fig.suptitle(f"{title}: fits inside the training range, guesses outside it")
    save_figure(fig, path)


def plot_regression_errors(
    path: Path, y_true: object, y_pred: object, *, split: str, target: str, mape: float | None
) -> None:
    """Predicted against true values (left), and each row's absolute percentage error against
    its |target| (right, log axes): percentage errors explode as targets approach zero, which
    is where MAPE misleads, or (near zero, or of both signs) is undefined.
    """
    import numpy as np

    plt = pyplot()
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    left.scatter(y_true, y_pred, s=8, alpha=0.6)
    ends = [float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))]
    left.plot(ends, ends, color="grey", linewidth=0.8, linestyle="--", label="perfect")
    left.set_xlabel(f"true {target}")
    left.set_ylabel(f"predicted {target}")
    left.set_title(f"{split} split: {len(y_true)} rows", fontsize=9)
    left.legend(fontsize=8)
    magnitude = np.abs(y_true)
    shown = magnitude > 0  # a zero target has no percentage error at all
    ape = np.abs(y_pred - y_true)[shown] / magnitude[shown]
    right.scatter(magnitude[shown], ape, s=8, alpha=0.6)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel(f"|true {target}| (log scale)")
    right.set_ylabel("absolute percentage error (fraction, log scale)")
    if mape is not None:
        right.axhline(mape, color="tab:red", linewidth=0.8, label=f"MAPE {mape:.3g}")
        right.legend(fontsize=8)
    right.set_title(_smallest_share(magnitude[shown], ape, mape), fontsize=9)
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"{split} errors: squared errors weigh every row alike, percentages do not")
    save_figure(fig, path)


def _smallest_share(magnitude: object, ape: object, mape: float | None) -> str:
    """What the right panel shows, in words: how much of the summed percentage error the quarter
    of rows with the smallest |target| holds."""
    import numpy as np

    order = np.argsort(magnitude, kind="stable")
    quarter = max(len(order) // 4, 1)
    total = float(np.sum(ape))
    share = float(np.sum(ape[order[:quarter]])) / total if total > 0 else 0.0
    head = "MAPE undefined: targets near zero or of both signs" if mape is None else "MAPE"
    return (
        f"{head}\nthe {quarter} rows with the smallest |target| hold {share:.0%}"
        " of the summed percentage error"
    )
