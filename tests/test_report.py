"""Terminal tables, read back as the text a user sees."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table

from nncli.report import tables
from nncli.report.describe import describe_grid, describe_times
from nncli.report.tables import _ranges, comparison_table, format_value, metrics_table


def rows(table: Table) -> list[list[str]]:
    """The table's body as printed, one list of cell texts per row."""
    buffer = io.StringIO()
    Console(file=buffer, width=300).print(table)
    lines = [line for line in buffer.getvalue().splitlines() if line.startswith("│")]  # not ┃
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines]


@pytest.mark.parametrize(
    ("numbers", "text"),
    [
        ([], ""),
        ([4], "4"),
        ([1, 2], "1-2"),
        ([1, 2, 3, 5], "1-3, 5"),
        ([1, 3, 5], "1, 3, 5"),
        ([2, 3, 4, 7, 8, 10], "2-4, 7-8, 10"),
    ],
)
def test_ranges_joins_consecutive_numbers(numbers, text):
    assert _ranges(numbers) == text


@pytest.mark.parametrize(
    ("value", "metric", "text"),
    [
        (0.5, "mse", "0.5000"),
        (-0.123456, "r2", "-0.1235"),
        (9999.0, "mse", "9999.0000"),
        (12345.6, "mse", "1.235e+04"),
        (None, "mape", "undefined"),  # MAPE has no meaning for some targets
        (None, "mse", "-"),  # other metrics are missing only when nothing was measured
        (None, "", "-"),
        (None, "loss", "-"),
    ],
)
def test_format_value(value, metric, text):
    assert format_value(value, metric) == text


def test_metrics_table_lists_each_task_in_its_order_with_units():
    regression = {"mse": 1.0, "rmse": 1.0, "mape": None, "mae": 0.5, "r2": 0.25, "extra": 9.0}
    table = metrics_table({"train": regression, "test": regression}, "regression")
    assert rows(table) == [
        ["mse", "1.0000", "1.0000"],
        ["rmse", "1.0000", "1.0000"],
        ["mape (fraction)", "undefined", "undefined"],
        ["mae", "0.5000", "0.5000"],
        ["r2", "0.2500", "0.2500"],
    ]
    classification = {"recall": 0.4, "precision": 0.3, "f1": 0.2, "accuracy": 0.1}
    classification |= {"roc_auc": None, "log_loss": 0.5, "specificity": 0.6}
    classification |= {"balanced_accuracy": 0.7, "average_precision": 0.8}
    assert rows(metrics_table({"val": classification}, "classification")) == [
        ["accuracy", "0.1000"],
        ["f1", "0.2000"],
        ["precision", "0.3000"],
        ["recall", "0.4000"],
        ["specificity", "0.6000"],
        ["balanced_accuracy", "0.7000"],
        ["log_loss", "0.5000"],
        ["roc_auc", "undefined"],
        ["average_precision", "0.8000"],
    ]
    # A binary task names the class its positive-class metrics score.
    named = metrics_table({"val": classification}, "classification", positive="Yes")
    assert [row[0] for row in rows(named)] == [
        "accuracy", "f1 (Yes)", "precision (Yes)", "recall (Yes)", "specificity (Yes)",
        "balanced_accuracy", "log_loss", "roc_auc (Yes)", "average_precision (Yes)",
    ]  # fmt: skip


def stats(mean: float | None, std: float | None = 0.0) -> dict:
    return {"mean": mean, "std": std}


def record(activation: str, *, seeds: int, learned: int, diverged: int, frozen: list[int]) -> dict:
    """One activation's summary, shaped as compare.summarize writes it."""
    split = {"loss": stats(0.5, 0.1), "accuracy": stats(0.9, 0.05), "f1": stats(0.8, 0.01)}
    return {
        "activation": activation,
        "seeds": list(range(seeds)),
        "metrics": {"train": split, "test": split},
        "grad_norms": [0.1, 0.2, 0.3],
        "grad_ratio": stats(0.000123),
        "best_epoch": stats(4.0, 1.0),
        "epochs_run": stats(6.0),
        "dead_fraction": stats(None, None),
        "saturated_fraction": stats(0.25, 0.05),
        "learned": learned,
        "diverged": diverged,
        "frozen_layers": frozen,
    }


