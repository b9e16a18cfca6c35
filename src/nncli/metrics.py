"""The one registry of metrics, each computed by scikit-learn on original-unit values."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# scikit-learn is imported on first use, so commands that only read results (`nncli runs`) start
# fast.

# A target this close to zero, relative to the mean |target|, makes MAPE meaningless.
MAPE_ZERO_TOLERANCE = 1e-3


def _mape(y_true: np.ndarray, y_pred: np.ndarray) -> float | None:
    """Mean absolute percentage error as a fraction; None where it has no meaning.

    Percentages need a natural zero: targets of both signs, or one (near) zero relative to the
    others, make MAPE explode or mislead, so it is undefined for them.
    """
    magnitude = np.abs(y_true)
    both_signs = y_true.min() < 0 < y_true.max()
    if both_signs or magnitude.min() <= MAPE_ZERO_TOLERANCE * max(magnitude.mean(), 1e-300):
        return None
    return float(_skm().mean_absolute_percentage_error(y_true, y_pred))


def _skm():
    import warnings

    from sklearn import metrics
    from sklearn.exceptions import UndefinedMetricWarning

    # Undefined values (R² of one row) come back as None; scikit-learn's warning would only
    # print its own file and line to the user.
    warnings.filterwarnings("ignore", category=UndefinedMetricWarning)
    return metrics


def _average(n_classes: int) -> str:
    return "binary" if n_classes == 2 else "macro"


REGRESSION_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float | None]] = {
    "mse": lambda t, p: _skm().mean_squared_error(t, p),
    "mape": _mape,
    "mae": lambda t, p: _skm().mean_absolute_error(t, p),
    "r2": lambda t, p: _skm().r2_score(t, p),
}

# Computed together by one scikit-learn call (`precision_recall_fscore_support`, which
# `f1_score`, `precision_score` and `recall_score` each call), besides accuracy.
CLASSIFICATION_METRICS = ("accuracy", "f1", "precision", "recall")


# What each metric says, for tables and the README.
METRIC_NOTES = {
    "mse": "mean squared error, target units squared",
    "mape": "mean absolute percentage error as a fraction (0.05 = 5%); undefined near zero targets",
    "mae": "mean absolute error, target units",
    "r2": "coefficient of determination (1 is perfect, 0 is predicting the mean)",
    "accuracy": "fraction classified correctly",
    "f1": "F1 score: binary for two classes (positive = second class), else macro average",
    "precision": "precision, averaged as f1 is",
    "recall": "recall, averaged as f1 is",
}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    if not np.all(np.isfinite(y_pred)):  # a diverged model: no metric means anything
        return dict.fromkeys(REGRESSION_METRICS)
    with np.errstate(all="ignore"):
        return {name: _finite(fn(y_true, y_pred)) for name, fn in REGRESSION_METRICS.items()}


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Scores plus the confusion matrix (rows: true class, columns: predicted class)."""
    skm = _skm()
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true,
        y_pred,
        average=_average(n_classes),
        labels=range(n_classes) if n_classes > 2 else None,
        zero_division=0,
    )
    found = {"accuracy": skm.accuracy_score(y_true, y_pred), "f1": f1}
    found |= {"precision": precision, "recall": recall}
    scores: dict = {name: _finite(found[name]) for name in CLASSIFICATION_METRICS}
    matrix = skm.confusion_matrix(y_true, y_pred, labels=list(range(n_classes)))
    scores["confusion_matrix"] = matrix.tolist()
    return scores


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


def undefined_metrics(task: str) -> dict[str, None]:
    """Every metric of the task as None: what a diverged model's outputs are scored as."""
    if task == "classification":
        return dict.fromkeys([*CLASSIFICATION_METRICS, "confusion_matrix"])
    return dict.fromkeys(REGRESSION_METRICS)


def headline_metric(task: str) -> str:
    return "accuracy" if task == "classification" else "mse"
