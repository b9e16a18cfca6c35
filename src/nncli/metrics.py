"""The one registry of metrics on original-unit values, computed as scikit-learn computes them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # imported by each function that computes: the registry alone needs no numpy

from nncli.tasks import CLASSIFICATION, REGRESSION, TASKS

# Written with numpy rather than called from scikit-learn, whose import (scipy's, mostly) took
# over a second, as long as torch's: the formulas of sklearn/metrics/_classification.py,
# _regression.py and _ranking.py (1.9), with its conventions (zero_division=0, log loss clipped
# to [eps, 1 - eps], R² of a constant target), and tests/test_metrics.py compares the two.

# A target this close to zero, relative to the mean |target|, makes MAPE meaningless.
MAPE_ZERO_TOLERANCE = 1e-3


def _mape(y_true: np.ndarray, y_pred: np.ndarray) -> float | None:
    """Mean absolute percentage error as a fraction; None where it has no meaning.

    Percentages need a natural zero: targets of both signs, or one (near) zero relative to the
    others, make MAPE explode or mislead, so it is undefined for them.
    """
    import numpy as np

    magnitude = np.abs(y_true)
    both_signs = y_true.min() < 0 < y_true.max()
    if both_signs or magnitude.min() <= MAPE_ZERO_TOLERANCE * max(magnitude.mean(), 1e-300):
        return None
    eps = np.finfo(np.float64).eps
    return float(np.mean(np.abs(y_pred - y_true) / np.maximum(magnitude, eps)))


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> float | None:
    """Undefined for one row; a constant target scores 1 when predicted exactly, else 0."""
    import numpy as np

    if len(y_true) < 2:
        return None
    residual = np.sum((y_true - y_pred) ** 2)
    spread = np.sum((y_true - np.mean(y_true)) ** 2)
    if residual == 0 or spread == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1 - residual / spread)


@dataclass(frozen=True)
class MetricSpec:
    task: str  # a name of `tasks.TASKS`
    higher_is_better: bool  # `nncli runs --sort` lists the best run first
    note: str  # what it says; docs/metrics.md's table quotes it (tests/test_docs.py)
    unit: str = ""  # shown after the name in metric tables
    # Regression: (y_true, y_pred) -> value. None for classification metrics, which
    # `classification_metrics` computes together from one confusion matrix.
    fn: Callable[[np.ndarray, np.ndarray], float | None] | None = None
    # Whether None can mean "no meaning for this data" (shown "undefined") rather than only
    # "no value" (a diverged model, a one-row split; shown "-").
    may_be_undefined: bool = False
    # Whether, for two classes, it scores one class (`data.positive_class`), which tables name.
    positive_class: bool = False


# Tables list each task's metrics in this order; the first is its headline metric, the one
# training tracks every epoch and `nncli runs` shows.
METRICS: dict[str, MetricSpec] = {
    "mse": MetricSpec(
        REGRESSION,
        higher_is_better=False,
        note="mean squared error, in target units squared",
        fn=lambda t, p: float(((t - p) ** 2).mean()),
    ),
    "rmse": MetricSpec(
        REGRESSION,
        higher_is_better=False,
        note="root mean squared error, in target units (the square root of mse)",
        fn=lambda t, p: math.sqrt(float(((t - p) ** 2).mean())),
    ),
    "mape": MetricSpec(
        REGRESSION,
        higher_is_better=False,
        note="mean absolute percentage error as a fraction (0.05 = 5%); undefined (`null` in"
        " JSON) when targets take both signs or one is near zero relative to the rest, where a"
        " percentage means nothing",
        unit="fraction",
        fn=_mape,
        may_be_undefined=True,
    ),
    "mae": MetricSpec(
        REGRESSION,
        higher_is_better=False,
        note="mean absolute error, in target units",
        fn=lambda t, p: float(abs(p - t).mean()),
    ),
    "r2": MetricSpec(
        REGRESSION,
        higher_is_better=True,
        note="coefficient of determination (1 is perfect, 0 is predicting the mean)",
        fn=_r2,
    ),
    "accuracy": MetricSpec(
        CLASSIFICATION, higher_is_better=True, note="fraction classified correctly"
    ),
    "f1": MetricSpec(
        CLASSIFICATION,
        higher_is_better=True,
        note="F1 score: binary for two classes (positive = `data.positive_class`, by default the"
        " second class), else macro-averaged",
        positive_class=True,
    ),
    "precision": MetricSpec(
        CLASSIFICATION,
        higher_is_better=True,
        note="precision, averaged as f1 is",
        positive_class=True,
    ),
    "recall": MetricSpec(
        CLASSIFICATION, higher_is_better=True, note="recall, averaged as f1 is", positive_class=True
    ),
    "specificity": MetricSpec(
        CLASSIFICATION,
        higher_is_better=True,
        note="true negative rate, TN / (TN + FP): the recall of the negative class for two"
        " classes, else each class's one-vs-rest specificity macro-averaged",
        positive_class=True,
    ),
    "balanced_accuracy": MetricSpec(
        CLASSIFICATION,
        higher_is_better=True,
        note="the mean of each class's recall (classes absent from the split left out), so a"
        " model that always answers the majority class scores 1 / classes",
    ),
    "log_loss": MetricSpec(
        CLASSIFICATION,
        higher_is_better=False,
        note="cross-entropy of the predicted probabilities (0 is certain and right); it sees"
        " how confident a model is, which accuracy does not",
    ),
    "roc_auc": MetricSpec(
        CLASSIFICATION,
        higher_is_better=True,
        note="area under the ROC curve: binary, or one-vs-rest macro-averaged for more classes;"
        " undefined when a split lacks a class",
        may_be_undefined=True,
        positive_class=True,
    ),
    "average_precision": MetricSpec(
        CLASSIFICATION,
        higher_is_better=True,
        note="average precision (area under the precision-recall curve, as a step function) of"
        " the positive class's probability, or one-vs-rest macro-averaged for more classes;"
        " undefined when a split lacks a class",
        may_be_undefined=True,
        positive_class=True,
    ),
}

# What `per_class` holds for each class, beside its support, in table order.
PER_CLASS = ("precision", "recall", "f1", "specificity")

# Entries of a split's metrics that are not one number, kept out of tables and summaries.
DETAILS = ("confusion_matrix", "per_class")


def metric_names(task: str) -> list[str]:
    """The task's metrics, in table order."""
    return [name for name, spec in METRICS.items() if spec.task == task]


