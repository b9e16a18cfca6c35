"""Does nncli train as well as scikit-learn's MLP with the same data, model and optimizer?

    python benchmarks/sklearn_quality.py --seeds 3

For each dataset nncli trains through its library (`validate_config`, `data.prepare_data`,
`training.train_stack`), and scikit-learn's MLPClassifier / MLPRegressor train on exactly
the same training rows, scaled by nncli's fitted scaler (`prepared.raw`, `prepared.scaler`; for
regression also `prepared.target_scaler`, inverted before scoring, as nncli does). Both use the
same hidden layers, ReLU, plain mini-batch SGD with the same learning rate, momentum, batch size
and number of epochs, no L2 penalty (`alpha=0`, `weight_decay=0`), no early stopping, and keep the
final weights; scikit-learn is kept from stopping early with `tol` tiny and `n_iter_no_change`
equal to the epochs. Both score the same test split.

One deliberate difference: scikit-learn's regression loss is half the MSE, so its gradients are
half of nncli's; it gets twice the learning rate so that both take the same SGD steps.
Differences that remain are the two libraries' own: weight initialization (PyTorch's uniform
+-1/sqrt(fan_in) against Glorot uniform), a single logistic output unit for binary problems
against nncli's two-way softmax, and float32 against float64.

scikit-learn with its default Adam solver (defaults apart from the hidden layers and
`max_iter = epochs`) is a second reference. Each seed sets nncli's `seed`, `data.seed` (the split,
and the sample of a synthetic set) and scikit-learn's `random_state`; the table shows means.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor

from nncli.config.loading import validate_config
from nncli.data.prepared import PreparedData, prepare_data
from nncli.train.stack import train_stack

# nncli clearly worse than scikit-learn's SGD: by more than this much accuracy or R2.
FLAG_GAP = 0.02


@dataclass(frozen=True)
class Setup:
    dataset: str
    depth: int
    width: int
    lr: float
    epochs: int
    momentum: float = 0.9
    batch_size: int = 32


SETUPS = [
    Setup("moons", depth=2, width=32, lr=0.05, epochs=100),
    Setup("circles", depth=2, width=32, lr=0.05, epochs=100),
    Setup("iris", depth=1, width=16, lr=0.05, epochs=200),
    Setup("wine", depth=1, width=32, lr=0.05, epochs=200),
    Setup("breast_cancer", depth=1, width=32, lr=0.05, epochs=100),
    Setup("digits", depth=2, width=64, lr=0.05, epochs=100),
    # Small and noisy: long or fast SGD overfits it (lr 0.01 for 200 epochs: test R2 ~0.25).
    Setup("diabetes", depth=1, width=16, lr=0.005, epochs=100),
    Setup("sine", depth=2, width=32, lr=0.05, epochs=300),
]


def nncli_config(setup: Setup, seed: int) -> dict:
    return {
        "name": f"bench-{setup.dataset}",
        "seed": seed,
        "data": {"source": setup.dataset, "seed": seed},
        "model": {"depth": setup.depth, "width": setup.width, "activation": "relu"},
        "training": {
            "lr": setup.lr,
            "batch_size": setup.batch_size,
            "epochs": setup.epochs,
            "momentum": setup.momentum,
            "weight_decay": 0.0,
        },
    }


def scores(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    if task == "classification":
        return {"accuracy": accuracy_score(y_true, y_pred)}
    return {"r2": r2_score(y_true, y_pred), "mse": mean_squared_error(y_true, y_pred)}


def run_nncli(raw_config: dict) -> tuple[PreparedData, dict[str, float], float]:
    config = validate_config(raw_config)
    prepared = prepare_data(config.data)
    start = time.perf_counter()
    (outcome,) = train_stack([config], prepared)
    elapsed = time.perf_counter() - start
    if outcome.record.diverged is not None:
        nan = {"accuracy": np.nan} if prepared.task == "classification" else {"r2": np.nan}
        return prepared, nan | {"mse": np.nan}, elapsed
    test = outcome.metrics["test"]
    keys = ["accuracy"] if prepared.task == "classification" else ["r2", "mse"]
    return prepared, {key: float(test[key]) for key in keys}, elapsed


def run_sklearn(
    prepared: PreparedData, setup: Setup, seed: int, solver: str
) -> tuple[dict[str, float], float]:
    """Fit on nncli's scaled training split; score on its test split in original units."""
    x_train = prepared.scaler.transform(prepared.raw["train"][0])
    x_test = prepared.scaler.transform(prepared.raw["test"][0])
    y_train, y_test = prepared.raw["train"][1], prepared.raw["test"][1]
    regression = prepared.task == "regression"
    target = prepared.target_scaler
    common = {"hidden_layer_sizes": (setup.width,) * setup.depth, "activation": "relu",
              "random_state": seed, "max_iter": setup.epochs}  # fmt: skip
    if solver == "sgd":
        common |= {
            "solver": "sgd",
            "learning_rate": "constant",
            # Half-MSE loss for regression: twice the rate takes nncli's steps.
            "learning_rate_init": setup.lr * (2 if regression else 1),
            "momentum": setup.momentum,
            "nesterovs_momentum": False,
            "batch_size": setup.batch_size,
            "alpha": 0.0,
            "early_stopping": False,
            "tol": 1e-12,
            "n_iter_no_change": setup.epochs,
            "shuffle": True,
        }
    model = (MLPRegressor if regression else MLPClassifier)(**common)
    if regression and target is not None:
        y_train = target.transform(y_train)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    elapsed = time.perf_counter() - start
    y_pred = model.predict(x_test)
    if regression and target is not None:
        y_pred = target.inverse(y_pred)
    return scores(prepared.task, y_test, y_pred), elapsed


