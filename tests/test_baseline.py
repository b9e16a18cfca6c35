"""The input-blind baseline beside every score: what always answering the training split's
majority class (or its mean) scores, checked against scikit-learn's dummy models; `learned`
and the warning measured against it; the class shares in the setup line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.config.loading import validate_config
from nncli.data.prepared import prepare_data
from nncli.train.baseline import baseline_metrics
from nncli.train.stack import train_stack

runner = CliRunner()


@pytest.fixture
def rare_noise_csv(tmp_path):
    """Features that say nothing about a 6%-positive target: no model beats the majority."""
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (500, 3))
    y = np.where(rng.random(500) < 0.06, "Yes", "No")
    lines = ["a,b,c,bought"] + [
        f"{a:.5f},{b:.5f},{c:.5f},{t}" for (a, b, c), t in zip(x, y, strict=True)
    ]
    path = tmp_path / "rare.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def csv_config(path, **training) -> dict:
    return {
        "data": {"source": str(path), "target": "bought"},
        "model": {"depth": 1, "width": 4},
        "training": {"epochs": 3, "lr": 0.05, "early_stopping": None, **training},
        "output": {"dir": str(path.parent / "runs")},
    }


def test_the_classification_baseline_is_scikit_learns_most_frequent_dummy(rare_noise_csv):
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    prepared = prepare_data(validate_config(csv_config(rare_noise_csv)).data)
    (x_train, y_train), (x_test, y_test) = prepared.raw["train"], prepared.raw["test"]
    dummy = DummyClassifier(strategy="prior").fit(x_train, y_train)
    found = baseline_metrics(prepared)["test"]
    predicted = dummy.predict(x_test)
    assert found["accuracy"] == pytest.approx(accuracy_score(y_test, predicted))
    assert found["f1"] == pytest.approx(f1_score(y_test, predicted, zero_division=0))
    assert found["log_loss"] == pytest.approx(
        log_loss(y_test, dummy.predict_proba(x_test), labels=[0, 1])
    )
    assert found["roc_auc"] == pytest.approx(
        roc_auc_score(y_test, dummy.predict_proba(x_test)[:, 1])
    )


def test_the_regression_baseline_is_scikit_learns_mean_dummy():
    from sklearn.dummy import DummyRegressor
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    prepared = prepare_data(validate_config({"data": {"source": "diabetes"}}).data)
    (x_train, y_train), (x_val, y_val) = prepared.raw["train"], prepared.raw["val"]
    predicted = DummyRegressor().fit(x_train, y_train).predict(x_val)
    found = baseline_metrics(prepared)["val"]
    assert found["mse"] == pytest.approx(mean_squared_error(y_val, predicted))
    assert found["mae"] == pytest.approx(mean_absolute_error(y_val, predicted))
    assert found["r2"] == pytest.approx(r2_score(y_val, predicted))
    assert baseline_metrics(prepared)["train"]["r2"] == pytest.approx(0.0, abs=1e-12)


def test_learned_means_beating_the_baseline_on_validation_not_a_falling_loss(rare_noise_csv):
    config = validate_config(csv_config(rare_noise_csv, epochs=10))
    (model,) = train_stack([config], prepare_data(config.data))
    assert model.record.history[-1]["train_loss"] < model.record.history[0]["train_loss"]
    value, baseline = model.metrics["val"]["accuracy"], model.baseline["val"]["accuracy"]
    assert value <= baseline and not model.learned


def test_train_warns_naming_both_numbers_and_shows_the_baseline_and_class_shares(
    rare_noise_csv, write_config
):
    path = write_config(csv_config(rare_noise_csv))
    result = runner.invoke(app, ["train", str(path), "--out", str(rare_noise_csv.parent / "r")])
    assert result.exit_code == 0, result.output
    assert "2 classes (94% No, 6% Yes in training)" in result.output
    assert "class Yes is 6% of the training split" in result.output
    assert "training.headline_metric: f1 or balanced_accuracy" in result.output
    assert "predicts one class only (No) on the val split (val accuracy" in result.output
    assert "test baseline" in result.output  # the metrics table's baseline column
    metrics = json.loads((rare_noise_csv.parent / "r" / "metrics.json").read_text())
    assert set(metrics["baseline"]) == {"train", "val", "test"}
    assert metrics["headline"] == "accuracy"


def test_the_headline_metric_of_the_other_task_is_refused_before_training(
    rare_noise_csv, write_config
):
    path = write_config(csv_config(rare_noise_csv, headline_metric="r2"))
    result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 2
    assert "training.headline_metric: 'r2' is a regression metric" in result.output
    assert not (rare_noise_csv.parent / "runs").exists()


def test_a_sweep_chooses_on_the_headline_metric_and_names_the_baseline(
    rare_noise_csv, write_config
):
    path = write_config(csv_config(rare_noise_csv, headline_metric="f1", class_weight="balanced"))
    out = rare_noise_csv.parent / "sweep"
    result = runner.invoke(
        app, ["sweep", str(path), "--vary", "training.lr=0.01,0.1", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["headline"] == "f1" and summary["best"]["split"] == "val"
    assert summary["best"]["metric"] == "f1"
    for record in summary["results"]:
        assert record["baseline"]["val"]["f1"] == 0.0  # the majority class is not the positive
        assert "chosen" in record


def test_early_stopping_is_on_by_default_says_so_and_keeps_the_best_epoch(
    make_config, write_config, tmp_path
):
    config = make_config(training={"epochs": 40, "lr": 0.5})
    del config["training"]["early_stopping"]  # the default
    path = write_config(config)
    result = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "on")])
    assert result.exit_code == 0, result.output
    assert "40 epochs, early stopping on val loss (patience 20)" in result.output
    summary = json.loads((tmp_path / "on" / "metrics.json").read_text())
    assert summary["kept_epoch"] == summary["best_epoch"]
    no_val = {
        **config,
        "data": {**config["data"], "split": {"train": 0.8, "val": 0.0, "test": 0.2}},
    }
    path = write_config(no_val, "noval.yaml")
    result = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "off")])
    assert result.exit_code == 0, result.output
    assert "early stopping" not in result.output
    assert json.loads((tmp_path / "off" / "metrics.json").read_text())["kept_epoch"] == 40
