"""The metric registry, checked against direct scikit-learn calls made here."""

from __future__ import annotations

import io
import json
import math
import warnings

import numpy as np
import pytest
from rich.console import Console
from sklearn import metrics as skm
from typer.testing import CliRunner

from nncli.cli import app
from nncli.metrics import (
    METRICS,
    classification_metrics,
    headline_metric,
    metric_names,
    regression_metrics,
)
from nncli.report.tables import metrics_table


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
    assert list(scores) == metric_names("regression")
    assert scores["mse"] == pytest.approx(skm.mean_squared_error(y_true, y_pred), rel=1e-12)
    assert scores["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred), rel=1e-12)
    assert scores["r2"] == pytest.approx(skm.r2_score(y_true, y_pred), rel=1e-12)
    expected_mape = skm.mean_absolute_percentage_error(y_true, y_pred)
    assert scores["mape"] == pytest.approx(expected_mape, rel=1e-12)
    expected_rmse = skm.root_mean_squared_error(y_true, y_pred)
    assert scores["rmse"] == pytest.approx(expected_rmse, rel=1e-12)
    assert all(type(v) is float for v in scores.values())


def test_regression_metrics_by_hand():
    y_true, y_pred = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 3.0])
    scores = regression_metrics(y_true, y_pred)
    assert scores["mse"] == pytest.approx(2 / 3)
    assert scores["rmse"] == pytest.approx(math.sqrt(2 / 3))
    assert scores["mae"] == pytest.approx(2 / 3)
    assert scores["mape"] == pytest.approx((1 / 1 + 0 + 1 / 4) / 3)  # a fraction, not percent
    mean = 7 / 3
    total = sum((v - mean) ** 2 for v in (1.0, 2.0, 4.0))
    assert scores["r2"] == pytest.approx(1 - 2 / total)


def test_perfect_regression():
    y_true, _ = regression_pair()
    scores = regression_metrics(y_true, y_true.copy())
    assert scores == {"mse": 0.0, "rmse": 0.0, "mape": 0.0, "mae": 0.0, "r2": 1.0}


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