def headline_metric(task: str) -> str:
    return metric_names(task)[0]


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    import numpy as np

    names = metric_names(REGRESSION)
    if not np.all(np.isfinite(y_pred)):  # a diverged model: no metric means anything
        return dict.fromkeys(names)
    with np.errstate(all="ignore"):
        return {name: _finite(METRICS[name].fn(y_true, y_pred)) for name in names}


def classification_metrics(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    n_classes: int,
    positive: int = 1,
    threshold: float | None = None,
) -> dict:
    """Scores from class probabilities (N, C), plus the confusion matrix (rows: true class,
    columns: predicted class) and per-class precision, recall, F1, specificity and support. With
    two classes, `positive` is the index of the class the positive-class metrics score; with
    more, they are macro averages (a class never predicted or absent scores 0). A binary
    model's `threshold` decides its labels (else the likelier class)."""
    import numpy as np

    # float32 softmax sums to 1 within 1e-7: renormalize in float64.
    probabilities = np.asarray(probabilities, dtype=np.float64)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    y_pred = probabilities.argmax(axis=1)
    if threshold is not None and n_classes == 2:  # the positive class from `threshold` up
        y_pred = np.where(probabilities[:, positive] >= threshold, positive, 1 - positive)
    matrix = np.bincount(y_true * n_classes + y_pred, minlength=n_classes**2)
    matrix = matrix.reshape(n_classes, n_classes)  # (C true, C predicted)
    hits, predicted, actual = np.diag(matrix), matrix.sum(axis=0), matrix.sum(axis=1)
    negatives = len(y_true) - actual  # (C,) one-vs-rest
    each = {
        "precision": _ratio(hits, predicted),
        "recall": _ratio(hits, actual),
        "f1": _ratio(2.0 * hits, actual + predicted),
        # True negatives over negatives, one class against the rest.
        "specificity": _ratio(negatives - (predicted - hits), negatives),
    }  # name -> (C,)
    scored = [positive] if n_classes == 2 else slice(None)
    found = {name: np.mean(values[scored]) for name, values in each.items()}
    found["accuracy"] = np.mean(y_true == y_pred)
    found["balanced_accuracy"] = np.mean(each["recall"][actual > 0])
    eps = np.finfo(np.float64).eps
    likelihood = np.clip(probabilities, eps, 1 - eps)[np.arange(len(y_true)), y_true]  # (N,)
    found["log_loss"] = np.mean(-np.log(likelihood))
    found["roc_auc"], found["average_precision"] = _ranking_scores(
        y_true, probabilities, n_classes, positive
    )
    scores: dict = {name: _finite(found[name]) for name in metric_names(CLASSIFICATION)}
    scores["confusion_matrix"] = matrix.tolist()
    scores["per_class"] = [
        {**{name: float(values[c]) for name, values in each.items()}, "support": int(actual[c])}
        for c in range(n_classes)
    ]
    return scores


