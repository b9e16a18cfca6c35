"""Regenerate docs/tutorial.md and its figures by running every lesson's commands.

    .venv/bin/python docs/make_tutorial.py

Each command runs through the real CLI (`python -m nncli`, one torch thread) in a scratch folder
where `configs/` and `data/` are this repository's, exactly as the tutorial prints it. What the
page says comes from what the commands printed and wrote; a lesson whose outcome no longer holds
stops the script instead of being written up. Figures are nncli's own, stored as 256-colour PNGs.
The lessons run side by side, one per CPU; a few minutes on two cores.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs/tutorial.md"
FIGURES = ROOT / "docs/tutorial"
# Plain epoch lines (output to a file or pipe): shown as "..." once.
PROGRESS = re.compile(r"^(stack \d+/\d+ +)?epoch \d+/\d+ ")


class Session:
    """Runs commands in a scratch folder and keeps what they printed."""

    def __init__(self, work: Path):
        self.work = work
        self.env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.env.pop("NO_COLOR", None)

    def run(self, command: str, *, expect: int = 0) -> str:
        """`nncli ...` as typed; returns it and its output as a console block."""
        args = command.split()[1:]
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "nncli", *args],
            cwd=self.work,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        print(f"{time.perf_counter() - started:6.1f} s  {command}", file=sys.stderr)
        if done.returncode != expect:
            raise SystemExit(f"{command} exited {done.returncode}:\n{done.stdout}")
        lines: list[str] = []
        for line in done.stdout.splitlines():
            if PROGRESS.match(line):
                if lines[-1:] != ["..."]:
                    lines.append("...")
            else:
                lines.append(line.rstrip())
        return f"```console\n$ {command}\n" + "\n".join(lines) + "\n```"

    def json(self, path: str) -> dict:
        return json.loads((self.work / path).read_text())

    def history(self, path: str) -> list[dict[str, float]]:
        with (self.work / path).open() as handle:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]

    def figure(self, path: str, name: str, alt: str) -> str:
        """Copy a figure nncli drew into docs/tutorial/ (256 colours: a third of the bytes)."""
        with Image.open(self.work / path) as image:
            small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
            small.save(FIGURES / name, optimize=True)
        return f"![{alt}](tutorial/{name})"


def guarded(lesson: int) -> str:
    """The tests that keep a lesson true, as found in tests/test_lessons.py."""
    text = (ROOT / "tests/test_lessons.py").read_text()
    tests = re.findall(rf"^def (test_lesson{lesson}_\w+)\(", text, flags=re.M)
    return "Guarded by " + " and ".join(f"`tests/test_lessons.py::{t}`" for t in tests) + "."


def check(claim: bool, lesson: str, what: str) -> None:
    if not claim:
        raise SystemExit(f"{lesson}: the lesson no longer holds: {what}")


def mean(record: dict, split: str, metric: str) -> float | None:
    return record["metrics"][split][metric]["mean"]


def by_value(summary: dict, key: str) -> dict:
    return {r["values"][key]: r for r in summary["results"]}


def f4(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def lesson1(s: Session) -> tuple[str, str]:
    out = s.run("nncli sweep configs/xor_mlp.yaml --vary model.depth=0,1 --seeds 5 --out runs/xor")
    records = by_value(s.json("runs/xor/summary.json"), "model.depth")
    line, hidden = (records[d]["metrics"]["train"]["accuracy"]["values"] for d in (0, 1))
    check(max(line) <= 0.75, "lesson 1", f"depth 0 train accuracy {line}")
    check(min(hidden) == 1.0, "lesson 1", f"depth 1 train accuracy {hidden}")
    shown = ", ".join(f"{a:.2f}" for a in line)
    test_line, test_hidden = (mean(records[d], "test", "accuracy") for d in (0, 1))
    noise = (
        " (the noise, `data.noise: 0.15`, pushes a few test points across the true boundary)"
        if test_hidden < 1
        else ""
    )
    text = f"""## Lesson 1: the perceptron's limit

