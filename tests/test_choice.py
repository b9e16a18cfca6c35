"""Choosing a grid's best variant: on validation (training without it), never on test; never a
variant that diverged on a seed or does not beat the input-blind baseline by its margin."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nncli.errors import UsageError
from nncli.grid.summary import mean_std
from nncli.runs.listing import list_runs
from nncli.train.choice import LEARNED_MARGIN, beats, choose_best, headline_of, perfect


def record(val: float | None, test: float, *, baseline: float = 0.5, diverged=(), train=None):
    """A summary record of one variant over two seeds, scored on accuracy."""
    splits = {"train": train if train is not None else val, "val": val, "test": test}
    return {
        "values": {"training.lr": test},
        "seeds": [0, 1],
        "metrics": {s: {"accuracy": mean_std([v, v])} for s, v in splits.items() if v is not None},
        "baseline": {s: {"accuracy": baseline} for s in splits},
        "diverged_at": [{"seed": s, "epoch": 3, "step": 1} for s in diverged],
    }


def test_the_best_is_chosen_on_validation_even_where_test_says_otherwise():
    results = [record(0.90, 0.97), record(0.95, 0.91), record(0.80, 0.99)]
    choice = choose_best(results, "accuracy")
    assert choice["index"] == 1  # test would have chosen 2
    assert choice["split"] == "val" and choice["value"] == pytest.approx(0.95)
    assert choice["notes"] == [None, "best on val accuracy", None]


def test_a_variant_that_diverged_on_a_seed_is_never_best_and_says_so():
    results = [record(0.99, 0.99, diverged=[1]), record(0.90, 0.90)]
    choice = choose_best(results, "accuracy")
    assert choice["index"] == 1
    assert choice["notes"][0] == "not chosen: diverged on seed 1"


def test_a_variant_that_does_not_beat_the_baseline_is_never_best_and_names_both_numbers():
    results = [record(0.94, 0.94, baseline=0.94), record(0.93, 0.95, baseline=0.94)]
    choice = choose_best(results, "accuracy")
    assert choice["index"] is None
    assert choice["notes"][0] == (
        "not chosen: val accuracy 0.9400 does not beat the baseline 0.9400"
    )


def test_without_a_validation_split_training_chooses_and_lower_is_better_for_mse():
    results = [record(None, 0.1, train=0.3), record(None, 0.9, train=0.2)]
    for r in results:
        r["metrics"] = {s: {"mse": m["accuracy"]} for s, m in r["metrics"].items()}
        r["baseline"] = {s: {"mse": 1.0} for s in r["baseline"]}
    choice = choose_best(results, "mse")
    assert (choice["index"], choice["split"]) == (1, "train")


def test_headline_of_the_other_task_is_one_line_naming_the_key():
    assert headline_of(None, "classification") == "accuracy"
    assert headline_of("f1", "classification") == "f1"
    with pytest.raises(UsageError, match=r"^training.headline_metric: 'r2' is a regression"):
        headline_of("r2", "classification")


def test_runs_sort_ranks_a_sweep_by_its_own_best_on_that_metric(tmp_path):
    """A sweep whose accuracy-best variant has F1 0 ranks by the F1 of its F1-best variant."""
    runs = tmp_path / "runs"

    def write(name: str, results: list[dict], kind: str) -> None:
        folder = runs / name
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"kind": kind, "status": "finished"}))
        (folder / "config.yaml").write_text("data: {source: moons}\n")
        summary = {"task": "classification", "results": results}
        (folder / ("summary.json" if kind == "sweep" else "metrics.json")).write_text(
            json.dumps(
                summary if kind == "sweep" else {"task": "classification", "metrics": results[0]}
            )
        )

    def scored(accuracy: float, f1: float, test_f1: float) -> dict:
        r = record(accuracy, accuracy, baseline=0.0)
        for split in ("train", "val", "test"):
            r["metrics"][split]["f1"] = mean_std([f1 if split != "test" else test_f1] * 2)
            r["baseline"][split]["f1"] = 0.0
        return r

    # Its accuracy-best variant predicts one class (F1 0.0123); its F1-best scores 0.2558.
    write("sweep", [scored(0.94, 0.0123, 0.0123), scored(0.90, 0.2558, 0.25)], "sweep")
    write("single", [{"val": {"f1": 0.2}, "test": {"f1": 0.3}}], "train")
    by_f1 = list_runs(runs, sort="f1")
    assert [r["run"] for r in by_f1] == ["sweep", "single"]
    assert by_f1[0]["chosen_value"] == pytest.approx(0.2558)
    assert by_f1[0]["activation"] == "sweep, best on val f1: lr=0.9"
    assert by_f1[0]["metrics"]["f1"] == pytest.approx(0.25)  # test, shown beside
    by_default = {r["run"]: r for r in list_runs(runs)}  # the headline: accuracy
    assert by_default["sweep"]["activation"] == "sweep, best on val accuracy: lr=0.94"
    assert np.isclose(by_f1[1]["chosen_value"], 0.2)


def test_a_sweep_chooses_on_validation_everywhere_it_names_a_best(
    grid_config, tmp_path, monkeypatch
):
    """summary.json, the table, report.html and metric_by_value.png read the validation split."""
    from typer.testing import CliRunner

    from nncli.cli import app
    from nncli.report import gridplots

    drawn = {}
    monkeypatch.setattr(
        gridplots,
        "plot_by_value",
        lambda path, results, varied, **kw: drawn.setdefault(path.name, kw),
    )
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        app, ["sweep", str(grid_config), "--vary", "training.lr=0.001,0.3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    best = summary["best"]
    assert (best["split"], best["metric"]) == ("val", "accuracy")
    values = [r["metrics"]["val"]["accuracy"]["mean"] for r in summary["results"]]
    assert best["value"] == max(values)
    assert "baseline" in result.output and ": best on val accuracy" in result.output
    page = (out / "report.html").read_text()
    # One seed per variant: a value, not a mean over seeds.
    assert "best on val accuracy (test is never used to choose)" in page
    assert "mean over seeds" not in page
    assert "<td>baseline</td>" in page
    rows = (out / "summary.csv").read_text().splitlines()
    assert rows[0].split(",")[-1] == "chosen"
    assert sum(row.endswith(",best on val accuracy") for row in rows) == 1
    plot = drawn["metric_by_value.png"]
    assert plot["ylabel"] == "val accuracy" and plot["best"] is not None
    assert plot["baseline"] == summary["results"][0]["baseline"]["val"]["accuracy"]


def test_beating_the_baseline_takes_a_tenth_of_the_way_to_a_perfect_score():
    assert LEARNED_MARGIN == 0.1
    assert beats(0.56, 0.5, "accuracy") and not beats(0.54, 0.5, "accuracy")
    assert beats(0.90, 1.00, "mse") and not beats(0.91, 1.00, "mse")  # 10% below the mean's
    assert beats(0.11, 0.0, "r2") and not beats(0.09, 0.0, "r2")
    assert not beats(1.0, 1.0, "accuracy")  # nothing beats a perfect baseline
    results = [record(0.53, 0.9), record(0.70, 0.6)]
    choice = choose_best(results, "accuracy")
    assert choice["index"] == 1
    assert choice["notes"][0] == (
        "not chosen: val accuracy 0.5300 beats the baseline 0.5000 by less than 0.0500"
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_perfect_prediction_scores_what_the_margin_takes_as_perfect(task):
    from nncli.metrics import METRICS, classification_metrics, regression_metrics

    y = np.array([0, 1, 1, 0, 1, 1])
    if task == "classification":
        scores = classification_metrics(y, np.eye(2)[y], 2)
    else:
        scores = regression_metrics(y + 1.0, y + 1.0)  # positive targets: MAPE is defined
    for name, spec in METRICS.items():
        if spec.task == task:
            assert scores[name] == pytest.approx(perfect(name), abs=1e-9), name


@pytest.mark.parametrize(("metric", "one_class"), [("accuracy", True), ("r2", False)])
def test_the_did_not_learn_line_offers_one_class_only_where_there_are_classes(metric, one_class):
    from nncli.grid.summary import not_learned

    results = [{"seeds": [0, 1], "learned": 1, "baseline": {"val": {metric: 0.5}}}]
    line = not_learned(results, ["lr=1"], {"split": "val", "metric": metric})
    assert line.startswith(f"did not learn (val {metric} no better than the input-blind baseline")
    assert line.endswith("): lr=1 1/2 seeds")
    assert ("or one class only" in line) == one_class
