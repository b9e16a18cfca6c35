"""Trains the cases of `tests/test_distributed.py` with `engine.fit`: alone, or data-parallel on
every rank of a torchrun launch. Rank 0 (or the lone process) saves each case's parameters and
histories to the file named by the first argument."""

from __future__ import annotations

import sys

import torch

from nncli.model.mlp import StackedMLP
from nncli.train.engine import fit
from nncli.train.parallel import DataParallel, process_group
from nncli.train.sgd import SGDSettings
from nncli.train.state import FitOptions, FitSettings, ModelSettings

# name -> (models, task, class weights, SGD settings per model, engine)
CASES = {
    "one model, momentum": (1, "classification", None, [SGDSettings(0.1, momentum=0.9)], "auto"),
    "three models, own lr": (
        3,
        "classification",
        None,
        [SGDSettings(0.05), SGDSettings(0.1), SGDSettings(0.2)],
        "auto",
    ),
    "class weights": (1, "classification", [1.0, 3.0], [SGDSettings(0.1)], "auto"),
    "regression, decay": (1, "regression", None, [SGDSettings(0.05, weight_decay=0.01)], "auto"),
    "autograd, weights": (2, "classification", [1.0, 3.0], [SGDSettings(0.1)] * 2, "autograd"),
}
ROWS, BATCH, EPOCHS = 203, 32, 6  # 203 rows: the last batch is short, and splits unevenly


def data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(ROWS, 5, generator=generator)
    return x, (x[:, 0] + x[:, 1] > 0).long(), 2 * x[:, 0] - x[:, 2]


def train(name: str, group: DataParallel | None) -> dict:
    k, task, weights, sgd, engine = CASES[name]
    x, classes, values = data()
    y = classes if task == "classification" else values
    outputs = 2 if task == "classification" else 1
    model = StackedMLP.from_seeds([5, 16, 16, outputs], ["tanh"] * k, list(range(k)))
    options = FitOptions(
        task=task,
        settings=FitSettings(BATCH, EPOCHS),
        models=[ModelSettings(seed=i, sgd=s) for i, s in enumerate(sgd)],
        class_weight=None if weights is None else torch.tensor(weights),
        engine=engine,
        probe_gradients=True,
    )
    records = fit(model, (x, y), (x[:50], y[:50]), options, group=group)
    return {
        "params": [p.detach().clone() for p in model.parameters()],
        "histories": [r.history for r in records],
        "grad_norms": [r.grad_norms for r in records],
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    with process_group() as ranks:
        group = DataParallel(ranks) if ranks.distributed else None
        results = {name: train(name, group) for name in CASES}
        if ranks.leader:
            torch.save(results, sys.argv[1])
