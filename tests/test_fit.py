"""Tables that fit an 80-column terminal: every number whole, on one line."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from nncli.report.fit import Fitted, compact_mean_std
from nncli.report.runs_table import runs_table
from nncli.report.tables import comparison_table, metrics_table, sweep_table


def stats(mean: float | None, std: float | None = None) -> dict:
    return {"mean": mean, "std": std}


def rendered(renderable: object, width: int = 80) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width).print(renderable)
    return buffer.getvalue()


def cells_whole(text: str, cells: list[str]) -> None:
    """No cell cut (`0.62…`) or wrapped: each shows whole, on one line, between rules."""
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    for cell in cells:
        whole = re.compile(rf"(^|[\s│┃]){re.escape(cell)}($|[\s│┃])")
        assert any(whole.search(line) for line in text.splitlines()), (cell, text)


def grid_records(task: str, seeds: int = 2) -> list[dict]:
    """A 2 x 2 sweep over lr and widths, two seeds, with big regression targets."""
    big = task == "regression"
    metric = {"regression": ["mse", "rmse"], "classification": ["accuracy", "f1"]}[task]
    records = []
    for i, (lr, widths) in enumerate([(0.01, [16]), (0.01, [64, 64]), (0.1, [16]), (0.1, [64])]):
        scale = 331194.5143 if big else 0.62345678
        split = {"loss": stats(0.0130 + i / 1000, 0.0012)} | {
            m: stats(scale * (1 + i / 10), scale / 16.24) for m in metric
        }
        records.append(
            {
                "values": {"training.lr": lr, "model.widths": widths},
                "activation": "tanh",
                "seeds": list(range(seeds)),
                "metrics": {"train": split, "val": split, "test": split},
                "best_epoch": stats(41.5, 12.5),
                "learned": seeds,
                "diverged": 1 if i == 3 else 0,
                "diverged_at": [{"seed": 1, "epoch": 12, "step": 340}] if i == 3 else [],
                "grad_ratio": stats(0.000123, 0.00002),
                "dead_fraction": stats(0.25, 0.05),
                "saturated_fraction": stats(0.125, 0.05),
                "frozen_layers": [0, 1] if i == 2 else [],
            }
        )
    return records


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_sweep_and_comparison_tables_show_every_number_whole_at_80_columns(task):
    records = grid_records(task)
    positive = "Yes" if task == "classification" else None
    varied = ["training.lr", "model.widths"]
    for build in (
        lambda w: sweep_table(records, task, varied, positive=positive, width=w),
        lambda w: comparison_table(records, task, positive=positive, width=w),
    ):
        text = rendered(Fitted(build))
        shown = build(80)
        headers = [c.header for c in shown.columns]
        assert f"test {'mse' if task == 'regression' else 'accuracy'}" in headers
        assert "val loss" in headers and "learned" in headers
        cells = [cell for column in shown.columns for cell in column._cells]
        cells_whole(text, cells)
        # Wider terminals show more, up to every column.
        assert len(build(200).columns) >= len(shown.columns)
        assert len(build(None).columns) >= len(build(200).columns)
        if build(80).columns[0].header == "activation":  # a narrow table still says why
            assert "2/2 (zero gradient)" in text
    if task == "regression":
        sweep = Fitted(lambda w: sweep_table(records, task, varied, width=w))
        assert "3.31e5 ± 2.0e4" in rendered(sweep)


def test_metrics_table_fits_80_columns_with_the_positive_class_named():
    scores = {"accuracy": 0.9255, "f1": 0.0, "precision": 0.0, "recall": 0.0,
              "specificity": 1.0, "balanced_accuracy": 0.5, "log_loss": 0.2345,
              "roc_auc": None, "average_precision": 0.0612}  # fmt: skip
    text = rendered(metrics_table({"train": scores, "val": scores, "test": scores},
                                  "classification", positive="Yes"))  # fmt: skip
    cells_whole(text, ["average_precision (Yes)", "0.9255", "undefined", "0.0612"])
    regression = {"mse": 344000.0, "rmse": 586.5, "mape": 0.031, "mae": 303100.0, "r2": 0.31}
    text = rendered(metrics_table({"train": regression, "test": regression}, "regression"))
    cells_whole(text, ["3.440e+05", "3.031e+05", "586.5000"])  # one form within a column


def test_runs_table_fits_80_columns():
    records = [
        {"run": f"train-20261202-0854{i:02d}-moons", "status": "finished", "source": "moons",
         "epochs_run": 100, "headline": "accuracy", "split": "test",
         "metrics": {"accuracy": 0.97654321}, "kind": "train", "activation": None,
         "settings": {}}
        for i in range(3)
    ]  # fmt: skip
    from unittest import mock

    with mock.patch("nncli.runs.listing.shown_settings", return_value=[""] * 3):
        text = rendered(runs_table(records, "runs", None, width=80))
    cells_whole(text, ["0.9765", "train-20261202-085400-moons", "finished"])


@pytest.mark.parametrize(
    ("mean", "std", "text"),
    [
        (0.97654, 0.00498, "0.977 ± 0.005"),
        (331194.5143, 20394.8265, "3.31e5 ± 2.0e4"),
        (0.5, 0.1, "0.500 ± 0.100"),
        (0.62345, 0.00012, "0.623 ± 0.0001"),  # a spread below the mean's last digit
        (0.329, 0.00009, "0.329 ± 9e-5"),
        (12.345, 0.0, "12.3 ± 0.0"),
        (-0.0123, 0.004, "-0.0123 ± 0.0040"),
        (0.00004, 0.00001, "4.00e-5 ± 1.0e-5"),
    ],
)
def test_compact_mean_std_keeps_three_significant_digits(mean, std, text):
    assert compact_mean_std(mean, std) == text
