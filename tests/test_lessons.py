"""The tutorial's six lessons (docs/tutorial.md), each on a small, fast version of its shipped
config: if a change breaks what a lesson teaches, a test here fails.

Margins are wide on purpose: these assert the lesson, not the tutorial's exact numbers, which
docs/make_tutorial.py regenerates from the full commands.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nncli.app import commands
from nncli.app.saved import evaluate
from nncli.config.choosing import DEFAULT_PATIENCE

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def run_train(*args, **options) -> dict:
    """`nncli train`'s summary, as --json prints it."""
    return commands.run_train(*args, **options).to_json()


def run_sweep(*args, **options) -> dict:
    return commands.run_sweep(*args, **options).to_json()


def run_compare(*args, **options) -> dict:
    return commands.run_compare(*args, **options).to_json()


@pytest.fixture(autouse=True)
def drawn(monkeypatch) -> list[str]:
    """The names of the figures a lesson's commands draw, not rendered: rendering is most of a
    small run's time, and tests/test_plots.py checks the figures themselves."""
    from nncli.report import plots

    names: list[str] = []

    def keep_name(fig, path: Path) -> None:
        names.append(Path(path).name)
        plots.pyplot().close(fig)

    monkeypatch.setattr(plots, "save_figure", keep_name)
    return names


def by_value(summary: dict, key: str) -> dict:
    """A sweep's records by the value of its one varied key."""
    return {r["values"][key]: r for r in summary["results"]}


def seed_values(record: dict, split: str, metric: str) -> list:
    return record["metrics"][split][metric]["values"]


def test_lesson1_a_perceptron_cannot_learn_xor_and_one_hidden_layer_can(tmp_path, drawn):
    summary = run_sweep(CONFIGS / "xor_mlp.yaml", ["data.n_samples=100", "training.epochs=80"],
                        vary=["model.depth=0,1"], n_seeds=3, out=tmp_path / "xor")  # fmt: skip
    records = by_value(summary, "model.depth")
    # One straight line gets at most 3 of XOR's 4 corners right, whatever its seed.
    assert max(seed_values(records[0], "train", "accuracy")) <= 0.75
    assert min(seed_values(records[1], "train", "accuracy")) == 1.0
    assert "decision_boundaries.png" in drawn  # both, side by side


def test_lesson2_sigmoid_gradients_vanish_with_depth_and_the_step_passes_none(tmp_path, drawn):
    from nncli.model.activations import ACTIVATIONS

    small = ["data.n_samples=200", "training.epochs=1"]  # the gradients are the first epoch's
    compared = run_compare(CONFIGS / "deep_moons.yaml", small, activations=["sigmoid", "tanh",
                           "relu", "step"], n_seeds=1, out=tmp_path / "compare")  # fmt: skip
    ratio = {r["activation"]: r["grad_ratio"]["mean"] for r in compared["results"]}
    assert ratio["sigmoid"] < 1e-4  # orders of magnitude below the output layer's
    assert ratio["relu"] > 1e-2 and ratio["tanh"] > 1e-2  # alive
    (step,) = [r for r in compared["results"] if r["activation"] == "step"]
    assert step["frozen_layers"] == [0, 1, 2, 3, 4, 5]  # every layer below a step: no gradient
    assert float(ACTIVATIONS["sigmoid"].derivative(torch.zeros(1))) == 0.25  # its peak

    deep = run_sweep(CONFIGS / "deep_moons.yaml", small, vary=["model.depth=1,3,6",
                     "model.activation=sigmoid,relu"], diagnostics=True,
                     out=tmp_path / "depth")  # fmt: skip
    sigmoid = [r["grad_ratio"]["mean"] for r in deep["results"]
               if r["values"]["model.activation"] == "sigmoid"]  # fmt: skip
    relu = [r["grad_ratio"]["mean"] for r in deep["results"]
            if r["values"]["model.activation"] == "relu"]  # fmt: skip
    assert sigmoid[0] > 10 * sigmoid[1] > 100 * sigmoid[2]  # shrinks layer by layer
    assert relu[2] > 100 * sigmoid[2]
    assert {"grad_norms.png", "grad_ratio_by_value.png", "activations.png"} <= set(drawn)


