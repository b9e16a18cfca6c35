"""The metric registries, checked against direct scikit-learn calls made here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from nncli.metrics import (
    CLASSIFICATION_METRICS,
    METRIC_NOTES,
    REGRESSION_METRICS,
    classification_metrics,
    headline_metric,
    regression_metrics,
)


def regression_pair(seed: int = 0, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Positive targets well away from zero, and noisy predictions of them."""
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(1.0, 10.0, size=n)
    return y_true, y_true + rng.normal(0.0, 0.5, size=n)


def labels(seed: int, n_classes: int, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, size=n)
    y_pred = np.where(rng.random(n) < 0.7, y_true, rng.integers(0, n_classes, size=n))
    return y_true, y_pred


# --- regression --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_regression_metrics_match_scikit_learn(seed):
    y_true, y_pred = regression_pair(seed)
    scores = regression_metrics(y_true, y_pred)
    assert set(scores) == set(REGRESSION_METRICS)
    assert scores["mse"] == pytest.approx(skm.mean_squared_error(y_true, y_pred), rel=1e-12)
    assert scores["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred), rel=1e-12)
    assert scores["r2"] == pytest.approx(skm.r2_score(y_true, y_pred), rel=1e-12)
    expected_mape = skm.mean_absolute_percentage_error(y_true, y_pred)
    assert scores["mape"] == pytest.approx(expected_mape, rel=1e-12)
    assert all(type(v) is float for v in scores.values())


def test_regression_metrics_by_hand():
    y_true, y_pred = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 3.0])
    scores = regression_metrics(y_true, y_pred)
    assert scores["mse"] == pytest.approx(2 / 3)
    assert scores["mae"] == pytest.approx(2 / 3)
    assert scores["mape"] == pytest.approx((1 / 1 + 0 + 1 / 4) / 3)  # a fraction, not percent
    mean = 7 / 3
    total = sum((v - mean) ** 2 for v in (1.0, 2.0, 4.0))
    assert scores["r2"] == pytest.approx(1 - 2 / total)


def test_perfect_regression():
    y_true, _ = regression_pair()
    scores = regression_metrics(y_true, y_true.copy())
    assert scores == {"mse": 0.0, "mape": 0.0, "mae": 0.0, "r2": 1.0}


def test_mape_is_a_finite_fraction_for_all_negative_targets():
    y_true = np.array([-2.0, -4.0, -5.0])
    y_pred = np.array([-1.0, -4.0, -6.0])
    mape = regression_metrics(y_true, y_pred)["mape"]
    assert mape == pytest.approx((0.5 + 0 + 0.2) / 3)
    assert math.isfinite(mape)


@pytest.mark.parametrize(
    "y_true",
    [
        [0.0, 2.0, 3.0],  # an exact zero
        [2.0, -0.0, 3.0],  # a negative zero
        [1e-4, 2.0, 3.0],  # a zero in all but name, next to the other targets
        [-1.0, 2.0, 3.0],  # both signs: no natural zero to take percentages from
    ],
)
def test_mape_is_undefined_near_zero_targets(y_true):
    y_true = np.asarray(y_true)
    scores = regression_metrics(y_true, y_true + 0.5)
    assert scores["mape"] is None
    assert scores["mse"] == pytest.approx(0.25)  # the other metrics still report


def test_mape_is_defined_for_small_targets_of_one_scale():
    y_true = np.array([1e-9, 2e-9, 3e-9])
    mape = regression_metrics(y_true, y_true * 1.1)["mape"]
    assert mape == pytest.approx(0.1)


