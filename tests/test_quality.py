"""nncli trains as well as scikit-learn's MLP on the same rows, model and optimizer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor

from nncli.config.loading import validate_config
from nncli.data.prepared import prepare_data
from nncli.train.stack import train_stack

CASES = [
    # (data section, hidden widths, lr, epochs, what may be lost against scikit-learn)
    ({"source": "moons", "n_samples": 600}, [16, 16], 0.05, 60, 0.03),
    ({"source": "iris"}, [16], 0.05, 150, 0.05),
    ({"source": "breast_cancer"}, [16], 0.05, 40, 0.03),
    ({"source": "sine", "n_samples": 400}, [32, 32], 0.05, 150, 0.03),
]


@pytest.mark.parametrize(("data", "widths", "lr", "epochs", "slack"), CASES)
def test_test_score_is_at_least_scikit_learns_sgd(data, widths, lr, epochs, slack):
    config = validate_config(
        {
            "data": data,
            "model": {"depth": len(widths), "width": widths, "activation": "relu"},
            # Every epoch, as scikit-learn runs them (n_iter_no_change=epochs below).
            "training": {
                "lr": lr,
                "batch_size": 32,
                "epochs": epochs,
                "momentum": 0.9,
                "early_stopping": False,
            },
        }
    )
    prepared = prepare_data(config.data)
    (outcome,) = train_stack([config], prepared)
    x_train, y_train = prepared.raw["train"]
    x_test, y_test = prepared.raw["test"]
    scale = prepared.scaler.transform
    regression = prepared.task == "regression"
    common = {
        "hidden_layer_sizes": widths,
        "activation": "relu",
        "solver": "sgd",
        "learning_rate_init": 2 * lr if regression else lr,  # its squared loss is half the MSE
        "momentum": 0.9,
        "nesterovs_momentum": False,
        "batch_size": 32,
        "max_iter": epochs,
        "alpha": 0.0,
        "tol": 1e-12,
        "n_iter_no_change": epochs,
        "random_state": 0,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if regression:
            target = prepared.target_scaler
            reference = MLPRegressor(**common).fit(scale(x_train), target.transform(y_train))
            theirs = r2_score(y_test, target.inverse(reference.predict(scale(x_test))))
            ours = outcome.metrics["test"]["r2"]
        else:
            reference = MLPClassifier(**common).fit(scale(x_train), y_train)
            theirs = accuracy_score(y_test, reference.predict(scale(x_test)))
            ours = outcome.metrics["test"]["accuracy"]
    assert np.isfinite(ours)
    assert ours >= theirs - slack, (ours, theirs)
