"""Figures, written as PNG with matplotlib's non-interactive backend."""

from __future__ import annotations

from pathlib import Path

from nncli.fileio import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
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
    plt = _pyplot()
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
        ax.xaxis.set_major_locator(_integer_ticks())
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    if history and "val_loss" not in history[0]:
        title += " (no validation split)"
    fig.suptitle(title)
    _save(fig, path)


def plot_loss_bands(path: Path, groups: list[tuple[str, list[list[dict]]]], *, title: str) -> None:
    """Train and val loss by epoch: per group (label, seeds' histories) the mean over seeds,
    with a min-max band."""
    import numpy as np

    plt = _pyplot()
    first = groups[0][1][0]
    has_val = bool(first) and "val_loss" in first[0]
    splits = ("train", "val") if has_val else ("train",)
    fig, axes = plt.subplots(
        1, len(splits), figsize=(6 * len(splits), 4.5), squeeze=False, layout="constrained"
    )
    colours = plt.get_cmap("tab10" if len(groups) <= 10 else "viridis")
    for ax, split in zip(axes[0], splits, strict=True):
        for i, (label, runs) in enumerate(groups):
            runs = [h for h in runs if h]  # a model that diverged in its first epoch has none
            if not runs:
                continue
            length = min(len(h) for h in runs)  # early stopping may end seeds at different epochs
            curves = np.array([[row[f"{split}_loss"] for row in h[:length]] for h in runs])
            if not np.isfinite(curves).any():  # diverged in its first epoch: nothing to draw
                continue
            epochs = np.arange(1, length + 1)
            colour = colours(i % 10) if len(groups) <= 10 else colours(i / (len(groups) - 1))
            ax.plot(epochs, curves.mean(axis=0), color=colour, label=label)
            ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=colour, alpha=0.2)
        if ax.lines:  # a log axis needs something positive on it; all diverged draws nothing
            ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "every model diverged", ha="center", transform=ax.transAxes)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(_integer_ticks())
        ax.set_ylabel(f"{split} loss (log scale)")
        ax.set_title(f"{split} loss: mean over seeds, band = min to max")
        ax.grid(alpha=0.3, which="both")
    drawn = next((ax for ax in axes[0] if ax.lines), None)
    if drawn is not None:  # one legend for both panels, beside them: it covers no curve
        fig.legend(*drawn.get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle(title)
    _save(fig, path)


def plot_grad_norms(path: Path, rows: list[tuple[str, list]], *, title: str) -> None:
    """Mean first-epoch weight-gradient norm per layer, input layer first, log scale.

    `rows` pairs a label with its per-layer norms (None where a model diverged).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    known = [g for _, norms in rows for g in norms if g is not None]
    floor = min((g for g in known if g > 0), default=1e-12) / 10
    for label, row in rows:
        norms = [float("nan") if g is None else g for g in row]
        layers = range(1, len(norms) + 1)
        ax.plot(layers, [max(g, floor) for g in norms], marker="o", label=label)
        zero = [layer for layer, g in zip(layers, norms, strict=True) if g == 0]
        if zero:
            ax.scatter(zero, [floor] * len(zero), marker="x", s=80, color="black", zorder=3)
    ax.axhline(floor, color="black", linewidth=0.5, linestyle=":")
    ax.text(1, floor, " x = exactly zero gradient", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(range(1, len(rows[0][1]) + 1))
    ax.set_xlabel("layer (1 = input layer, last = output layer)")
    ax.set_ylabel("weight-gradient norm, first-epoch mean")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title)
    _save(fig, path)


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

    plt = _pyplot()
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
    _save(fig, path)


def class_colours(n: int) -> list:
    """`n` colours told apart at a glance: tab10's, then tab20's, then evenly spaced hues."""
    plt = _pyplot()
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return [plt.get_cmap("hsv")(i / n) for i in range(n)]


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def plot_activations(path: Path, names: list[str]) -> None:
    """Each activation and its derivative on [-4, 4], with the registry's notes on them."""
    import torch

    from nncli.activations import ACTIVATIONS

    plt = _pyplot()
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
    _save(fig, path)


def plot_function_fit(
    path: Path, predict, x: object, y: object, *, title: str, feature: str, target: str
) -> None:
    """A 1-D regression: the learned function beyond the training range, the data inside it.

    `predict` maps raw (N, 1) inputs to predictions in the target's units.
    """
    import numpy as np

    plt = _pyplot()
    lo, hi = float(x.min()), float(x.max())
    span = hi - lo or 1.0
    grid = np.linspace(lo - span / 2, hi + span / 2, 600)[:, None]
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    ax.axvspan(lo, hi, color="grey", alpha=0.12, label="training range")
    ax.scatter(x[:, 0], y, s=8, color="black", alpha=0.5, label="training data")
    ax.plot(grid[:, 0], predict(grid), color="tab:red", label="network")
    ax.set_xlabel(feature)
    ax.set_ylabel(target)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{title}: fits inside the training range, guesses outside it")
    _save(fig, path)


def plot_metric_by_value(
    path: Path, results: list[dict], varied: list[str], *, split: str, metric: str, title: str
) -> None:
    """The metric (mean ± std over seeds) against each varied key's values, one panel per key;
    a line per combination of the other keys. Values spanning decades get a log axis."""
    from nncli.grid import short_key, shown_value

    plt = _pyplot()
    fig, axes = plt.subplots(
        1,
        len(varied),
        figsize=(5.5 * len(varied), 4.2),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    for ax, key in zip(axes[0], varied, strict=True):
        # Values as shown (lists and mappings are values too, and not hashable).
        shown = list(dict.fromkeys(shown_value(r["values"][key]) for r in results))
        first = {shown_value(r["values"][key]): r["values"][key] for r in reversed(results)}
        xs = [first[x] for x in shown]
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs)
        others = [k for k in varied if k != key]
        lines: dict[str, list[dict]] = {}
        for r in results:
            rest = ", ".join(
                f"{short_key(k, varied)}={shown_value(r['values'][k])}" for k in others
            )
            lines.setdefault(rest, []).append(r)
        for rest, rows in lines.items():
            rows = [r for r in rows if r["metrics"][split][metric]["mean"] is not None]
            if not rows:
                continue
            position = [
                r["values"][key] if numeric else shown.index(shown_value(r["values"][key]))
                for r in rows
            ]
            means = [r["metrics"][split][metric]["mean"] for r in rows]
            stds = [r["metrics"][split][metric]["std"] for r in rows]
            ax.errorbar(position, means, yerr=stds, marker="o", capsize=3, label=rest or None)
        if numeric and min(xs) > 0 and max(xs) / min(xs) >= 100:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(shown)), shown)
        diverged = [
            shown_value(r["values"][key]) for r in results if r["diverged"] == len(r["seeds"])
        ]
        if diverged:
            ax.set_title(
                f"all seeds diverged at {short_key(key, varied)} = "
                f"{', '.join(dict.fromkeys(diverged))}",
                fontsize=8,
            )
        ax.set_xlabel(key + (" (log scale)" if ax.get_xscale() == "log" else ""))
        ax.set_ylabel(f"{split} {metric} (mean ± std over seeds)")
        ax.grid(alpha=0.3, which="both")
        if others:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    _save(fig, path)
