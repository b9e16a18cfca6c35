"""A binary classifier's threshold curves: the ROC curve and the precision-recall curve, their
points computed in numpy as scikit-learn's `roc_curve` and `precision_recall_curve` compute them
(every distinct score a threshold), and drawn as one figure each.

Apart from report/plots.py, which holds every other single-model figure, to keep both short."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# plots.save_figure looked up at each call, as every figure module does: one patch of it (the
# tests' unrendered_plots) then covers every figure.
from nncli.report import plots


def threshold_counts(
    positive: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positives (cumulative counts) when every row scoring at least each
    distinct score, highest first, is called positive; and those scores (the thresholds)."""
    order = np.argsort(score, kind="mergesort")[::-1]
    score, positive = np.asarray(score)[order], np.asarray(positive, dtype=bool)[order]
    ends = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # last row of each score
    tps = np.cumsum(positive)[ends]
    return 1 + ends - tps, tps, score[ends]


def roc_points(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates from (0, 0) to (1, 1): `roc_curve(drop_intermediate=False)`."""
    fps, tps, _ = threshold_counts(positive, score)
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    return fps / max(fps[-1], 1), tps / max(tps[-1], 1)


def precision_recall_points(
    positive: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall, recall falling to 0 where precision is 1: as
    `precision_recall_curve`."""
    fps, tps, _ = threshold_counts(positive, score)
    precision = tps / (tps + fps)
    recall = tps / max(tps[-1], 1)
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0]


def plot_roc(path: Path, positive: np.ndarray, score: np.ndarray, *, title: str) -> None:
    """The ROC curve, its area, and the diagonal a classifier guessing at random draws."""
    fpr, tpr = roc_points(positive, score)
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    ax.plot(fpr, tpr, label=f"model (AUC {np.trapezoid(tpr, fpr):.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="random guess (AUC 0.5)")
    ax.set(xlabel="false positive rate (1 - specificity)", ylabel="true positive rate (recall)",
           xlim=(0, 1), ylim=(0, 1.01), title=title)  # fmt: skip
    ax.legend(loc="lower right", fontsize=8)
    plots.save_figure(fig, path)


def plot_precision_recall(
    path: Path, positive: np.ndarray, score: np.ndarray, *, title: str
) -> None:
    """The precision-recall curve, its average precision, and the positive share (the
    precision of calling every row positive)."""
    precision, recall = precision_recall_points(positive, score)
    average = -np.sum(np.diff(recall) * precision[:-1])  # scikit-learn's average_precision
    share = float(np.mean(positive))
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    ax.step(recall, precision, where="post", label=f"model (average precision {average:.3f})")
    ax.axhline(share, linestyle=":", color="grey", label=f"every row positive ({share:.3f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01), title=title)
    ax.legend(loc="lower left", fontsize=8)
    plots.save_figure(fig, path)