def test_comparison_table_learned_column_and_values():
    results = [
        record("tanh", seeds=3, learned=3, diverged=0, frozen=[]),
        record("step", seeds=3, learned=0, diverged=0, frozen=[0, 1, 2, 4]),
        record("relu", seeds=3, learned=1, diverged=2, frozen=[]),
    ]
    table = comparison_table(results, "classification")
    header = [column.header for column in table.columns]
    assert header == [
        "activation", "train loss", "test loss", "test accuracy", "test f1", "best epoch",
        "grad first/out", "dead", "saturated", "learned",
    ]  # fmt: skip
    tanh, step, relu = rows(table)
    assert tanh == [
        "tanh", "0.500 ± 0.100", "0.500 ± 0.100", "0.900 ± 0.050", "0.800 ± 0.010",
        "4.0 ± 1.0", "1.23e-04", "-", "0.25 ± 0.05", "3/3",
    ]  # fmt: skip
    # Layer indices are 0-based in the record and 1-based for the reader.
    assert step[-1] == "0/3 (layers 1-3, 5: zero gradient)"
    assert relu[-1] == "1/3, 2 diverged"


def test_comparison_table_of_one_seed_shows_plain_values_and_regression_metrics():
    result = record("tanh", seeds=1, learned=1, diverged=0, frozen=[])
    result["metrics"] = {"test": {"loss": stats(0.5), "mse": stats(0.25), "rmse": stats(0.5),
                                  "mape": stats(None)}}  # fmt: skip
    table = comparison_table([result], "regression")
    assert [column.header for column in table.columns][1:4] == [
        "test loss",
        "test mse",
        "test rmse",
    ]
    assert rows(table)[0][:5] == ["tanh", "0.5000", "0.2500", "0.5000", "4.0"]  # as train's
    assert table.title == "Activations compared (one seed)"  # no `± 0.0000` anywhere
    # A metric with no meaning for the data says so, as train's table does.
    assert tables._mean_std(stats(None), single=True, metric="mape") == "undefined"
    assert rows(table)[0][-1] == "1/1"


def grid_text(
    write_config, model: dict, vary: list[str], n_seeds: int = 2, n_train: int | None = None
) -> str:
    from nncli.grid.spec import build_grid

    path = write_config({"data": {"source": "xor"}, "model": model})
    return describe_grid(build_grid(path, [], vary, n_seeds), n_train=n_train)


def test_the_grid_line_says_what_varies_and_how_it_trains(write_config):
    text = grid_text(write_config, {"depth": 1}, ["training.lr=0.1,0.01", "model.width=4,8"])
    assert "varied: training.lr = 0.1, 0.01" in text and "varied: model.width = 4, 8" in text
    assert "4 variants x 2 seeds (0, 1) = 8 models, trained in 2 stacks one after another" in text
    assert "note:" not in text


def test_the_grid_line_warns_that_a_perceptron_ignores_its_activation(write_config):
    text = grid_text(write_config, {"depth": 0}, ["model.activation=relu,tanh"], 1)
    assert "model.depth is 0: with no hidden layer the activation is never used" in text


def test_a_varied_batch_size_says_its_steps_per_epoch(write_config):
    text = grid_text(write_config, {"depth": 1}, ["training.batch_size=1,32,500"], 1, n_train=280)
    # 280 rows: one step per row, ceil(280 / 32) = 9, and 500 clamped to the 280 there are.
    assert "varied: training.batch_size = 1, 32, 500 (280, 9, 1 steps per epoch" in text


