"""Figures, written as PNG with matplotlib's non-interactive backend."""

from __future__ import annotations

import math
from pathlib import Path

from nncli.fileio import atomic_write_bytes
from nncli.report import fonts


def pyplot():
    """matplotlib's pyplot, off screen, with fonts for text in any script."""
    import matplotlib

    matplotlib.use("Agg")
    # Every figure names its layout; with these off, `set_layout_engine(None)` removes it.
    matplotlib.rcParams.update({"figure.autolayout": False, "figure.constrained_layout.use": False})
    import matplotlib.pyplot as plt

    fonts.setup()
    return plt


DPI = 110
# zlib level 3 encodes a figure in about two thirds of the default 6's time for 3-7% more bytes.
PNG_OPTIONS = {"compress_level": 3}


def save_figure(fig, path: Path) -> None:
    """`fig` as a PNG at `path`, written whole or not at all.

    A figure with a layout engine gets its layout once, here: `savefig` would run it twice (in
    a draw that renders nothing, to place things, and again in the real draw), each pass
    measuring every tick label and title; laid out once, the pixels are the same and the figure
    costs about a fifth less.
    """
    import io

    buffer = io.BytesIO()
    with fonts.glyphs_watched():
        engine = fig.get_layout_engine()
        if engine is not None:
            fig.set_dpi(DPI)  # measured at the resolution it is saved at
            engine.execute(fig)
            fig.set_layout_engine(None)  # keeps each axes where the layout put it
        fig.savefig(buffer, format="png", dpi=DPI, pil_kwargs=PNG_OPTIONS)
    pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def panel_grid(panels: int, per_row: int = 5) -> tuple[int, int]:
    """Rows and columns for `panels` small panels, at most `per_row` a row, the rows filled
    evenly (6 panels: 2 rows of 3, not 5 and 1 beside 4 empty axes, each drawn for nothing)."""
    rows = -(-panels // per_row)
    return rows, -(-panels // rows)


# The best epoch's ring.
BEST = {"marker": "o", "markersize": 10, "markerfacecolor": "none", "markeredgecolor": "black",
        "markeredgewidth": 1.5, "zorder": 5}  # fmt: skip


def plot_learning_curves(
    path: Path,
    history: list[dict[str, float]],
    *,
    title: str,
    loss_name: str,
    metric: str,
    kept_epoch: int,
    best_epoch: int | None = None,
    log: bool = False,
) -> None:
    """Loss (left) and the headline metric (right) for train and val, the best epoch marked.

    `best_epoch` is the epoch of lowest val loss (train loss without a val split) as the run
    chose it, None when it is `kept_epoch`, the one whose weights the model ends with; a kept
    epoch of its own (no early stopping: the last) is a dotted line. `log` puts both on a log
    axis (regression: errors span decades); otherwise the loss gets one when it spans more
    than two decades.
    """
    plt = pyplot()
    epochs = [row["epoch"] for row in history]
    best = kept_epoch if best_epoch is None else best_epoch
    chosen_on = "val" if history and "val_loss" in history[0] else "train"
    at_best = next((row for row in history if row["epoch"] == best), None)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for ax, key, label in ((axes[0], "loss", loss_name), (axes[1], metric, metric)):
        for split, style in (("train", "-"), ("val", "--")):
            column = f"{split}_{key}"
            if history and column in history[0]:
                ax.plot(epochs, [row[column] for row in history], style, label=split)
        if best != kept_epoch:
            ax.axvline(kept_epoch, color="grey", linewidth=0.8, linestyle=":",
                       label=f"kept (epoch {kept_epoch}, the last)")  # fmt: skip
        value = None if at_best is None else at_best.get(f"{chosen_on}_{key}")
        if value is not None and math.isfinite(value):
            kept = ", kept" if best == kept_epoch else ""
            name = f"best {chosen_on} loss: epoch {best}{kept}"
            ax.plot(best, value, linestyle="none", label=name, **BEST)
            if key == "loss":  # where it was chosen
                ax.annotate(f"best, epoch {best}", (best, value), xytext=(7, 7),
                            textcoords="offset points", fontsize=8)  # fmt: skip
        values = [row[f"train_{key}"] for row in history if row[f"train_{key}"] > 0]
        if log or (key == "loss" and values and max(values) / min(values) > 100):
            log_axis(ax)
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


def plain_number(x: float) -> str:
    """A log axis's tick as a plain number: 0.6, 0.03, 2000; `2e-5` and `3e6` beyond."""
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.6g}"  # 3 * 10**-1 is 0.30000000000000004
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def log_axis(ax, axis: str = "y") -> None:
    """Put `axis` ("x" or "y") of `ax` on a log scale whose ticks read as plain numbers (0.6,
    0.3), not matplotlib's 6x10^-1; the minor ticks it labels (an axis spanning less than a
    few decades) the same."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def __call__(self, x, pos=None):
            return plain_number(x) if super().__call__(x, pos) else ""

    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(Plain(labelOnlyBase=False))
    target.set_minor_formatter(Plain(labelOnlyBase=False))


def few_log_ticks(ax) -> None:
    """The y ticks of a small panel's log axis, all labelled: 1, 2 and 5 times each power of
    ten where it spans two decades or less (each power beyond; every multiple below a factor
    of 5), and no minor ticks, which cost ten small panels a second and show little."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    low, high = ax.get_ylim()
    subs = range(1, 10) if high < 5 * low else (1, 2, 5) if high <= 100 * low else (1,)
    ax.yaxis.set_major_locator(LogLocator(subs=[float(s) for s in subs]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: plain_number(x)))
    ax.yaxis.set_minor_locator(NullLocator())


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


def activation_curves(names: list[str]) -> list[dict]:
    """Each activation and its derivative on [-4, 4], with the registry's notes on them, for
    `plot_activations` (computed with torch, where the activations are)."""
    import torch

    from nncli.model.activations import ACTIVATIONS

    z = torch.linspace(-4, 4, 801, dtype=torch.float64)
    curves = []
    for name in names:
        spec = ACTIVATIONS[name]
        curves.append(
            {
                "name": name,
                "z": z.numpy(),
                "f": spec.fn(z).numpy(),
                "derivative": spec.derivative(z).numpy(),
                "max_derivative": spec.max_derivative,
                "note": spec.note,
            }
        )
    return curves


def plot_activations(path: Path, curves: list[dict]) -> None:
    """Each activation and its derivative (`activation_curves`), with the registry's notes."""
    plt = pyplot()
    rows, columns = panel_grid(len(curves))
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 3.0 * rows), squeeze=False, layout="constrained"
    )
    for ax in axes.ravel()[len(curves) :]:
        ax.axis("off")
    for ax, curve in zip(axes.ravel(), curves, strict=False):
        ax.plot(curve["z"], curve["f"], label="f(z)")
        ax.plot(curve["z"], curve["derivative"], "--", label="f'(z)")
        peak = float(curve["derivative"].max())
        ax.set_title(f"{curve['name']}   max f' = {peak:.3g}", fontsize=9)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.grid(alpha=0.3)
        if curve["max_derivative"] is not None:
            ax.axhline(curve["max_derivative"], color="red", linewidth=0.7, linestyle=":")
        if curve["note"]:
            ax.text(0.03, 0.97, curve["note"], transform=ax.transAxes, va="top", fontsize=6)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Activations and their derivatives")
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
    log_axis(right, "x")
    log_axis(right, "y")
    right.set_xlabel(f"|true {target}| (log scale)")
    right.set_ylabel("absolute percentage error (fraction, log scale)")
    if mape is not None:
        right.axhline(mape, color="tab:red", linewidth=0.8, label=f"MAPE {mape:.3g}")
        right.legend(fontsize=8)
    right.set_title(_smallest_share(magnitude[shown], ape, mape), fontsize=8)
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