def test_lesson2_a_deep_sigmoid_network_stalls_where_relu_learns(tmp_path):
    summary = run_sweep(CONFIGS / "deep_moons.yaml", ["data.n_samples=300", "training.epochs=50"],
                        vary=["model.activation=sigmoid,relu"], out=tmp_path / "stall")  # fmt: skip
    records = by_value(summary, "model.activation")
    assert records["sigmoid"]["learned"] == 0 and records["relu"]["learned"] == 1
    assert seed_values(records["sigmoid"], "test", "accuracy")[0] <= 0.6


def test_lesson3_too_high_a_learning_rate_diverges_too_low_crawls(tmp_path):
    summary = run_sweep(CONFIGS / "sgd.yaml", ["training.epochs=15"], n_seeds=2,
                        vary=["training.lr=1,0.1,0.001"], out=tmp_path / "lr")  # fmt: skip
    records = by_value(summary, "training.lr")
    assert records[1.0]["diverged"] == 2 and records[1.0]["diverged_at"]  # caught, reported
    good, slow = (records[lr]["metrics"]["train"]["loss"]["mean"] for lr in (0.1, 0.001))
    assert slow > 5 * good


def test_lesson3_a_smaller_batch_takes_more_steps_per_epoch_and_more_time(tmp_path):
    from nncli.grid.spec import build_grid
    from nncli.report.describe import describe_grid

    vary = ["training.batch_size=1,32,350"]
    summary = run_sweep(CONFIGS / "sgd.yaml", ["training.epochs=2"], vary=vary,
                        out=tmp_path / "batch")  # fmt: skip
    line = describe_grid(build_grid(CONFIGS / "sgd.yaml", [], vary, 1), n_train=350)
    assert "(350, 11, 1 steps per epoch over 350 training rows)" in line
    one, _, full = (stack["seconds"] for stack in summary["stacks"])
    assert one > 2 * full  # 350 steps an epoch against 1
    records = by_value(summary, "training.batch_size")
    # In the same epochs, more steps get further.
    assert (
        records[1]["metrics"]["train"]["loss"]["mean"]
        < (records[350]["metrics"]["train"]["loss"]["mean"])
    )


def test_lesson3_lr_times_epochs_decides_while_steps_are_small_and_raw_targets_diverge(tmp_path):
    fast = run_sweep(CONFIGS / "sgd.yaml", ["training.epochs=10"], vary=["training.lr=0.01"],
                     out=tmp_path / "fast")  # fmt: skip
    slow = run_sweep(CONFIGS / "sgd.yaml", ["training.epochs=100"], vary=["training.lr=0.001"],
                     out=tmp_path / "slow")  # fmt: skip
    a, b = (s["results"][0]["metrics"]["train"]["loss"]["mean"] for s in (fast, slow))
    assert abs(a / b - 1) < 0.05  # steps ten times smaller, ten times as many: the same place
    raw = run_sweep(CONFIGS / "diabetes.yaml", ["data.scale_target=false", "training.epochs=3"],
                    vary=["training.lr=0.1,0.001"], out=tmp_path / "raw")  # fmt: skip
    records = by_value(raw, "training.lr")  # targets 25 to 346, unscaled: large gradients
    assert records[0.1]["diverged"] == 1 and records[0.001]["diverged"] == 0


def test_lesson4_wider_fits_sine_better_inside_its_range_and_none_fits_outside(tmp_path, drawn):
    summary = run_sweep(CONFIGS / "sine.yaml", ["training.epochs=40"],
                        vary=["model.width=1,16"], out=tmp_path / "width")  # fmt: skip
    records = by_value(summary, "model.width")
    narrow, wide = (records[w]["metrics"]["test"]["mse"]["mean"] for w in (1, 16))
    assert narrow > 3 * wide
    model = tmp_path / "width/models/width=16-seed0.safetensors"
    inside = evaluate(model, data=ROOT / "data/sine_inside.csv").to_json()["metrics"]
    outside = evaluate(model, data=ROOT / "data/sine_outside.csv").to_json()["metrics"]
    assert inside["r2"] > 0.9 and outside["r2"] < 0.5
    assert "fits.png" in drawn