def probabilities(y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(N, C) probabilities whose most likely class is `y_pred`: 0.7 there, the rest shared."""
    out = np.full((len(y_pred), n_classes), 0.3 / (n_classes - 1))
    out[np.arange(len(y_pred)), y_pred] = 0.7
    return out


@pytest.mark.parametrize("seed", range(3))
def test_binary_metrics_match_scikit_learn(seed):
    y_true, y_pred = labels(seed, 2)
    scores = classification_metrics(y_true, probabilities(y_pred, 2), 2)
    assert list(scores) == [*metric_names("classification"), "confusion_matrix", "per_class"]
    assert scores["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert scores["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="binary"))
    assert scores["precision"] == pytest.approx(skm.precision_score(y_true, y_pred))
    assert scores["recall"] == pytest.approx(skm.recall_score(y_true, y_pred))
    expected = skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist()
    assert scores["confusion_matrix"] == expected


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_metrics_are_macro_averages(seed):
    y_true, y_pred = labels(seed, 3)
    scores = classification_metrics(y_true, probabilities(y_pred, 3), 3)
    assert scores["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    for name, fn in [
        ("f1", skm.f1_score),
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
    ]:
        assert scores[name] == pytest.approx(fn(y_true, y_pred, average="macro")), name
    assert scores["confusion_matrix"] == skm.confusion_matrix(y_true, y_pred).tolist()


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_log_loss_roc_auc_and_per_class_scores_match_scikit_learn(n_classes):
    g = np.random.default_rng(n_classes)
    y_true = np.arange(60) % n_classes
    raw = g.random((60, n_classes)) + np.eye(n_classes)[y_true] * g.random(60)[:, None]
    probs = raw / raw.sum(axis=1, keepdims=True)
    scores = classification_metrics(y_true, probs, n_classes)
    assert scores["log_loss"] == pytest.approx(skm.log_loss(y_true, probs))
    expected_auc = (
        skm.roc_auc_score(y_true, probs[:, 1])
        if n_classes == 2
        else skm.roc_auc_score(y_true, probs, multi_class="ovr")
    )
    assert scores["roc_auc"] == pytest.approx(expected_auc)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, probs.argmax(axis=1), average=None, zero_division=0
    )
    # Each class's specificity is the true-negative rate of one class against the rest.
    ovr = skm.multilabel_confusion_matrix(y_true, probs.argmax(axis=1))  # (C, 2, 2)
    specificity = ovr[:, 0, 0] / (ovr[:, 0, 0] + ovr[:, 0, 1])
    assert scores["per_class"] == [
        {"precision": pytest.approx(p), "recall": pytest.approx(r), "f1": pytest.approx(f),
         "specificity": pytest.approx(t), "support": int(n)}
        for p, r, f, t, n in zip(precision, recall, f1, specificity, support, strict=True)
    ]  # fmt: skip
    expected_ap = (
        skm.average_precision_score(y_true, probs[:, 1])
        if n_classes == 2
        else skm.average_precision_score(y_true, probs)
    )
    assert scores["average_precision"] == pytest.approx(expected_ap)
    expected_balanced = skm.balanced_accuracy_score(y_true, probs.argmax(axis=1))
    assert scores["balanced_accuracy"] == pytest.approx(expected_balanced)


def test_roc_auc_is_undefined_for_a_split_missing_a_class():
    y_true = np.array([0, 0, 1, 1])
    scores = classification_metrics(y_true, probabilities(np.array([0, 1, 1, 1]), 3), 3)
    assert scores["roc_auc"] is None and scores["log_loss"] is not None
    assert scores["average_precision"] is None


def test_binary_specificity_is_the_recall_of_the_negative_class():
    # Positive class 1: 3 negatives, of which one is called positive: specificity 2/3.
    y_true = np.array([1, 1, 0, 0, 0])
    y_pred = np.array([1, 0, 1, 0, 0])
    for positive, expected in ((1, 2 / 3), (0, 1 / 2)):
        scores = classification_metrics(y_true, probabilities(y_pred, 2), 2, positive=positive)
        assert scores["specificity"] == pytest.approx(expected)
        negative = 1 - positive
        assert scores["specificity"] == pytest.approx(
            skm.recall_score(y_true, y_pred, pos_label=negative)
        )
        tn, fp = (skm.confusion_matrix(y_true == positive, y_pred == positive).ravel())[:2]
        assert scores["specificity"] == pytest.approx(tn / (tn + fp))


def test_balanced_accuracy_of_always_answering_the_majority_is_one_over_the_classes():
    y_true = np.array([0] * 17 + [1] * 3)
    scores = classification_metrics(y_true, probabilities(np.zeros(20, dtype=int), 2), 2)
    assert scores["accuracy"] == pytest.approx(0.85)
    assert scores["balanced_accuracy"] == pytest.approx(0.5)
    assert scores["specificity"] == pytest.approx(1.0)  # no negative called positive
    assert scores["average_precision"] == pytest.approx(0.15)  # every score tied: the share


def test_binary_f1_takes_the_second_class_as_positive():
    # Class 1: one true positive, one false positive, one false negative.
    y_true = np.array([1, 1, 0, 0, 0])
    y_pred = np.array([1, 0, 1, 0, 0])
    scores = classification_metrics(y_true, probabilities(y_pred, 2), 2)
    assert scores["precision"] == pytest.approx(1 / 2)
    assert scores["recall"] == pytest.approx(1 / 2)
    assert scores["f1"] == pytest.approx(1 / 2)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    assert scores["confusion_matrix"] == [[2, 1], [1, 1]]


def test_confusion_matrix_keeps_its_shape_when_a_class_is_never_predicted():
    y_true = np.array([0, 1, 2, 2, 1])
    y_pred = np.array([0, 1, 1, 1, 1])  # class 2 is never predicted
    scores = classification_metrics(y_true, probabilities(y_pred, 3), 3)
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
    scores = classification_metrics(y_true, probabilities(y_pred, 4), 4)
    matrix = np.array(scores["confusion_matrix"])
    assert matrix.shape == (4, 4)
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    # The two absent classes count as zero in the macro average, as they would in a full split.
    expected = skm.recall_score(y_true, y_pred, average="macro", labels=range(4), zero_division=0)
    assert scores["recall"] == pytest.approx(expected)


def test_a_model_that_never_predicts_the_positive_class_scores_zero_not_nan():
    y_true = np.array([0, 1, 1, 0])
    y_pred = np.zeros(4, dtype=np.int64)
    scores = classification_metrics(y_true, probabilities(y_pred, 2), 2)
    assert scores["precision"] == 0.0
    assert scores["recall"] == 0.0
    assert scores["f1"] == 0.0
    assert scores["accuracy"] == 0.5


# --- the registry ------------------------------------------------------------------------------


def test_each_task_has_its_metrics_and_every_metric_says_what_it_is():
    assert metric_names("regression") == ["mse", "rmse", "mape", "mae", "r2"]
    assert metric_names("classification") == [
        "accuracy",
        "f1",
        "precision",
        "recall",
        "specificity",
        "balanced_accuracy",
        "log_loss",
        "roc_auc",
        "average_precision",
    ]
    for name, spec in METRICS.items():
        assert spec.note.strip(), name
        # Regression metrics compute themselves; classification ones share one call.
        assert (spec.fn is not None) == (spec.task == "regression"), name


@pytest.mark.parametrize(("task", "name"), [("classification", "accuracy"), ("regression", "mse")])
def test_headline_metric_is_a_registered_metric(task, name):
    assert headline_metric(task) == name
    assert METRICS[name].task == task


def scores_of(task: str, *, good: bool) -> dict:
    """Every metric of `task` for a close prediction (good) or a poor one, by the registry."""
    if task == "regression":
        y_true, y_close = regression_pair()
        y_pred = y_close if good else y_true + np.linspace(-3.0, 3.0, len(y_true))
        return regression_metrics(y_true, y_pred)
    y_true = np.array([0, 1] * 10)
    y_pred = y_true.copy()
    y_pred[:1] = 1  # one mistake
    return classification_metrics(y_true, probabilities(y_pred if good else 1 - y_true, 2), 2)


@pytest.mark.parametrize("name", list(METRICS))
def test_every_metric_is_shown_in_the_metrics_table(name):
    task = METRICS[name].task
    scores = scores_of(task, good=True)
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(metrics_table({"test": scores}, task))
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in
            buffer.getvalue().splitlines() if line.count("│") == 3}  # fmt: skip
    label = next(label for label in rows if label.split(" ")[0] == name)
    assert rows[label] == f"{scores[name]:.4f}"


@pytest.mark.parametrize("name", list(METRICS))
def test_runs_sort_lists_the_better_model_first_for_every_metric(tmp_path, name):
    task = METRICS[name].task
    # The older run predicts better, so sorting must overturn the newest-first listing.
    for run, good, created in (
        ("good", True, "2026-01-01T00:00:00"),
        ("poor", False, "2026-02-01"),
    ):
        (tmp_path / run).mkdir()
        (tmp_path / run / "run.json").write_text(json.dumps({"created": created}))
        summary = {"task": task, "metrics": {"test": scores_of(task, good=good)}}
        (tmp_path / run / "metrics.json").write_text(json.dumps(summary))
    good, poor = scores_of(task, good=True)[name], scores_of(task, good=False)[name]
    assert good != poor
    result = CliRunner().invoke(app, ["runs", str(tmp_path), "--sort", name, "--json"])
    assert result.exit_code == 0, result.output
    assert [r["run"] for r in json.loads(result.stdout)] == ["good", "poor"]


def test_non_finite_regression_predictions_give_no_metrics():
    y_true = np.array([1.0, 2.0, 3.0])
    assert regression_metrics(y_true, np.array([1.0, np.nan, 3.0])) == dict.fromkeys(
        ["mse", "rmse", "mape", "mae", "r2"]
    )


def test_the_positive_class_can_be_named():
    y_true = np.array([1, 1, 0, 0, 0, 1])
    probs = probabilities(np.array([1, 0, 1, 0, 0, 1]), 2)
    scores = classification_metrics(y_true, probs, 2, positive=0)
    for name, fn in [("f1", skm.f1_score), ("precision", skm.precision_score),
                     ("recall", skm.recall_score)]:  # fmt: skip
        assert scores[name] == pytest.approx(fn(y_true, probs.argmax(1), pos_label=0)), name
    assert scores["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true == 0, probs[:, 0]))


# --- numpy, as scikit-learn computes them ------------------------------------------------------


def scikit_learn_scores(y_true, probs, n_classes: int, positive: int) -> dict:
    """What classification_metrics called scikit-learn for, before it computed them itself."""
    probs = probs / probs.sum(axis=1, keepdims=True)  # renormalized in float64, as it does
    y_pred = probs.argmax(axis=1)
    labels_ = list(range(n_classes))
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, average="binary" if n_classes == 2 else "macro",
        labels=labels_ if n_classes > 2 else None, pos_label=positive if n_classes == 2 else 1,
        zero_division=0,
    )  # fmt: skip
    scores = {"accuracy": skm.accuracy_score(y_true, y_pred), "f1": f1, "precision": precision,
              "recall": recall, "log_loss": skm.log_loss(y_true, y_proba=probs, labels=labels_),
              "roc_auc": None, "average_precision": None}  # fmt: skip
    with warnings.catch_warnings():  # y_pred holds a class absent from y_true: it is left out
        warnings.simplefilter("ignore", UserWarning)
        scores["balanced_accuracy"] = skm.balanced_accuracy_score(y_true, y_pred)
    # Specificity has no function of its own: the recall of "not the class", one-vs-rest.
    specificity = [
        skm.recall_score(y_true != c, y_pred != c, zero_division=0) for c in range(n_classes)
    ]
    scores["specificity"] = specificity[positive] if n_classes == 2 else np.mean(specificity)
    if len(np.unique(y_true)) == n_classes:
        scores["roc_auc"] = (
            skm.roc_auc_score(y_true == positive, probs[:, positive])
            if n_classes == 2
            else skm.roc_auc_score(y_true, probs, multi_class="ovr", labels=labels_)
        )
        scores["average_precision"] = (
            skm.average_precision_score(y_true == positive, probs[:, positive])
            if n_classes == 2
            else skm.average_precision_score(y_true, probs)
        )
    return scores


def test_classification_metrics_equal_scikit_learns_bit_for_bit():
    """Over random labels and probabilities, tied scores (ROC AUC's hard case), absent and
    never-predicted classes: the same floats, not merely close ones."""
    g = np.random.default_rng(1)
    covered = set()  # (binary?, hard case) met
    for case in range(80):  # the first 80 of what were 200: every hard case is met by case 69
        n_classes, n = int(g.integers(2, 6)), int(g.integers(2, 80))
        y_true = g.integers(0, n_classes, size=n)
        raw = g.random((n, n_classes)) ** 3
        if case % 3 == 0:
            raw = np.round(raw, 1) + 1e-3  # many ties
        probs = raw / raw.sum(axis=1, keepdims=True)
        positive = int(g.integers(0, 2))
        binary = n_classes == 2
        covered.add((binary, f"positive {positive}"))
        if case % 3 == 0:
            covered.add((binary, "ties"))
        if len(np.unique(y_true)) < n_classes:
            covered.add((binary, "absent class"))
        if len(np.unique(probs.argmax(axis=1))) < n_classes:
            covered.add((binary, "never predicted"))
        scores = classification_metrics(y_true, probs, n_classes, positive=positive)
        expected = scikit_learn_scores(y_true, probs, n_classes, positive)
        assert {k: scores[k] for k in expected} == expected, case
        matrix = skm.confusion_matrix(y_true, probs.argmax(axis=1), labels=range(n_classes))
        assert scores["confusion_matrix"] == matrix.tolist()
    hard = ("ties", "absent class", "never predicted", "positive 0", "positive 1")
    assert covered == {(binary, case) for binary in (True, False) for case in hard}


def test_regression_metrics_equal_scikit_learns_bit_for_bit():
    g = np.random.default_rng(2)
    for case in range(100):
        n = int(g.integers(2, 50))
        y_true = g.uniform(0.5, 10.0, n) * (1 if case % 2 else -1)
        if case % 7 == 0:
            y_true = np.full(n, 3.0)  # a constant target: R² is 1 if predicted exactly, else 0
        y_pred = y_true + g.normal(0.0, 1.0, n) * (case % 5 != 0)
        scores = regression_metrics(y_true, y_pred)
        assert scores == {
            "mse": skm.mean_squared_error(y_true, y_pred),
            "rmse": skm.root_mean_squared_error(y_true, y_pred),
            "mape": skm.mean_absolute_percentage_error(y_true, y_pred),
            "mae": skm.mean_absolute_error(y_true, y_pred),
            "r2": skm.r2_score(y_true, y_pred),
        }, case


def test_r2_of_one_row_is_no_value():
    assert regression_metrics(np.array([2.0]), np.array([1.0]))["r2"] is None