def _ratio(counts: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """counts / totals, 0 where a total is 0 (scikit-learn's zero_division=0)."""
    import numpy as np

    return np.where(totals > 0, counts / np.maximum(totals, 1), 0.0)


def _ranking_scores(
    y_true: np.ndarray, probabilities: np.ndarray, n_classes: int, positive: int
) -> tuple[float | None, float | None]:
    """ROC AUC and average precision, binary or one-vs-rest macro-averaged, from one ranking of
    each class's scores; (None, None) where they have no meaning: a split that lacks a class."""
    import numpy as np

    if len(np.unique(y_true)) < n_classes:
        return None, None
    classes = [positive] if n_classes == 2 else range(n_classes)
    pairs = [_ranked(y_true == c, probabilities[:, c]) for c in classes]
    roc_auc = [_binary_roc_auc(tps, fps) for tps, fps in pairs]
    precision = [_binary_average_precision(tps, fps) for tps, fps in pairs]
    return float(np.mean(roc_auc)), float(np.mean(precision))


def _ranked(is_positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives above each distinct score, from the highest down."""
    import numpy as np

    # Not a stable sort (5x slower): rows of equal score end in one group, whatever their order.
    order = np.argsort(-scores)
    scores, is_positive = scores[order], is_positive[order].astype(np.float64)
    ends = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # each score's last row
    tps = np.cumsum(is_positive)[ends]
    return tps, 1 + ends - tps


def _binary_average_precision(tps: np.ndarray, fps: np.ndarray) -> float:
    """The sum of precision times the rise in recall at each distinct score (scikit-learn's
    `average_precision_score`, not interpolated), from `_ranked`'s counts."""
    import numpy as np

    precision, recall = tps / (tps + fps), tps / tps[-1]
    # Summed from the lowest threshold up, as scikit-learn sums, so the floats agree.
    return float(max(0.0, -np.sum(np.diff(np.r_[recall[::-1], 0.0]) * precision[::-1])))


def _binary_roc_auc(tps: np.ndarray, fps: np.ndarray) -> float:
    """The trapezoidal area under the ROC curve through each distinct score (collinear points
    dropped, as scikit-learn's `roc_curve` drops them, so the sums agree), from `_ranked`'s
    counts."""
    import numpy as np

    if len(fps) > 2:
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps = fps[keep], tps[keep]
    fpr, tpr = np.r_[0.0, fps] / fps[-1], np.r_[0.0, tps] / tps[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


def undefined_metrics(task: str) -> dict[str, None]:
    """Every metric of the task as None: what a diverged model's outputs are scored as."""
    extra = list(DETAILS) if TASKS[task].classes else []
    return dict.fromkeys([*metric_names(task), *extra])
