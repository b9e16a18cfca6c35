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
) -> None:
    """Loss (left) and the headline metric (right) for train and val, the kept epoch marked."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], "loss", loss_name), (axes[1], metric, metric)):
        for split, style in (("train", "-"), ("val", "--")):
            column = f"{split}_{key}"
            if history and column in history[0]:
                ax.plot(epochs, [row[column] for row in history], style, label=split)
        ax.axvline(kept_epoch, color="grey", linewidth=0.8, linestyle=":",
                   label=f"kept (epoch {kept_epoch})")  # fmt: skip
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
        values = [row[f"train_{key}"] for row in history if row[f"train_{key}"] > 0]
        if key == "loss" and values and max(values) / min(values) > 100:
            ax.set_yscale("log")
    if history and "val_loss" not in history[0]:
        title += " (no validation split)"
    fig.suptitle(title)
    _save(fig, path)