A perceptron (`model.depth: 0`) computes one weighted sum of its inputs: its decision boundary is
a straight line. XOR puts one class on two opposite corners of a square and the other class on
the other two, and no straight line separates them: the best a line can do is 3 corners of 4,
an accuracy of 0.75. One hidden layer of 4 units bends the boundary. The same config, both
depths, five seeds each:

{out}

With no hidden layer, training accuracy per seed is {shown}: never above 0.75, whatever the seed.
With one hidden layer every seed reaches {min(hidden):.1f}. The decision boundaries, side by side
(the first seed of each):

{s.figure("runs/xor/decision_boundaries.png", "xor-boundaries.png", "Decision boundaries")}

The straight line cuts the square somewhere and leaves at least one corner on the wrong side;
the hidden layer carves out the two opposite corners. On the test split the line scores
{test_line:.4f} on average and the hidden layer {test_hidden:.4f}{noise}.

{guarded(1)}
"""
    headline = (
        f"depth 0: train accuracy at most {max(line):.2f} on every seed; one hidden layer of 4:"
        f" {min(hidden):.1f} on all five"
    )
    return text, headline


def lesson2(s: Session) -> tuple[str, str]:
    compare = s.run(
        "nncli compare-activations configs/deep_moons.yaml --activations sigmoid,tanh,relu,step"
        " --out runs/activations"
    )
    results = {r["activation"]: r for r in s.json("runs/activations/summary.json")["results"]}
    ratio = {name: r["grad_ratio"]["mean"] for name, r in results.items()}
    accuracy = {name: mean(r, "test", "accuracy") for name, r in results.items()}
    check(ratio["sigmoid"] < 1e-3, "lesson 2", f"sigmoid ratio {ratio['sigmoid']}")
    check(min(ratio["relu"], ratio["tanh"]) > 1e-2, "lesson 2", f"ratios {ratio}")
    check(results["sigmoid"]["learned"] == 0, "lesson 2", "the deep sigmoid network learned")
    check(results["step"]["frozen_layers"] == list(range(6)), "lesson 2", "step gradients")
    depth = s.run(
        "nncli sweep configs/deep_moons.yaml --vary model.depth=1,2,4,6,8"
        " --vary model.activation=sigmoid,relu --diagnostics --out runs/depth"
    )
    deep = s.json("runs/depth/summary.json")["results"]
    by = {(r["values"]["model.activation"], r["values"]["model.depth"]): r for r in deep}
    depths = [1, 2, 4, 6, 8]
    sigmoid = [by["sigmoid", d]["grad_ratio"]["mean"] for d in depths]
    relu = [by["relu", d]["grad_ratio"]["mean"] for d in depths]
    check(all(a > b for a, b in itertools.pairwise(sigmoid)), "lesson 2", f"sigmoid {sigmoid}")
    check(relu[-1] > 100 * sigmoid[-1], "lesson 2", f"relu {relu}")
    check(all(by["relu", d]["learned"] == 1 for d in depths), "lesson 2", "a relu depth stalled")
    norms = {name: r["grad_norms"] for name, r in results.items()}
    per_layer = (norms["sigmoid"][-1] / norms["sigmoid"][0]) ** (1 / (len(norms["sigmoid"]) - 1))
    spans = {name: math.log10(max(norms[name]) / min(norms[name])) for name in ("tanh", "relu")}
    by_depth = s.figure("runs/depth/grad_ratio_by_value.png", "grad-ratio-by-depth.png",
                        "Gradient ratio by depth")  # fmt: skip
    per_depth = (sigmoid[0] / sigmoid[-1]) ** (1 / (depths[-1] - depths[0]))
    ratios = ", ".join(f"{d}: {r:.1e}" for d, r in zip(depths, sigmoid, strict=True))
    relus = ", ".join(f"{d}: {r:.1e}" for d, r in zip(depths, relu, strict=True))
    text = f"""## Lesson 2: activations and vanishing gradients

Backpropagation multiplies, layer by layer, by the derivative of the activation. Sigmoid's
derivative is at most 0.25 (at 0, and far less elsewhere), so each sigmoid layer shrinks the
gradient by a factor of 4 or more on its way back to the input, unless large weights make up for
it. `configs/deep_moons.yaml` has six
hidden sigmoid layers; `compare-activations` trains it with each activation (three seeds each)
and measures, during the first epoch, each layer's weight-gradient norm:

