"""What `--diagnostics` prints and keeps, checked through the real CLI: each layer's gradient
against plain autograd on the saved model, the table a grid prints, what `nncli train` alone
adds (the decision boundary, the step note, the did-not-learn warning) and when it does not."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from typer.testing import CliRunner

from nncli.cli import app
from nncli.config.loading import validate_config
from nncli.data.prepared import prepare_data
from nncli.report.gradients import ratio_cell
from nncli.runs.checkpoint import load_checkpoint

runner = CliRunner()

# One full-batch step at a learning rate too small to move the weights: the gradients the probe
# averages over the first epoch are those of the saved model, which autograd can recompute.
ONE_STEP = {"lr": 1.0e-9, "batch_size": 1000, "epochs": 1, "early_stopping": None}


def train(config: dict, write_config, out, *options: str):
    result = runner.invoke(app, ["train", str(write_config(config)), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return result


def autograd_norms(run) -> list[float]:
    """Each weight matrix's gradient norm of the mean cross-entropy on the training split, by
    torch autograd on the saved model: nothing of nncli's engine."""
    net, _ = load_checkpoint(run / "model.safetensors")
    config = validate_config(yaml.safe_load((run / "config.yaml").read_text()))
    x, y = prepare_data(config.data).tensors("train", torch.device("cpu"))
    F.cross_entropy(net(x), y).backward()
    return [float(m.weight.grad.norm()) for m in net if isinstance(m, torch.nn.Linear)]


