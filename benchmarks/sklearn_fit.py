"""scikit-learn's side of `processes.py`, as a whole process: read a CSV table, scale it, and fit
MLPClassifiers with plain SGD one after another, as a script would.

    python benchmarks/sklearn_fit.py TABLE.csv --epochs 22 --train-rows 8400 \\
        --hidden 64,64 --models 0.05:0:0 [0.01:0.0001:1 ...]

Each model is `lr:weight_decay:seed`; weight decay becomes `alpha = weight_decay x batch`
(scikit-learn adds `alpha x W / batch` to each step's gradient, SGD's weight decay `wd x W`).
It trains on the table's first `--train-rows` rows (nncli's training split has as many), with
momentum 0, no early stopping, and its own shuffling; it fails if a model stopped early.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--train-rows", type=int, required=True)
    parser.add_argument("--hidden", default="64,64")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--models", nargs="+", required=True, help="lr:weight_decay:seed")
    args = parser.parse_args()
    table = pd.read_csv(args.table).to_numpy(dtype=np.float32)
    x, y = table[: args.train_rows, :-1], table[: args.train_rows, -1].astype(np.int64)
    x = StandardScaler().fit_transform(x)
    hidden = tuple(int(w) for w in args.hidden.split(","))
    for spec in args.models:
        lr, decay, seed = spec.split(":")
        model = MLPClassifier(
            hidden_layer_sizes=hidden,
            activation="relu",
            solver="sgd",
            learning_rate="constant",
            learning_rate_init=float(lr),
            momentum=0.0,
            nesterovs_momentum=False,
            batch_size=args.batch,
            alpha=float(decay) * args.batch,
            max_iter=args.epochs,
            shuffle=True,
            tol=0.0,
            n_iter_no_change=args.epochs,
            early_stopping=False,
            random_state=int(seed),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y)
        if model.n_iter_ != args.epochs:
            raise SystemExit(f"scikit-learn ran {model.n_iter_} of {args.epochs} epochs")


if __name__ == "__main__":
    main()