def test_lesson5_overfitting_early_stopping_keeps_the_best_epoch_weight_decay_helps(tmp_path):
    short = ["training.epochs=120"]
    summary = run_sweep(CONFIGS / "overfit.yaml", short, vary=["training.weight_decay=0,0.1"],
                        out=tmp_path / "decay")  # fmt: skip
    history = (tmp_path / "decay/history/weight_decay=0.0-seed0.csv").read_text().splitlines()
    rows = [dict(zip(history[0].split(","), map(float, line.split(",")), strict=True))
            for line in history[1:]]  # fmt: skip
    best = min(rows, key=lambda r: r["val_loss"])
    assert best["epoch"] < 30  # validation loss turns up early...
    assert rows[-1]["val_loss"] > 1.5 * best["val_loss"]
    assert rows[-1]["train_loss"] < 0.5 * best["train_loss"]  # ...while training loss falls
    records = by_value(summary, "training.weight_decay")
    assert (
        records[0.1]["metrics"]["val"]["loss"]["mean"]
        < (records[0.0]["metrics"]["val"]["loss"]["mean"])
    )
    stopped = run_train(CONFIGS / "overfit.yaml", [*short, "training.early_stopping=true"],
                        out=tmp_path / "early")  # fmt: skip
    assert stopped["kept_epoch"] == stopped["best_epoch"] == best["epoch"]
    assert stopped["epochs_run"] == best["epoch"] + DEFAULT_PATIENCE
    assert (
        stopped["metrics"]["test"]["log_loss"]
        < (records[0.0]["metrics"]["test"]["log_loss"]["mean"])
    )


def test_lesson6_mape_is_undefined_near_zero_and_misleads_small_targets(tmp_path, drawn):
    diabetes = run_train(CONFIGS / "diabetes.yaml", ["training.epochs=20"],
                         out=tmp_path / "diabetes")  # fmt: skip
    assert 0.2 < diabetes["metrics"]["test"]["mape"] < 1.0  # targets 25 to 346: defined
    sine = run_train(CONFIGS / "sine.yaml", ["training.epochs=2", "data.n_samples=100"],
                     out=tmp_path / "sine")  # fmt: skip
    assert sine["metrics"]["test"]["mape"] is None  # sin(x) crosses zero
    assert sine["metrics"]["test"]["mse"] is not None
    assert drawn.count("errors.png") == 2


def test_lesson6_mape_blows_up_near_zero_targets_where_r2_is_near_one(tmp_path, drawn):
    square = run_train(CONFIGS / "square_csv.yaml", ["training.epochs=60"],
                       out=tmp_path / "square")  # fmt: skip
    test = square["metrics"]["test"]  # y = x², targets 0.01 to 9
    assert test["r2"] > 0.99 and test["mape"] > 50 * (1 - test["r2"])
    assert "errors.png" in drawn


def test_lesson6_specificity_exposes_a_network_that_answers_positive_always(tmp_path):
    stalled = run_train(CONFIGS / "deep_moons.yaml", ["data.n_samples=300", "training.epochs=30"],
                        out=tmp_path / "stalled")  # fmt: skip
    test = stalled["metrics"]["test"]
    assert test["recall"] == 1.0 and test["specificity"] == 0.0  # every row called positive
    assert test["f1"] > 0.6 and test["balanced_accuracy"] == 0.5  # F1 looks like a model's


@pytest.fixture(scope="module")
def fraud(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("fraud")
    return run_sweep(CONFIGS / "transactions_csv.yaml", ["training.epochs=6"],
                     vary=["training.class_weight=null,balanced"], out=out / "s")  # fmt: skip


def test_lesson6_accuracy_looks_good_while_f1_shows_the_missed_minority(fraud):
    plain, balanced = fraud["results"]
    test = {name: stats["mean"] for name, stats in plain["metrics"]["test"].items()}
    assert test["accuracy"] > 0.94  # about what always saying "no" scores (96%)
    assert test["f1"] < 0.7 and test["recall"] < 0.6  # most fraud missed
    assert test["specificity"] > 0.95 and test["balanced_accuracy"] < 0.8  # honest ones pass
    assert balanced["metrics"]["test"]["recall"]["mean"] > test["recall"] + 0.2