{compare}

The column `grad first/out` is the first layer's gradient norm over the output layer's. For
sigmoid it is {ratio["sigmoid"]:.1e}: the first layer gets that fraction of the gradient the
output layer gets, its weights barely move, and the network stalls at test accuracy
{accuracy["sigmoid"]:.2f}, a coin toss on two balanced classes. tanh ({ratio["tanh"]:.1e}) and
ReLU ({ratio["relu"]:.1e}) keep gradients alive and reach {accuracy["tanh"]:.2f} and
{accuracy["relu"]:.2f}. The step function's derivative is zero wherever it is defined, so every
layer below the output gets exactly no gradient (`layers 1-6: zero gradient`): only the output
layer learns, on top of the random features below it, which here is still enough for test
accuracy {accuracy["step"]:.2f}.

Why, in one figure: each activation and its derivative (the red dotted line marks the largest
derivative; sigmoid's is 0.25):

{s.figure("runs/activations/activations.png", "activations.png", "Activations")}

And the gradient norm layer by layer, input layer first:

{s.figure("runs/activations/grad_norms.png", "grad-norms.png", "Gradient norm by layer")}

Sigmoid's line falls by a factor of about {per_layer:.0f} per layer towards the input. Across
all seven layers tanh's norms stay within a factor of {10 ** spans["tanh"]:.0f} of each other and
ReLU's within {10 ** spans["relu"]:.0f}. Step's layers are marked x: exactly zero.

How it changes with depth: a sweep of `model.depth` for sigmoid and ReLU, with `--diagnostics`:

{depth}

{by_depth}

The first layer's share of the gradient for sigmoid, by depth: {ratios}. For ReLU: {relus}.
From depth 1 to depth 8 sigmoid's share falls by a factor of {sigmoid[0] / sigmoid[-1]:,.0f},
about {per_depth:.0f} for each layer added; ReLU's falls too, but only by a factor of
{relu[0] / relu[-1]:,.0f}, and every ReLU depth learns (the `learned` column).

{guarded(2)}
"""
    headline = (
        f"first-layer/output gradient: sigmoid {ratio['sigmoid']:.1e}, tanh {ratio['tanh']:.1e},"
        f" relu {ratio['relu']:.1e}, step 0; sigmoid's falls from {sigmoid[0]:.1e} at depth 1 to"
        f" {sigmoid[-1]:.1e} at depth 8"
    )
    return text, headline


def lesson3(s: Session) -> tuple[str, str]:
    lr = s.run("nncli sweep configs/sgd.yaml --vary training.lr=1,0.1,0.01,0.001 --seeds 3"
               " --out runs/lr")  # fmt: skip
    records = by_value(s.json("runs/lr/summary.json"), "training.lr")
    check(records[1.0]["diverged"] == 3, "lesson 3", "lr 1 did not diverge on every seed")
    loss = {value: mean(r, "train", "loss") for value, r in records.items() if value != 1.0}
    check(loss[0.001] > loss[0.01] > loss[0.1], "lesson 3", f"train losses {loss}")
    where = "; ".join(f"seed {d['seed']} at epoch {d['epoch']}, step {d['step']}"
                      for d in records[1.0]["diverged_at"])  # fmt: skip
    batch = s.run("nncli sweep configs/sgd.yaml --vary training.batch_size=1,32,350"
                  " --set training.epochs=20 --seeds 3 --out runs/batch")  # fmt: skip
    summary = s.json("runs/batch/summary.json")
    sizes = by_value(summary, "training.batch_size")
    seconds = [stack["seconds"] for stack in summary["stacks"]]
    check(seconds[0] > seconds[-1], "lesson 3", f"stack times {seconds}")
    batch_loss = {b: mean(r, "train", "loss") for b, r in sizes.items()}
    check(batch_loss[1] < batch_loss[350], "lesson 3", f"train losses {batch_loss}")
    text = f"""## Lesson 3: SGD's knobs

`configs/sgd.yaml` fits y = sin(x) with plain SGD (no momentum), so that each knob does one thing.
The setup line says what one epoch is: every training row seen once, in mini-batches, one SGD
step per mini-batch.

### The learning rate, across decades

{lr}

At `lr=1` the steps overshoot and grow until the loss is no longer a number: nncli stops that
model, reports where ({where}) and lets the others finish (the exit code is 1 only when every
model diverged). At `lr=0.1` the training loss ends at {loss[0.1]:.4f}; at 0.01 it is
{loss[0.01]:.4f} and at 0.001 {loss[0.001]:.4f}: the same 100 epochs, steps ten times smaller,
and the network is still crawling towards the fit. The loss curves show both:

{s.figure("runs/lr/loss_curves.png", "lr-loss-curves.png", "Loss curves by learning rate")}

### Batch size: steps per epoch, noise and time

{batch}

The `varied:` line counts the steps: over 350 training rows a batch of 1 makes 350 steps an
epoch, a batch of 32 makes 11 and the full batch 1; in 20 epochs that is 7000, 220 and 20 steps.
More steps get further in the same epochs (training loss {batch_loss[1]:.4f}, {batch_loss[32]:.4f}
and {batch_loss[350]:.4f}) but cost time: the line under the table gives each stack's seconds.
Each step of batch 1 sees one row, so its gradient is a noisy estimate and its loss jumps from
epoch to epoch (the widest band); the full batch's gradient is exact but comes once an epoch,
and its curve is smooth and slow:

{s.figure("runs/batch/loss_curves.png", "batch-loss-curves.png", "Loss curves by batch size")}

{guarded(3)}
"""
    headline = (
        f"lr 1 diverged on 3 of 3 seeds; train loss {loss[0.1]:.4f} at lr 0.1 against"
        f" {loss[0.001]:.4f} at 0.001; batch 1, 32, 350: 350, 11, 1 steps an epoch,"
        f" {', '.join(f'{t:.{1 if t >= 1 else 2}f}' for t in seconds)} s, train loss"
        f" {batch_loss[1]:.4f}, {batch_loss[32]:.4f}, {batch_loss[350]:.4f}"
    )
    return text, headline


def lesson4(s: Session) -> tuple[str, str]:
    train = s.run("nncli train configs/sine.yaml --out runs/sine")
    inside_out = s.run("nncli evaluate runs/sine --data data/sine_inside.csv")
    outside_out = s.run("nncli evaluate runs/sine --data data/sine_outside.csv")
    inside, outside = table_values(inside_out), table_values(outside_out)
    check(outside["mse"] > 100 * inside["mse"], "lesson 4", f"{inside} {outside}")
    width = s.run("nncli sweep configs/sine.yaml --vary model.width=1,2,4,8,32 --out runs/width")
    widths = by_value(s.json("runs/width/summary.json"), "model.width")
    mse = {w: mean(r, "test", "mse") for w, r in widths.items()}
    check(mse[1] > 5 * mse[32], "lesson 4", f"test mse by width {mse}")
    plateau = min(w for w, m in mse.items() if m < 1.5 * mse[32])
    by_width = ", ".join(f"{w}: {m:.4f}" for w, m in mse.items())
    text = f"""## Lesson 4: universal approximation, and its catch

One hidden layer with enough units can approximate any continuous function on a bounded range
as closely as you like. `configs/sine.yaml` fits y = sin(x) + noise on [-π, π] with one layer of
32 tanh units:

{train}

The fit over the training range and as far again on each side:

{s.figure("runs/sine/fit.png", "sine-fit.png", "The learned function beyond its range")}

Inside the grey band the curve follows the data; outside it each tanh unit levels off, and the
network continues in whatever direction its units last took, not the sine wave it never saw.
Measured on noise-free points (`data/sine_inside.csv`: x in [-π, π]; `data/sine_outside.csv`:
[-2π, -π] and [π, 2π]):

{inside_out}

{outside_out}

MSE {inside["mse"]:.4f} inside (R² {inside["r2"]:.4f}) against {outside["mse"]:.4f} outside
(R² {outside["r2"]:.2f}: worse than predicting the mean). The theorem promises a fit on the range
it was trained on, nothing beyond.

Wider fits better: a sweep of the hidden layer's width.

{width}

Test MSE by width: {by_width}. The noise has variance 0.05² = 0.0025, a floor no width can beat.
One unit is a single tanh step; a few more bend it into the wave; from width {plateau} on the
test MSE is within 1.5 times width 32's, and outside the range each width guesses differently:

{s.figure("runs/width/fits.png", "width-fits.png", "Fits by width")}

{s.figure("runs/width/metric_by_value.png", "width-mse.png", "Test MSE by width")}

{guarded(4)}
"""
    headline = (
        f"MSE {inside['mse']:.4f} inside the training range, {outside['mse']:.2f} outside"
        f" (R² {outside['r2']:.2f}); test MSE {mse[1]:.4f} at width 1 against {mse[32]:.4f} at"
        " width 32"
    )
    return text, headline


def table_values(block: str) -> dict[str, float | None]:
    """The metrics of a printed one-column metrics table: `│ mse │ 0.0004 │`."""
    found = re.findall(r"^│ (\w+)(?: \(\w+\))? +│ +(\S+) │$", block, flags=re.M)
    return {name: None if value == "undefined" else float(value) for name, value in found}


def lesson5(s: Session) -> tuple[str, str]:
    overfit = s.run("nncli train configs/overfit.yaml --out runs/overfit")
    history = s.history("runs/overfit/history.csv")
    best = min(history, key=lambda row: row["val_loss"])
    last = history[-1]
    check(last["val_loss"] > 1.5 * best["val_loss"], "lesson 5", f"{best} {last}")
    check(last["train_loss"] < 0.5 * best["train_loss"], "lesson 5", f"{best} {last}")
    late_metrics = s.json("runs/overfit/metrics.json")["metrics"]
    late, late_train = late_metrics["test"], late_metrics["train"]
    early_out = s.run(
        "nncli train configs/overfit.yaml --set training.early_stopping=true --out runs/early"
    )
    early = s.json("runs/early/metrics.json")
    check(early["kept_epoch"] == int(best["epoch"]), "lesson 5", f"kept {early['kept_epoch']}")
    check(early["metrics"]["test"]["log_loss"] < late["log_loss"], "lesson 5", "log loss")
    decay = s.run(
        "nncli sweep configs/overfit.yaml --vary training.weight_decay=0,0.001,0.01,0.1"
        " --seeds 3 --out runs/decay"
    )
    records = by_value(s.json("runs/decay/summary.json"), "training.weight_decay")
    val = {wd: mean(r, "val", "loss") for wd, r in records.items()}
    check(val[0.1] < val[0.0] / 2, "lesson 5", f"val loss by weight decay {val}")
    acc = {wd: mean(r, "test", "accuracy") for wd, r in records.items()}
    boundaries = s.figure("runs/decay/decision_boundaries.png", "decay-boundaries.png",
                          "Decision boundaries by weight decay")  # fmt: skip
    early_test = early["metrics"]["test"]
    text = f"""## Lesson 5: overfitting

`configs/overfit.yaml` gives a network of 8,642 weights 60 noisy training points
(`data.noise: 0.5`, so the two moons overlap) and 300 epochs:

{overfit}

{s.figure("runs/overfit/loss.png", "overfit-loss.png", "Training and validation loss")}

Training loss keeps falling: from {best["train_loss"]:.4f} at epoch {best["epoch"]:.0f} to
{last["train_loss"]:.4f} at epoch {last["epoch"]:.0f}, and the final weights classify
{late_train["accuracy"]:.0%} of the training points correctly. Validation loss is lowest at
epoch {best["epoch"]:.0f} ({best["val_loss"]:.4f}) and then turns up, to
{last["val_loss"]:.4f}: the network memorizes the noise of its 60 points and grows ever more
confident, and wrong, on points it has not seen. The final weights score test accuracy
{late["accuracy"]:.4f} and log loss {late["log_loss"]:.4f}.

**Early stopping** watches the validation loss, stops once it has not improved for `patience`
epochs, and restores the best epoch's weights (the outcome line names both):

{early_out}

Kept epoch {early["kept_epoch"]}, stopped at {early["epochs_run"]}: test accuracy
{early_test["accuracy"]:.4f} and log loss {early_test["log_loss"]:.4f}, against
{late["accuracy"]:.4f} and {late["log_loss"]:.4f} for the weights of epoch 300.

**Weight decay** is the other remedy: every step also shrinks each weight a little, so only the
patterns the data keeps supporting grow large.

{decay}

Validation loss after 300 epochs falls from {val[0.0]:.4f} without decay to {val[0.01]:.4f} at
0.01 and {val[0.1]:.4f} at 0.1 (test accuracy {acc[0.0]:.4f}, {acc[0.01]:.4f} and
{acc[0.1]:.4f}). The boundaries show what the decay removes: islands drawn around single noisy
points.

{boundaries}

{guarded(5)}
"""
    headline = (
        f"val loss lowest at epoch {best['epoch']:.0f} ({best['val_loss']:.4f}), "
        f"{last['val_loss']:.4f} at epoch 300 while train loss falls to {last['train_loss']:.4f};"
        f" early stopping: test log loss {early_test['log_loss']:.4f} against"
        f" {late['log_loss']:.4f}; weight decay 0.1: val loss {val[0.1]:.4f} against"
        f" {val[0.0]:.4f}"
    )
    return text, headline


def lesson6(s: Session) -> tuple[str, str]:
    diabetes = s.run("nncli train configs/diabetes.yaml --out runs/diabetes")
    d = s.json("runs/diabetes/metrics.json")["metrics"]["test"]
    sine = s.json("runs/sine/metrics.json")["metrics"]["test"]
    check(d["mape"] is not None and sine["mape"] is None, "lesson 6", "MAPE")
    fraud = s.run("nncli train configs/transactions_csv.yaml --out runs/fraud")
    plain = s.json("runs/fraud/metrics.json")["metrics"]["test"]
    balanced_out = s.run(
        "nncli train configs/transactions_csv.yaml --set training.class_weight=balanced"
        " --out runs/fraud-balanced"
    )
    balanced = s.json("runs/fraud-balanced/metrics.json")["metrics"]["test"]
    (tn, fp), (fn, tp) = plain["confusion_matrix"]
    supports = [c["support"] for c in s.json("runs/fraud/metrics.json")["metrics"]["train"]
                ["per_class"]]  # fmt: skip
    weight = supports[0] / supports[1]  # balanced: n / (2 n_c) per class
    majority = (tn + fp) / (tn + fp + fn + tp)
    check(plain["accuracy"] > 0.94 and plain["f1"] < 0.7, "lesson 6", f"{plain}")
    check(balanced["recall"] > plain["recall"] + 0.2, "lesson 6", "balanced recall")
    (_, bfp), (bfn, btp) = balanced["confusion_matrix"]
    text = f"""## Lesson 6: choosing the metric

### MSE against MAPE

MSE averages squared errors in the target's units: every row counts alike. MAPE averages each
row's error as a fraction of its target, which reads well ("off by 30%") when targets are all
far from zero, and breaks down near zero. The diabetes set's targets run from 25 to 346:

{diabetes}

MAPE is {d["mape"]:.4f} here: predictions are off by about {d["mape"]:.0%} of the target on
average. Yet the same error weighs very differently by row:

{s.figure("runs/diabetes/errors.png", "diabetes-errors.png", "Errors against target")}

On the right, each test row's percentage error against its target: an error of 40 is 160% of a
target of 25 and 12% of one of 340, so the quarter of rows with the smallest targets holds a
large share of the whole MAPE (the panel's title says how much). A model tuned for MAPE learns to
favour small targets; MSE does not care where zero is.

For `sine` (lesson 4) the targets cross zero, and a percentage of nearly nothing is meaningless:
nncli reports MAPE as `undefined` (`null` in JSON) rather than a number like 10¹⁴, and MSE
({sine["mse"]:.4f}) carries the comparison. Its errors figure shows why: the rows whose targets
are nearest zero have by far the largest percentage errors, whatever their error in y.

{s.figure("runs/sine/errors.png", "sine-errors.png", "Sine errors against target")}

### Accuracy against F1, on imbalanced classes

`data/transactions.csv` (made up) has one fraudulent transaction in 25:

{fraud}

Accuracy {plain["accuracy"]:.4f} looks excellent, but answering "no" every time would score
{majority:.4f} on this test split. F1 for the positive class (`data.positive_class: "yes"`) is
{plain["f1"]:.4f}: recall {plain["recall"]:.4f}, so the confusion matrix shows {fn} of the
{fn + tp} frauds missed. Weighting the classes (`training.class_weight: balanced`) makes a missed
fraud cost as much as {weight:.0f} false alarms (the ratio of the classes in the training split):

{balanced_out}

Recall rises to {balanced["recall"]:.4f} ({btp} of {bfn + btp} caught) at the cost of
{bfp} false alarms (precision {balanced["precision"]:.4f}); accuracy drops to
{balanced["accuracy"]:.4f} and F1 is {balanced["f1"]:.4f}. Which is better depends on what a
missed fraud and a false alarm cost; accuracy alone would have said the first model was nearly
perfect.

{guarded(6)}
"""
    headline = (
        f"diabetes test MAPE {d['mape']:.4f}, sine MAPE undefined (MSE {sine['mse']:.4f});"
        f" fraud: accuracy {plain['accuracy']:.4f} (always 'no': {majority:.4f}) with F1"
        f" {plain['f1']:.4f} and recall {plain['recall']:.4f}; balanced weights: recall"
        f" {balanced['recall']:.4f}, accuracy {balanced['accuracy']:.4f}"
    )
    return text, headline


def report_section(s: Session) -> str:
    shown = s.run("nncli report runs/xor --no-open")
    return f"""## Every run as one page

Every run, sweep and comparison folder above also holds `report.html`: the config, the setup
line, every metrics table, the confusion matrices and every figure, in one file that needs no
network and no JavaScript. `nncli report` prints where it is and opens it in your browser
(`--no-open` only prints; a folder from an older nncli gets its page written first):

{shown}
"""


INTRO = """# Seeing the ideas: six lessons with real numbers

nncli exists to make the basics of neural networks tangible. Each lesson below is a command you
can run, the output it prints, the figure it draws, and what to read in them. Every number and
figure on this page was produced by those commands, by `python docs/make_tutorial.py`
(regenerate it after changing nncli; the numbers may move in the last digits, the lessons may
not). A small version of each lesson runs in `tests/test_lessons.py`, so no change can quietly
break one.

Run the commands from the repository's root, with nncli on your path (`make demo` sets up
`.venv`, then `source .venv/bin/activate`).
Each writes its folder with `--out`; nncli never overwrites a folder, so to run a lesson again
remove `runs/` first. Training runs on the CPU with fixed seeds: on another machine the numbers
can differ in the last digits.
"""


def main() -> None:
    if FIGURES.exists():
        shutil.rmtree(FIGURES)
    FIGURES.mkdir(parents=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nncli-tutorial-") as scratch:
        work = Path(scratch)
        for name in ("configs", "data"):
            (work / name).symlink_to(ROOT / name)
        s = Session(work)
        # The lessons are independent (each its own run folders and figure names): they run
        # side by side, one per CPU, each command on one torch thread.
        lessons = (lesson1, lesson2, lesson3, lesson4, lesson5, lesson6)
        with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
            written = list(pool.map(lambda lesson: lesson(s), lessons))
        sections = [text for text, _ in written]
        headlines = [headline for _, headline in written]
        sections.append(report_section(s))  # of lesson 1's sweep
    lessons = [
        "the perceptron's limit",
        "vanishing gradients",
        "SGD's knobs",
        "universal approximation",
        "overfitting",
        "choosing the metric",
    ]
    closing = "\n".join(
        f"| {i}. {name} | {headline} |"
        for i, (name, headline) in enumerate(zip(lessons, headlines, strict=True), start=1)
    )
    page = "\n".join(
        [
            INTRO,
            *sections,
            "## The lessons in numbers\n",
            "| lesson | what the commands above measured |\n|---|---|",
            closing,
            "",
        ]
    )
    PAGE.write_text(page)
    print(f"wrote {PAGE} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
