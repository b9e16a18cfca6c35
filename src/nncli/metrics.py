"""The one registry of metrics, each computed by scikit-learn on original-unit values."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

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


@dataclass(frozen=True)
class MetricSpec:
    task: Literal["regression", "classification"]
    higher_is_better: bool  # `nncli runs --sort` lists the best run first
    note: str  # what it says; the README's Metrics table quotes it (tests/test_docs.py)
    unit: str = ""  # shown after the name in metric tables
    # Regression: (y_true, y_pred) -> value. None for classification metrics, which come from
    # one shared scikit-learn call (`precision_recall_fscore_support`, which `f1_score`,
    # `precision_score` and `recall_score` each call) under their registry name.
    fn: Callable[[np.ndarray, np.ndarray], float | None] | None = None
    # Whether None can mean "no meaning for this data" (shown "undefined") rather than only
    # "no value" (a diverged model, a one-row split; shown "-").
    may_be_undefined: bool = False


# Tables list each task's metrics in this order; the first is its headline metric, the one
# training tracks every epoch and `nncli runs` shows.
METRICS: dict[str, MetricSpec] = {
    "mse": MetricSpec(
        "regression",
        higher_is_better=False,
        note="mean squared error, in target units squared",
        fn=lambda t, p: _skm().mean_squared_error(t, p),
    ),
    "mape": MetricSpec(
        "regression",
        higher_is_better=False,
        note="mean absolute percentage error as a fraction (0.05 = 5%); undefined (`null` in"
        " JSON) when targets take both signs or one is near zero relative to the rest, where a"
        " percentage means nothing",
        unit="fraction",
        fn=_mape,
        may_be_undefined=True,
    ),
    "mae": MetricSpec(
        "regression",
        higher_is_better=False,
        note="mean absolute error, in target units",
        fn=lambda t, p: _skm().mean_absolute_error(t, p),
    ),
    "r2": MetricSpec(
        "regression",
        higher_is_better=True,
        note="coefficient of determination (1 is perfect, 0 is predicting the mean)",
        fn=lambda t, p: _skm().r2_score(t, p),
    ),
    "accuracy": MetricSpec(
        "classification", higher_is_better=True, note="fraction classified correctly"
    ),
    "f1": MetricSpec(
        "classification",
        higher_is_better=True,
        note="F1 score: binary for two classes (positive = `data.positive_class`, by default the"
        " second class), else macro-averaged",
    ),
    "precision": MetricSpec(
        "classification", higher_is_better=True, note="precision, averaged as f1 is"
    ),
    "recall": MetricSpec("classification", higher_is_better=True, note="recall, averaged as f1 is"),
    "log_loss": MetricSpec(
        "classification",
        higher_is_better=False,
        note="cross-entropy of the predicted probabilities (0 is certain and right); it sees"
        " how confident a model is, which accuracy does not",
    ),
    "roc_auc": MetricSpec(
        "classification",
        higher_is_better=True,
        note="area under the ROC curve: binary, or one-vs-rest macro-averaged for more classes;"
        " undefined when a split lacks a class",
        may_be_undefined=True,
    ),
}

# Entries of a split's metrics that are not one number, kept out of tables and summaries.
DETAILS = ("confusion_matrix", "per_class")


def metric_names(task: str) -> list[str]:
    """The task's metrics, in table order."""
    return [name for name, spec in METRICS.items() if spec.task == task]


def headline_metric(task: str) -> str:
    return metric_names(task)[0]


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    names = metric_names("regression")
    if not np.all(np.isfinite(y_pred)):  # a diverged model: no metric means anything
        return dict.fromkeys(names)
    with np.errstate(all="ignore"):
        return {name: _finite(METRICS[name].fn(y_true, y_pred)) for name in names}


def classification_metrics(
    y_true: np.ndarray, probabilities: np.ndarray, n_classes: int, positive: int = 1
) -> dict:
    """Scores from class probabilities (N, C), plus the confusion matrix (rows: true class,
    columns: predicted class) and per-class precision, recall, F1 and support. With two
    classes, `positive` is the index of the class F1, precision, recall and ROC AUC score."""
    skm = _skm()
    # float32 softmax sums to 1 within 1e-7, looser than scikit-learn's check: renormalize.
    probabilities = np.asarray(probabilities, dtype=np.float64)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    y_pred = probabilities.argmax(axis=1)
    labels = list(range(n_classes))
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true,
        y_pred,
        average=_average(n_classes),
        labels=labels if n_classes > 2 else None,
        pos_label=positive,
        zero_division=0,
    )
    found = {"accuracy": skm.accuracy_score(y_true, y_pred), "f1": f1}
    found |= {"precision": precision, "recall": recall}
    found["log_loss"] = skm.log_loss(y_true, probabilities, labels=labels)
    found["roc_auc"] = _roc_auc(y_true, probabilities, n_classes, positive)
    scores: dict = {name: _finite(found[name]) for name in metric_names("classification")}
    matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
    scores["confusion_matrix"] = matrix.tolist()
    each = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    scores["per_class"] = [
        {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
        for p, r, f, n in zip(*each, strict=True)
    ]
    return scores


def _roc_auc(
    y_true: np.ndarray, probabilities: np.ndarray, n_classes: int, positive: int
) -> float | None:
    """None where it has no meaning: a split that lacks one of the classes."""
    if len(np.unique(y_true)) < n_classes:
        return None
    if n_classes == 2:
        return _skm().roc_auc_score(y_true == positive, probabilities[:, positive])
    return _skm().roc_auc_score(y_true, probabilities, multi_class="ovr", labels=range(n_classes))


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


def undefined_metrics(task: str) -> dict[str, None]:
    """Every metric of the task as None: what a diverged model's outputs are scored as."""
    extra = list(DETAILS) if task == "classification" else []
    return dict.fromkeys([*metric_names(task), *extra])