def bench(setup: Setup, seeds: list[int]) -> dict:
    results: dict[str, list[dict[str, float]]] = {"nncli": [], "sk-sgd": [], "sk-adam": []}
    seconds = dict.fromkeys(results, 0.0)
    for seed in seeds:
        prepared, nn_scores, elapsed = run_nncli(nncli_config(setup, seed))
        results["nncli"].append(nn_scores)
        seconds["nncli"] += elapsed
        for name, solver in (("sk-sgd", "sgd"), ("sk-adam", "adam")):
            sk_scores, elapsed = run_sklearn(prepared, setup, seed, solver)
            results[name].append(sk_scores)
            seconds[name] += elapsed
    metrics = list(results["nncli"][0])
    means = {
        name: {m: statistics.fmean(r[m] for r in runs) for m in metrics}
        for name, runs in results.items()
    }
    spread = {
        name: {m: statistics.pstdev(r[m] for r in runs) for m in metrics}
        for name, runs in results.items()
    }
    # Paired by seed (same split, same batch size): nncli - sklearn-sgd, and its standard error.
    diffs = {m: [a[m] - b[m] for a, b in zip(results["nncli"], results["sk-sgd"], strict=True)]
             for m in metrics}  # fmt: skip
    gap = {m: (statistics.fmean(d), statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else 0.0)
           for m, d in diffs.items()}  # fmt: skip
    return {"setup": setup, "task": prepared.task, "means": means, "spread": spread, "gap": gap,
            "seconds": seconds, "n_train": len(prepared.raw["train"][1])}  # fmt: skip


def number(value: float, *, sign: bool = False) -> str:
    """Four decimals for scores, one for large errors such as diabetes' MSE."""
    digits = 1 if abs(value) >= 100 else 4
    return f"{round(value, digits) + 0.0:{'+' if sign else ''}.{digits}f}"  # + 0.0: no "-0.0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1, averaged")
    parser.add_argument("--datasets", nargs="*", default=None, help="a subset of the datasets")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    setups = [s for s in SETUPS if args.datasets is None or s.dataset in args.datasets]
    seeds = list(range(args.seeds))

    print(
        f"test-split scores, mean ± population std over seeds 0..{args.seeds - 1}; the gap to"
        " sklearn-sgd is paired by seed, ± its standard error"
    )
    header = (
        f"{'dataset':<14} {'train':>5} {'model':<7} {'lr':>5} {'ep':>4} {'metric':<9}"
        f" {'nncli':>17} {'sklearn-sgd':>17} {'sklearn-adam':>17} {'nncli - sk-sgd':>17}"
        f" {'time nn/sgd s':>13}"
    )
    print(header)
    print("-" * len(header))
    flagged = []
    for setup in setups:
        r = bench(setup, seeds)
        model = f"{setup.depth}x{setup.width}"
        for i, metric in enumerate(r["means"]["nncli"]):
            cells = [
                f"{number(r['means'][n][metric])} ±{number(r['spread'][n][metric])}".rjust(17)
                for n in ("nncli", "sk-sgd", "sk-adam")
            ]
            gap, stderr = r["gap"][metric]
            lead = (
                f"{setup.dataset:<14} {r['n_train']:>5} {model:<7} {setup.lr:>5g} {setup.epochs:>4}"
                if i == 0
                else " " * 39
            )
            times = f"{r['seconds']['nncli']:.1f}/{r['seconds']['sk-sgd']:.1f}" if i == 0 else ""
            paired = f"{number(gap, sign=True)} ±{number(stderr)}".rjust(17)
            print(f"{lead} {metric:<9} {' '.join(cells)} {paired} {times:>13}")
            if metric in ("accuracy", "r2") and not gap >= -FLAG_GAP:
                flagged.append(
                    f"{setup.dataset}: nncli {metric} {gap:+.4f} (paired stderr {stderr:.4f})"
                    " vs sklearn-sgd"
                )
    print()
    if flagged:
        print(f"nncli clearly worse than sklearn-sgd (by more than {FLAG_GAP}):")
        print("\n".join(f"  {line}" for line in flagged))
    else:
        print(f"nncli is within {FLAG_GAP} of sklearn-sgd (accuracy / R2) on every dataset")


if __name__ == "__main__":
    main()
