"""compare-activations: the stacked pass equals train and --sequential; gradients are right."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from nncli.app.commands import run_compare, run_train
from nncli.cli import app
from nncli.config.loading import load_config
from nncli.data.prepared import prepare_data
from nncli.grid.spec import build_grid
from nncli.model.mlp import seeded_mlp
from nncli.train.losses import input_blind_loss
from nncli.train.stack import ModelFit, train_stack

runner = CliRunner()


def compare_activations(
    config_path: Path, overrides: list[str], activations: list[str], n_seeds: int
) -> list[ModelFit]:
    """What `compare-activations --activations A,B --seeds N` trains: the grid the command
    builds (model.activation varied), its data prepared and its one stack trained with
    diagnostics; one fit per activation x seed, in the grid's order."""
    vary = [f"model.activation={','.join(activations)}"]
    grid = build_grid(config_path, overrides, vary, n_seeds, require_vary=False,
                      flag="--activations")  # fmt: skip
    assert grid.stacks == [list(range(len(activations) * n_seeds))]  # every model in one stack
    data = prepare_data(grid.base.data)  # one data section: activations only vary
    fits = train_stack([m.config for m in grid.models], data, diagnostics=True)
    assert [f.config for f in fits] == [m.config for m in grid.models]
    return fits


@pytest.fixture
def deep_moons(make_config, write_config, tmp_path) -> Path:
    config = make_config(
        seed=7,
        data={"n_samples": 160, "noise": 0.25},
        model={"depth": 3, "activation": "relu"},
        training={"lr": 0.2, "epochs": 6, "momentum": 0.5},
        output={"dir": str(tmp_path / "runs")},
    )
    return write_config(config, "deep.yaml")


def assert_metrics_close(a: dict, b: dict, rel: float = 1e-4) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if name == "confusion_matrix":
            assert a[name] == b[name]
        elif name == "per_class":
            for mine, theirs in zip(a[name], b[name], strict=True):
                assert_metrics_close(mine, theirs, rel)
        elif a[name] is None or b[name] is None:
            assert a[name] is b[name], name
        else:
            assert math.isclose(a[name], b[name], rel_tol=rel, abs_tol=1e-9), (name, a, b)


ACTIVATIONS = ["sigmoid", "tanh", "relu", "step"]


@pytest.mark.usefixtures("unrendered_plots")  # figures of 6 runs, rendered elsewhere
def test_stacked_models_match_sequential_and_nncli_train(deep_moons, tmp_path):
    stacked = run_compare(
        deep_moons, [], activations=ACTIVATIONS, n_seeds=2, out=tmp_path / "s"
    ).to_json()
    sequential = run_compare(
        deep_moons, [], activations=ACTIVATIONS, n_seeds=2, sequential=True, out=tmp_path / "q"
    ).to_json()
    assert [r["activation"] for r in stacked["results"]] == ACTIVATIONS
    for a, b in zip(stacked["results"], sequential["results"], strict=True):
        assert a["activation"] == b["activation"] and a["seeds"] == b["seeds"] == [7, 8]
        assert set(a["metrics"]) == set(b["metrics"]) == {"train", "val", "test"}
        for split in a["metrics"]:
            assert a["metrics"][split].keys() == b["metrics"][split].keys()
            assert {"loss", "accuracy", "f1"} <= a["metrics"][split].keys()
            for name, stats in a["metrics"][split].items():
                other = b["metrics"][split][name]
                assert math.isclose(stats["mean"], other["mean"], rel_tol=1e-4, abs_tol=1e-9)
    # Each model of the comparison is the model `nncli train --set seed=S` builds.
    outcomes = compare_activations(deep_moons, [], ["tanh", "relu"], 2)
    assert [(o.config.model.activation, o.config.seed) for o in outcomes] == [
        ("tanh", 7), ("tanh", 8), ("relu", 7), ("relu", 8)
    ]  # fmt: skip
    for outcome in outcomes:
        seed, activation = outcome.config.seed, outcome.config.model.activation
        overrides = [f"seed={seed}", f"model.activation={activation}"]
        trained = run_train(deep_moons, overrides, out=tmp_path / f"t{activation}{seed}").to_json()
        assert set(trained["metrics"]) == {"train", "val", "test"}
        for split, metrics in trained["metrics"].items():
            compared = {k: v for k, v in outcome.metrics[split].items() if k != "loss"}
            assert_metrics_close(compared, metrics)


def test_gradient_norms_match_a_hand_computed_first_epoch(deep_moons):
    config = load_config(deep_moons, ["training.momentum=0"])
    prepared = prepare_data(config.data)
    (outcome,) = compare_activations(deep_moons, ["training.momentum=0"], ["sigmoid"], 1)
    # By hand: the same model, batches and SGD, summing each layer's weight-gradient norm.
    x, y = prepared.tensors("train", torch.device("cpu"))
    net = seeded_mlp([2, 8, 8, 8, 2], "sigmoid", 7)
    optimizer = torch.optim.SGD(net.parameters(), lr=config.training.lr)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(7))
    sums = [0.0, 0.0, 0.0, 0.0]
    steps = 0
    for start in range(0, len(x), 16):
        rows = order[start : start + 16]
        optimizer.zero_grad()
        F.cross_entropy(net(x[rows]), y[rows]).backward()
        for layer, linear in enumerate(net[::2]):
            sums[layer] += float(linear.weight.grad.norm())
        optimizer.step()
        steps += 1
    expected = [s / steps for s in sums]
    assert outcome.record.grad_norms == pytest.approx(expected, rel=1e-5)
    assert outcome.grad_ratio == pytest.approx(expected[0] / expected[-1], rel=1e-5)
    # Sigmoid's derivative is at most 0.25: the gradient shrinks towards the input layer.
    assert expected[0] < expected[1] < expected[2] < expected[3]