def test_non_finite_metric_values_become_none():
    y_true = np.array([1.0, 2.0, 3.0])
    y_pred = np.array([1e200, 2.0, 3.0])  # finite, but its squared error overflows
    with np.errstate(over="raise"):  # the function must silence this itself
        scores = regression_metrics(y_true, y_pred)
    assert scores["mse"] is None
    assert scores["r2"] is None
    assert scores["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred))


# --- classification ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_binary_metrics_match_scikit_learn(seed):
    y_true, y_pred = labels(seed, 2)
    scores = classification_metrics(y_true, y_pred, 2)
    assert set(scores) == {*CLASSIFICATION_METRICS, "confusion_matrix"}
    assert scores["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert scores["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="binary"))
    assert scores["precision"] == pytest.approx(skm.precision_score(y_true, y_pred))
    assert scores["recall"] == pytest.approx(skm.recall_score(y_true, y_pred))
    expected = skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist()
    assert scores["confusion_matrix"] == expected


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_metrics_are_macro_averages(seed):
    y_true, y_pred = labels(seed, 3)
    scores = classification_metrics(y_true, y_pred, 3)
    assert scores["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    for name, fn in [
        ("f1", skm.f1_score),
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
    ]:
        assert scores[name] == pytest.approx(fn(y_true, y_pred, average="macro")), name
    assert scores["confusion_matrix"] == skm.confusion_matrix(y_true, y_pred).tolist()


def test_binary_f1_takes_the_second_class_as_positive():
    # Class 1: one true positive, one false positive, one false negative.
    y_true = np.array([1, 1, 0, 0, 0])
    y_pred = np.array([1, 0, 1, 0, 0])
    scores = classification_metrics(y_true, y_pred, 2)
    assert scores["precision"] == pytest.approx(1 / 2)
    assert scores["recall"] == pytest.approx(1 / 2)
    assert scores["f1"] == pytest.approx(1 / 2)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    assert scores["confusion_matrix"] == [[2, 1], [1, 1]]


def test_confusion_matrix_keeps_its_shape_when_a_class_is_never_predicted():
    y_true = np.array([0, 1, 2, 2, 1])
    y_pred = np.array([0, 1, 1, 1, 1])  # class 2 is never predicted
    scores = classification_metrics(y_true, y_pred, 3)
    assert scores["confusion_matrix"] == [[1, 0, 0], [0, 2, 0], [0, 2, 0]]
    labels_ = [0, 1, 2]
    for name, fn in [
        ("f1", skm.f1_score),
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
    ]:
        expected = fn(y_true, y_pred, average="macro", labels=labels_, zero_division=0)
        assert scores[name] == pytest.approx(expected), name


def test_confusion_matrix_has_a_row_for_a_class_absent_from_the_split():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 1, 1, 1])
    scores = classification_metrics(y_true, y_pred, 4)
    matrix = np.array(scores["confusion_matrix"])
    assert matrix.shape == (4, 4)
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    # The two absent classes count as zero in the macro average, as they would in a full split.
    expected = skm.recall_score(y_true, y_pred, average="macro", labels=range(4), zero_division=0)
    assert scores["recall"] == pytest.approx(expected)


def test_a_model_that_never_predicts_the_positive_class_scores_zero_not_nan():
    y_true = np.array([0, 1, 1, 0])
    y_pred = np.zeros(4, dtype=np.int64)
    scores = classification_metrics(y_true, y_pred, 2)
    assert scores["precision"] == 0.0
    assert scores["recall"] == 0.0
    assert scores["f1"] == 0.0
    assert scores["accuracy"] == 0.5


# --- the registry ------------------------------------------------------------------------------


def test_every_metric_has_a_note():
    assert set(METRIC_NOTES) == set(REGRESSION_METRICS) | set(CLASSIFICATION_METRICS)


@pytest.mark.parametrize(("task", "name"), [("classification", "accuracy"), ("regression", "mse")])
def test_headline_metric_is_a_registered_metric(task, name):
    assert headline_metric(task) == name
    registry = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    assert name in registry


def test_non_finite_regression_predictions_give_no_metrics():
    y_true = np.array([1.0, 2.0, 3.0])
    assert regression_metrics(y_true, np.array([1.0, np.nan, 3.0])) == dict.fromkeys(
        ["mse", "mape", "mae", "r2"]
    )
