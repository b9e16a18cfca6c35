"""Real tables as CSV files through nncli, against scikit-learn's own pipeline on the same rows.

    python benchmarks/tables_quality.py --seeds 3

Three real public data sets that ship inside scikit-learn (no download) are written out as
CSV files as a user would have them: breast_cancer with its diagnosis as text labels (an
imbalanced binary target, 212 malignant / 357 benign), wine with cultivar names, and diabetes
with its raw columns, `sex` (coded 1/2) named in `data.categorical`. None of the three has text
categories or missing values of its own.

nncli reads each file (`data.prepare_data`: CSV, one-hot encoding, split, scaling) and trains
(`training.train_stack`). scikit-learn then builds its own pipeline from the same file and the
same rows (`prepared.rows`, the split's line numbers): `OneHotEncoder` for the categorical
columns, `StandardScaler` for the others, fitted on the training rows, and `MLPClassifier` /
`MLPRegressor` with plain SGD and the same layers, learning rate, momentum, batch size and
epochs, no L2 penalty and no early stopping (its regression loss is half the MSE, so it gets
twice the learning rate; the target is standardized as nncli does). Both score the same test
rows. Each seed sets nncli's `seed` and `data.seed` and scikit-learn's `random_state`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn.datasets
import torch
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from nncli.config.loading import validate_config
from nncli.data.prepared import prepare_data
from nncli.train.stack import train_stack

# (name, target, data keys, hidden widths, lr, epochs)
SETUPS = [
    ("breast_cancer", "diagnosis", {}, [32], 0.05, 100),
    ("wine", "cultivar", {}, [32], 0.05, 200),
    ("diabetes", "progression", {"categorical": ["sex"]}, [16], 0.005, 100),
]


def export(name: str, target: str, folder: Path) -> Path:
    """The bundled set as a CSV file, with text labels where the set has label names."""
    bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True, **(
        {"scaled": False} if name == "diabetes" else {}))  # fmt: skip
    table = bunch.frame.rename(columns={"target": target})
    if name != "diabetes":
        table[target] = np.asarray(bunch.target_names)[bunch.target]
    else:
        table["sex"] = table["sex"].astype(int)
    path = folder / f"{name}.csv"
    table.to_csv(path, index=False)
    return path


def scores(task: str, y_true, y_pred, positive=None) -> dict[str, float]:
    if task == "classification":
        average = "binary" if positive is not None else "macro"
        f1 = skm.f1_score(y_true, y_pred, average=average, pos_label=positive)
        return {"accuracy": skm.accuracy_score(y_true, y_pred), "f1": f1}
    return {"r2": skm.r2_score(y_true, y_pred), "mse": skm.mean_squared_error(y_true, y_pred)}


def run(path: Path, target: str, keys: dict, widths: list[int], lr: float, epochs: int,
        seed: int) -> tuple[str, dict, dict]:  # fmt: skip
    config = validate_config({
        "seed": seed,
        "data": {"source": str(path), "target": target, "seed": seed, **keys},
        "model": {"depth": len(widths), "width": widths, "activation": "relu"},
        "training": {"lr": lr, "batch_size": 32, "epochs": epochs, "momentum": 0.9},
    })  # fmt: skip
    prepared = prepare_data(config.data)
    (fit,) = train_stack([config], prepared)
    task, classes = prepared.task, prepared.dataset.classes
    positive = classes[1] if task == "classification" and len(classes) == 2 else None
    # nncli's own metrics, recomputed here with the same scorer as scikit-learn's
    x_test, y_test = prepared.raw["test"]
    outputs = fit.card.predict_raw(fit.net, x_test)
    if task == "classification":
        labels = np.asarray(classes, dtype=object)
        ours = scores(task, labels[y_test], labels[outputs.argmax(axis=1)], positive)
    else:
        ours = scores(task, y_test, outputs)

    # scikit-learn's pipeline from the same file and rows
    table = pd.read_csv(path)
    table.index = pd.RangeIndex(2, len(table) + 2)  # line numbers, as split.json has them
    train, test = table.loc[prepared.rows["train"]], table.loc[prepared.rows["test"]]
    features = [c for c in table.columns if c != target]
    categorical = keys.get("categorical", [])
    encode = ColumnTransformer(
        [("one_hot", OneHotEncoder(), categorical),
         ("scale", StandardScaler(), [c for c in features if c not in categorical])]
    )  # fmt: skip
    x_train, x_test = encode.fit_transform(train[features]), encode.transform(test[features])
    common = {"hidden_layer_sizes": widths, "activation": "relu", "solver": "sgd",
              "learning_rate_init": lr * (2 if task == "regression" else 1), "momentum": 0.9,
              "nesterovs_momentum": False, "batch_size": 32, "max_iter": epochs, "alpha": 0.0,
              "tol": 1e-12, "n_iter_no_change": epochs, "random_state": seed}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if task == "classification":
            model = MLPClassifier(**common).fit(x_train, train[target])
            theirs = scores(task, test[target], model.predict(x_test), positive)
        else:
            mean, std = train[target].mean(), train[target].std(ddof=0)
            model = MLPRegressor(**common).fit(x_train, (train[target] - mean) / std)
            theirs = scores(task, test[target], model.predict(x_test) * std + mean)
    n = {s: len(r) for s, r in prepared.rows.items()}
    return task, {"nncli": ours, "sklearn": theirs}, n | {"inputs": prepared.n_features}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1, averaged")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"test split, mean ± population std over seeds 0..{args.seeds - 1}")
    print(f"{'data set':<14} {'rows tr/va/te':>14} {'in':>3} {'metric':<8} {'nncli':>16}"
          f" {'sklearn sgd':>16}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for name, target, keys, widths, lr, epochs in SETUPS:
            path = export(name, target, Path(folder))
            results = [run(path, target, keys, widths, lr, epochs, s) for s in range(args.seeds)]
            sizes = results[0][2]
            shape = f"{sizes['train']}/{sizes['val']}/{sizes['test']}"
            for i, metric in enumerate(results[0][1]["nncli"]):
                cells = []
                for who in ("nncli", "sklearn"):
                    values = [r[1][who][metric] for r in results]
                    mean, spread = statistics.fmean(values), statistics.pstdev(values)
                    digits = 1 if abs(mean) >= 100 else 4
                    cells.append(f"{mean:.{digits}f} ±{spread:.{digits}f}".rjust(16))
                lead = f"{name:<14} {shape:>14} {sizes['inputs']:>3}" if i == 0 else " " * 33
                print(f"{lead} {metric:<8} {' '.join(cells)}")


if __name__ == "__main__":
    main()