def test_training_times_name_each_stack_when_there_are_several():
    one = [{"values": {}, "models": 6, "seconds": 4.04}]
    assert describe_times(one) == "training took 4.0 s (6 models in one pass)"
    several = [
        {"values": {"training.batch_size": 1}, "models": 3, "seconds": 31.25},
        {"values": {"training.batch_size": 32}, "models": 3, "seconds": None},
        {"values": {}, "models": 3, "seconds": 0.043},
    ]
    assert describe_times(several) == (
        "training took, stack by stack: batch_size=1: 31.2 s; batch_size=32: time not known"
        " (resumed); stack 3: 0.04 s"
    )


def test_a_binary_task_names_its_positive_class_in_tables_json_and_the_report(
    make_config, write_config, tmp_path
):
    import json

    from typer.testing import CliRunner

    from nncli.cli import app

    config = write_config(make_config(data={"positive_class": 0}))
    runner = CliRunner()
    out = tmp_path / "run"
    shown = runner.invoke(app, ["train", str(config), "--out", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "f1 (0)" in shown.stdout and "specificity (0)" in shown.stdout
    assert "accuracy (0)" not in shown.stdout  # accuracy scores no one class
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["positive_class"] == 0
    assert "f1 (0)" in (out / "report.html").read_text()
    as_json = runner.invoke(app, ["train", str(config), "--json", "--out", str(tmp_path / "j")])
    assert json.loads(as_json.stdout)["positive_class"] == 0
    evaluated = runner.invoke(app, ["evaluate", str(out)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "recall (0)" in evaluated.stdout
    evaluated = runner.invoke(app, ["evaluate", str(out), "--json"])
    assert json.loads(evaluated.stdout)["positive_class"] == 0
    sweep = runner.invoke(app, ["sweep", str(config), "--vary", "training.lr=0.1,0.2", "--json",
                                "--out", str(tmp_path / "s")])  # fmt: skip
    assert sweep.exit_code == 0, sweep.output
    assert json.loads(sweep.stdout)["positive_class"] == 0
    # Unset, the second class is positive; a regression names none.
    unset = runner.invoke(app, ["train", str(write_config(make_config(), "u.yaml")), "--json",
                                "--out", str(tmp_path / "u")])  # fmt: skip
    assert json.loads(unset.stdout)["positive_class"] == 1
    sine = write_config(make_config(data={"source": "sine"}), "sine.yaml")
    regression = runner.invoke(app, ["train", str(sine), "--json", "--out", str(tmp_path / "r")])
    assert regression.exit_code == 0, regression.output
    assert "positive_class" not in json.loads(regression.stdout)


def test_a_loss_that_is_not_the_metric_a_user_computes_says_what_it_is(
    make_config, write_config, tmp_path
):
    import json

    from typer.testing import CliRunner

    from nncli.cli import app

    runner = CliRunner()
    weighted = write_config(make_config(training={"class_weight": "balanced"}), "w.yaml")
    shown = runner.invoke(app, ["train", str(weighted), "--out", str(tmp_path / "w")])
    assert shown.exit_code == 0, shown.output
    assert "note: train_loss and val_loss are class-weighted cross-entropy" in shown.output
    assert "lowest val_loss (weighted) was at epoch" in shown.output
    # The epoch lines and the tables differ, and the outcome line says why.
    assert "the tables measure epoch 5's weights once" in shown.output
    assert json.loads((tmp_path / "w" / "metrics.json").read_text())["loss_kind"] == "weighted"
    sweep = runner.invoke(app, ["sweep", str(weighted), "--vary", "training.lr=0.1,0.2",
                                "--out", str(tmp_path / "s")])  # fmt: skip
    assert sweep.exit_code == 0, sweep.output
    assert "val loss (weighted)" in sweep.stdout
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["loss_kind"] == "weighted"
    sine = write_config(make_config(data={"source": "sine"}), "sine.yaml")
    shown = runner.invoke(app, ["train", str(sine), "--out", str(tmp_path / "r")])
    assert "note: train_loss and val_loss are the MSE of the standardized target" in shown.output
    plain = runner.invoke(app, ["train", str(write_config(make_config(), "p.yaml")), "--json",
                                "--out", str(tmp_path / "p")])  # fmt: skip
    assert "loss_kind" not in json.loads(plain.stdout)  # cross-entropy is log_loss itself
    assert "train_loss and val_loss are" not in plain.output


def ordinal_csv(path) -> None:
    """Sizes VF < F < M < L from one number: sorted as text they read F, L, M, VF."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, 200)
    sizes = np.array(["VF", "F", "M", "L"])[np.minimum(x.astype(int), 3)]
    lines = ["x,noise,size", *(f"{a:.3f},{b:.3f},{s}" for a, b, s in
                               zip(x, rng.normal(size=200), sizes, strict=True))]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def test_class_order_lists_ordinal_classes_in_their_order(tmp_path):
    import json
    import re

    from typer.testing import CliRunner

    from nncli.cli import app

    ordinal_csv(tmp_path / "sizes.csv")
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{source: {tmp_path / 'sizes.csv'}, target: size,"
                      " class_order: [VF, F, M, L]}\ntraining: {epochs: 3}\n")  # fmt: skip
    runner = CliRunner()
    out = tmp_path / "run"
    shown = runner.invoke(app, ["train", str(config), "--out", str(out)])
    assert shown.exit_code == 0, shown.output
    header = next(line for line in shown.stdout.splitlines() if "true \\ predicted" in line)
    assert re.findall(r"\b(VF|F|M|L)\b", header) == ["VF", "F", "M", "L"]
    rows = [line.split("│")[1].strip() for line in shown.stdout.splitlines()
            if line.startswith("│")]  # fmt: skip
    assert rows[-8:] == ["VF", "F", "M", "L"] * 2  # per class, then confusion rows
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["classes"] == ["F", "L", "M", "VF"]  # the model's own order is kept
    assert summary["class_order"] == ["VF", "F", "M", "L"]
    html = (out / "report.html").read_text()
    assert html.index("<td>VF</td>") < html.index("<td>F</td>") < html.index("<td>L</td>")
    evaluated = runner.invoke(app, ["evaluate", str(out)])
    confusion = evaluated.stdout[evaluated.stdout.index("true \\ predicted") :]
    assert [line.split("│")[1].strip() for line in confusion.splitlines()
            if line.startswith("│")] == ["VF", "F", "M", "L"]  # fmt: skip
    for order, message in (
        ("[VF, F, M]", "data.class_order: leaves out 'L'; the classes are 'F', 'L', 'M', 'VF'"),
        ("[VF, F, M, XL]", "data.class_order: 'XL' not a class; the classes are"),
        ("[VF, VF, M, L]", "data.class_order: listed twice: 'VF'"),
    ):
        bad = runner.invoke(app, ["train", str(config), "--set", f"data.class_order={order}",
                                  "--out", str(tmp_path / "never")])  # fmt: skip
        assert bad.exit_code == 2, bad.output
        assert message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "never").exists()
    regression = runner.invoke(
        app,
        [
            "train",
            str(config),
            "--set",
            "data.task=regression",
            "--set",
            "data.target=x",
            "--out",
            str(tmp_path / "never"),
        ],
    )
    assert regression.exit_code == 2  # fmt: skip
    assert "data.class_order: applies to classification only" in regression.stderr


def test_a_perceptron_is_labelled_with_no_hidden_layer_and_no_activation(write_config, tmp_path):
    import json

    from nncli.app.commands import run_sweep, run_train

    config = write_config(
        {
            "data": {"source": "xor", "n_samples": 40},
            "model": {"depth": 0, "activation": "tanh"},
            "training": {"epochs": 1},
        }
    )
    run_train(config, [], out=tmp_path / "alone")
    setup = json.loads((tmp_path / "alone/run.json").read_text())["setup"]
    assert "MLP 2 → 2, no hidden layer (no activation), 6 parameters;" in setup
    run_sweep(config, [], vary=["model.depth=0,1"], out=tmp_path / "depths")
    setup = json.loads((tmp_path / "depths/run.json").read_text())["setup"]
    assert "MLP 2 → hidden layers varied → 2, tanh in the hidden layers;" in setup