def table_rows(output: str) -> dict[str, list[str]]:
    """The printed gradient table: layer -> its cells after the layer's name."""
    section = output.split("Gradient by layer (first epoch)")[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if re.fullmatch(r"\d+|output", cells[0]) and len(cells) == 4:
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_the_printed_gradient_table_is_autograds_and_sigmoid_vanishes(
    activation, make_config, write_config, tmp_path
):
    config = make_config(model={"depth": 4, "activation": activation}, training=ONE_STEP)
    result = train(config, write_config, tmp_path / "run", "--diagnostics")
    expected = autograd_norms(tmp_path / "run")  # input layer first, output last
    diagnostics = json.loads((tmp_path / "run" / "metrics.json").read_text())["diagnostics"]
    assert diagnostics["grad_norms"] == pytest.approx(expected, rel=1e-5)
    ratios = [n / expected[-1] for n in expected]
    assert diagnostics["grad_ratios"] == pytest.approx(ratios, rel=1e-5)
    rows = table_rows(result.stdout)
    assert list(rows) == ["1", "2", "3", "4", "output"]
    assert rows["1"] == ["2 → 8", ratio_cell(expected[0]), ratio_cell(ratios[0])]
    assert rows["output"][2] == "1"
    if activation == "sigmoid":  # f' <= 0.25: three sigmoid layers between them, at least 4^3
        assert ratios[0] < 0.25**3
        assert "saturated 0.00" in result.stdout  # and yet it vanishes: the note says why
        assert "each sigmoid layer shrinks the gradient passing back 4x or more" in result.stdout
        assert "dead" not in result.stdout
    else:  # nothing comparable for tanh (f' <= 1) or ReLU at their start
        assert ratios[0] > 0.25
    if activation == "relu":
        assert "hidden units: dead " in result.stdout and "saturated" not in result.stdout


def test_without_diagnostics_train_prints_no_gradient_table(make_config, write_config, tmp_path):
    result = train(make_config(), write_config, tmp_path / "run")
    assert "Gradient by layer" not in result.stdout
    assert "diagnostics" not in json.loads((tmp_path / "run" / "metrics.json").read_text())


def test_the_report_page_shows_the_gradient_table_and_the_step_note(
    make_config, write_config, tmp_path
):
    config = make_config(model={"depth": 2, "activation": "step"}, training=ONE_STEP)
    train(config, write_config, tmp_path / "run", "--diagnostics")
    page = (tmp_path / "run" / "report.html").read_text()
    assert "<h3>Gradient by layer (first epoch)</h3>" in page
    assert '<td>1</td><td class="n">2 → 8</td><td class="n">0</td><td class="n">0</td>' in page
    assert "<li>warning: model.activation=step: its derivative is 0" in page


STEP_NOTE = "model.activation=step: its derivative is 0 wherever it is defined"
NO_LEARNING = "the model did not learn: "


@pytest.mark.parametrize(
    ("sections", "step_note", "did_not_learn"),
    [
        ({"training": {"epochs": 30}}, False, False),  # tanh on moons: learns
        ({"model": {"activation": "relu"}, "training": {"epochs": 30}}, False, False),
        ({"model": {"activation": "step"}, "training": {"epochs": 30}}, True, False),
        ({"model": {"activation": "step", "depth": 0}, "training": {"epochs": 30}}, False, False),
        # Six sigmoid layers: the gradient vanishes and it answers one class.
        ({"model": {"activation": "sigmoid", "depth": 6}, "training": {"epochs": 5}}, False, True),
    ],
    ids=["tanh", "relu", "step", "perceptron", "deep-sigmoid"],
)
def test_the_step_note_and_the_did_not_learn_warning_appear_exactly_when_they_should(
    sections, step_note, did_not_learn, make_config, write_config, tmp_path
):
    result = train(make_config(**sections), write_config, tmp_path / "run", "--json")
    printed = json.loads(result.stdout)["warnings"]
    kept = json.loads((tmp_path / "run" / "run.json").read_text())["warnings"]
    assert printed == kept
    assert [w.startswith(STEP_NOTE) for w in kept].count(True) == step_note
    assert [w.startswith(NO_LEARNING) for w in kept].count(True) == did_not_learn
    assert result.stderr.count("warning: ") == len(kept) == step_note + did_not_learn
    page = (tmp_path / "run" / "report.html").read_text()
    assert page.count("<li>warning: ") == len(kept)
    if did_not_learn:
        val = json.loads(result.stdout)["metrics"]["val"]["accuracy"]
        (warning,) = [w for w in kept if w.startswith(NO_LEARNING)]
        assert f"val accuracy {val:.4f}" in warning and "majority-class baseline 0." in warning


def test_a_regressor_that_did_not_learn_names_the_mean_baseline(write_config, tmp_path):
    # Untrained, on a standardized target: near the mean, and further from the rows than it.
    config = {"data": {"source": "diabetes"}, "training": ONE_STEP}
    result = train(config, write_config, tmp_path / "run", "--json")
    (warning,) = json.loads(result.stdout)["warnings"]
    val = json.loads(result.stdout)["metrics"]["val"]["mse"]
    assert warning.startswith(f"the model did not learn: val mse {val:.4f} does not beat the mean")


def test_the_decision_boundary_is_drawn_for_two_input_classification_only(
    make_config, write_config, tmp_path
):
    from matplotlib.image import imread

    train(make_config(), write_config, tmp_path / "moons")
    figure = tmp_path / "moons" / "decision_boundary.png"
    pixels = imread(figure)  # (H, W, 4), a real PNG
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200
    assert 'id="decision_boundary.png"' in (tmp_path / "moons" / "report.html").read_text()
    others = {
        "sine": {"source": "sine", "n_samples": 100},  # regression, one input
        "iris": {"source": "iris"},  # classification, four inputs
    }
    for name, data in others.items():
        train({"data": data, "training": {"epochs": 2}}, write_config, tmp_path / name)
        assert (tmp_path / name / "metrics.json").exists()
        assert not (tmp_path / name / "decision_boundary.png").exists(), name


def test_a_regression_on_two_inputs_draws_no_decision_boundary(write_config, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    lines = ["a,b,y"] + [f"{a:.4f},{b:.4f},{a - b:.4f}" for a, b in x]
    (tmp_path / "plane.csv").write_text("\n".join(lines) + "\n")
    config = {"data": {"source": str(tmp_path / "plane.csv"), "target": "y"},
              "training": {"epochs": 2}}  # fmt: skip
    train(config, write_config, tmp_path / "run")
    assert (tmp_path / "run" / "errors.png").exists()
    assert not (tmp_path / "run" / "decision_boundary.png").exists()


def test_a_grid_prints_a_gradient_row_per_variant_and_names_those_that_did_not_learn(
    make_config, write_config, tmp_path
):
    config = make_config(model={"depth": 3, "width": 8}, training={"epochs": 20})
    path = write_config(config)
    result = runner.invoke(app, ["compare-activations", str(path), "--activations",
                                 "sigmoid,step,relu", "--seeds", "2", "--out",
                                 str(tmp_path / "cmp")])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    records = {r["activation"]: r for r in summary["results"]}
    section = result.stdout.split("Gradient reaching each layer")[1]
    for name, record in records.items():
        assert record["grad_ratios"][0] == pytest.approx(record["grad_ratio"]["mean"])
        assert record["grad_ratios"][-1] == 1.0
        row = next(line for line in section.splitlines() if f" {name} " in line)
        cells = [c.strip() for c in row.strip("│ ").split("│")]
        assert cells[1:4] == [ratio_cell(r) for r in record["grad_ratios"][:3]]
    assert records["step"]["grad_ratios"][:3] == [0.0, 0.0, 0.0]
    page = (tmp_path / "cmp" / "report.html").read_text()
    row = "".join(
        f'<td class="n">{ratio_cell(r)}</td>' for r in records["sigmoid"]["grad_ratios"][:3]
    )
    assert f"<td>sigmoid</td>{row}" in page
    # Three sigmoid layers answer one class after 20 epochs; step and ReLU learn.
    assert [name for name, r in records.items() if r["learned"] < 2] == ["sigmoid"]
    assert summary["warnings"] == [
        "did not learn (val accuracy no better than the input-blind baseline 0.5000 by 0.0500,"
        " or one class only): sigmoid 2/2 seeds"
    ]
    assert result.stderr.count("warning: did not learn") == 1
    assert "saturated: the share of (hidden unit, training row) pairs" in result.stdout
    assert "dead: the share of hidden units" in result.stdout
    assert "step: its derivative is 0 wherever it is defined" in result.stdout


def test_the_decision_boundary_draws_a_sample_of_a_large_split_over_its_whole_range(
    make_config, write_config, tmp_path, monkeypatch
):
    from nncli.app import figures
    from nncli.report import learned

    drawn = {}

    def capture(path, regions, extent, x, y, **kwargs):
        drawn.update(regions=regions, extent=extent, x=x, y=y)

    monkeypatch.setattr(figures, "BOUNDARY_POINTS", 50)
    monkeypatch.setattr(learned, "plot_decision_boundaries", capture)
    train(make_config(), write_config, tmp_path / "run")
    config = validate_config(yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()))
    x_train = prepare_data(config.data).raw["train"][0]  # 140 rows
    assert len(drawn["x"]) == len(drawn["y"]) == 50
    assert drawn["regions"][0][0].endswith("\n50 of 140 training points")
    low = x_train.min(axis=0) - 0.5  # every row's range, half a unit beyond
    high = x_train.max(axis=0) + 0.5
    assert drawn["extent"] == pytest.approx((low[0], high[0], low[1], high[1]))


def test_a_run_stopped_inside_its_first_epoch_resumes_with_the_same_gradients(
    tiny_moons, tmp_path, stop_after
):
    """The probe averages the first epoch's steps: a stop in the middle of them (a stop request
    before step 4 of 9) and `--resume` end with the gradients, and the table, of a run never
    stopped. Stopped in this process: a signal's way to the stop request has tests of its own
    (test_interrupts.py)."""
    from nncli.app.commands import run_train
    from nncli.errors import Interrupted
    from nncli.grid.session import Session

    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    done = runner.invoke(app, ["train", str(tiny_moons), "--out", str(whole), "--diagnostics"])
    assert done.exit_code == 0, done.output
    with pytest.raises(Interrupted):
        run_train(tiny_moons, [], out=stopped, diagnostics=True,
                  session=Session(should_stop=stop_after(4)))  # fmt: skip
    assert json.loads((stopped / "run.json").read_text())["stopped_at"] == "epoch 1, step 3"
    resumed = runner.invoke(app, ["train", "--resume", str(stopped)])
    assert resumed.exit_code == 0, resumed.output

    def diagnostics(run):
        return json.loads((run / "metrics.json").read_text())["diagnostics"]

    assert diagnostics(stopped) == diagnostics(whole)
    assert table_rows(resumed.stdout) == table_rows(done.stdout)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(3.2e-7, "3.2e-7"), (0.13, "1.3e-1"), (1.3, "1.3"), (13.0, "1.3e1"), (1.0, "1"), (0.0, "0"),
     (None, "-"), (float("nan"), "nan")],
)  # fmt: skip
def test_a_ratio_cell_is_a_short_scientific_number_and_plain_from_1_to_10(value, shown):
    assert ratio_cell(value) == shown