def test_step_layers_get_exactly_zero_gradient(deep_moons):
    (outcome,) = compare_activations(deep_moons, [], ["step"], 1)
    norms = outcome.record.grad_norms
    assert norms[:3] == [0.0, 0.0, 0.0] and norms[3] > 0
    assert outcome.grad_ratio == 0.0


def test_json_shape_plots_and_histories_from_the_cli(deep_moons, tmp_path):
    out = tmp_path / "cmp"
    args = ["compare-activations", str(deep_moons), "--activations", "sigmoid,relu", "--seeds", "2"]
    result = runner.invoke(app, [*args, "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["out_dir"] == str(out) and [r["activation"] for r in report["results"]] == [
        "sigmoid",
        "relu",
    ]
    for record in report["results"]:
        assert record["seeds"] == [7, 8]
        assert set(record["metrics"]) == {"train", "val", "test"}
        for split in record["metrics"].values():
            assert {"loss", "accuracy", "f1"} <= set(split)
            assert set(split["accuracy"]) == {"mean", "std", "values"}
            assert len(split["accuracy"]["values"]) == 2  # each seed's, not only the mean
        assert len(record["grad_norms"]) == 4 and all(g > 0 for g in record["grad_norms"])
        assert set(record["best_epoch"]) == {"mean", "std", "values"}
    for name in ("loss_curves.png", "grad_norms.png", "activations.png", "decision_boundaries.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name
    assert json.loads((out / "summary.json").read_text()) == report
    assert (out / "summary.csv").read_text().splitlines()[0].startswith("activation,seeds,")
    assert sorted(p.name for p in (out / "history").iterdir()) == [
        "relu-seed7.csv",
        "relu-seed8.csv",
        "sigmoid-seed7.csv",
        "sigmoid-seed8.csv",
    ]
    table = runner.invoke(app, [*args, "--out", str(tmp_path / "t")])
    assert table.exit_code == 0, table.output
    assert "grad first/out" in table.stdout and "epoch 6/6" in table.stdout


def test_early_stopping_applies_to_each_model_on_its_own(deep_moons, tmp_path):
    overrides = ["training.epochs=60", "training.lr=0.5", "training.early_stopping.patience=2"]
    outcomes = compare_activations(deep_moons, overrides, ["identity", "relu", "sigmoid"], 1)
    records = [o.record for o in outcomes]
    assert len(records) == 3 and len({r.epochs_run for r in records}) > 1
    for record in records:
        assert record.kept_epoch == record.best_epoch
        assert record.epochs_run == min(60, record.best_epoch + 2)


def test_regression_comparison_has_no_decision_boundaries(write_config, tmp_path):
    config = write_config(
        {"data": {"source": "sine", "n_samples": 100}, "model": {"depth": 2, "width": 8}}
    )
    result = run_compare(
        config, ["training.epochs=3"], activations=["tanh", "relu"], n_seeds=1, out=tmp_path / "r"
    ).to_json()
    assert result["task"] == "regression"
    assert set(result["results"][0]["metrics"]["test"]) == {
        "loss",
        "mse",
        "rmse",
        "mape",
        "mae",
        "r2",
    }
    assert not (tmp_path / "r/decision_boundaries.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--activations", "sigmoid,rellu"], "unknown activation 'rellu' (did you mean 'relu'?)"),
        (["--activations", "relu,relu"], "listed twice"),
        (["--seeds", "0"], "--seeds: must be between 1 and 999"),
        (["--activations", " , "], "--activations: give at least one"),
    ],
)
def test_bad_options_exit_2(deep_moons, tmp_path, args, message):
    result = runner.invoke(
        app, ["compare-activations", str(deep_moons), *args, "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "x").exists()


def test_diverging_models_still_give_strict_json(deep_moons, tmp_path):
    args = [
        "compare-activations",
        str(deep_moons),
        "--activations",
        "relu,identity",
        "--seeds",
        "1",
    ]
    result = runner.invoke(
        app, [*args, "-s", "training.lr=50", "--json", "--out", str(tmp_path / "c")]
    )
    assert result.exit_code == 0, result.output

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    report = json.loads(result.stdout, parse_constant=refuse)
    assert any(r["diverged"] for r in report["results"])
    json.loads((tmp_path / "c/summary.json").read_text(), parse_constant=refuse)


def test_learned_means_beating_the_input_blind_guess(write_config):
    y = torch.tensor([0, 0, 0, 1])
    assert input_blind_loss(torch.zeros(4, 2), y, "classification") == pytest.approx(
        -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    )
    assert input_blind_loss(torch.zeros(3, 1), torch.tensor([1.0, 2.0, 3.0]), "regression") == (
        pytest.approx(2 / 3)
    )
    # A perceptron on XOR ends near chance: it has not learned, whatever its first loss was.
    config = write_config(
        {"data": {"source": "xor"}, "model": {"depth": 0}, "training": {"epochs": 20}}
    )
    outcomes = compare_activations(config, [], ["relu"], 2)
    assert [o.config.seed for o in outcomes] == [0, 1] and not any(o.learned for o in outcomes)
