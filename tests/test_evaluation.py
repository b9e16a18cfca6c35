"""evaluate, predict and runs: saved models re-measured, used on new files, and listed."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from typer.testing import CliRunner

from nncli.app.commands import run_train
from nncli.cli import app
from nncli.runs.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
IRIS = ROOT / "data/iris.csv"
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("iris") / "run"
    return run_train(ROOT / "configs/iris_csv.yaml", ["training.epochs=20"], out=out).to_json()


@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("diabetes")
    config = folder / "diabetes.yaml"
    config.write_text(
        f"data:\n  source: {ROOT / 'data/diabetes.csv'}\n  target: progression\n"
        "training:\n  epochs: 20\n  lr: 0.05\n"
    )
    return run_train(config, [], out=folder / "run").to_json()


@pytest.mark.parametrize("run_fixture", ["iris_run", "diabetes_run"])
def test_evaluate_reproduces_the_numbers_train_reported(run_fixture, request):
    summary = request.getfixturevalue(run_fixture)
    for split in ("train", "val", "test"):
        result = invoke("evaluate", summary["run_dir"], "--split", split, "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["metrics"] == summary["metrics"][split]
    everything = json.loads(
        invoke("evaluate", summary["run_dir"], "--split", "all", "--json").stdout
    )
    assert everything["metrics"] == summary["metrics"]
    assert everything["n_samples"] == (150 if run_fixture == "iris_run" else 442)


def test_evaluate_takes_a_checkpoint_file_and_defaults_to_test(iris_run):
    result = invoke("evaluate", Path(iris_run["run_dir"]) / "model.safetensors", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["metrics"] == iris_run["metrics"]["test"] and report["n_samples"] == sum(
        map(sum, report["metrics"]["confusion_matrix"])
    )


def test_evaluate_table_output(iris_run):
    result = invoke("evaluate", iris_run["run_dir"], "--split", "all")
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "Confusion (val)" in result.stdout
    assert "setosa" in result.stdout


def test_evaluate_on_a_csv_matches_columns_by_name(iris_run, tmp_path):
    table = pd.read_csv(IRIS)
    shuffled = table[list(reversed(table.columns))]  # same columns, other order
    path = tmp_path / "flowers.csv"
    shuffled.to_csv(path, index=False)
    result = invoke("evaluate", iris_run["run_dir"], "--data", path, "--json")
    assert result.exit_code == 0, result.output
    on_file = json.loads(result.stdout)
    assert on_file["n_samples"] == 150
    # The whole file is the union of the three splits, so accuracies must combine exactly.
    counts = {s: sum(map(sum, m["confusion_matrix"])) for s, m in iris_run["metrics"].items()}
    correct = sum(iris_run["metrics"][s]["accuracy"] * counts[s] for s in counts)
    assert on_file["metrics"]["accuracy"] == pytest.approx(correct / 150)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.drop(columns=["petal_width_cm"]),
            "missing feature column(s): 'petal_width_cm'",
        ),
        (lambda t: t.assign(colour="red"), "unexpected column(s): 'colour'"),
        (lambda t: t.drop(columns=["species"]), "missing target column 'species'"),
        (
            lambda t: t.assign(species=t["species"].replace("setosa", "rosa")),
            "class label(s) the model never saw: 'rosa'",
        ),
        (
            lambda t: t.assign(
                sepal_length_cm=t["sepal_length_cm"].astype(str).replace("5.1", "x")
            ),
            "line 2, column 'sepal_length_cm': not a finite number: 'x'",
        ),
    ],
)
def test_evaluate_refuses_mismatched_files_naming_the_columns(iris_run, tmp_path, edit, message):
    path = tmp_path / "bad.csv"
    edit(pd.read_csv(IRIS)).to_csv(path, index=False)
    result = invoke("evaluate", iris_run["run_dir"], "--data", path)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and str(path) in result.stderr


def test_numeric_class_labels_in_a_file_match_by_value(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    written = np.array(["0", "1", "2.5"])[np.arange(60) % 3]
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": written}).to_csv(tmp_path / "d.csv", index=False)
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {source: d.csv, target: y, task: classification}\ntraining: {epochs: 2}\n"
    )
    run_dir = run_train(config, [], out=tmp_path / "run").to_json()["run_dir"]
    assert load_checkpoint(Path(run_dir) / "model.safetensors")[1].classes == [0, 1, 2.5]
    same = np.array(["0.0", "1.000", "2.50"])[np.arange(60) % 3]  # other spellings, same values
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": same}).to_csv(tmp_path / "e.csv", index=False)
    results = [
        invoke("evaluate", run_dir, "--data", tmp_path / f, "--json") for f in ("d.csv", "e.csv")
    ]
    assert all(r.exit_code == 0 for r in results), [r.output for r in results]
    assert json.loads(results[0].stdout) == json.loads(results[1].stdout)
    (tmp_path / "f.csv").write_text("a,b,y\n0.1,0.2,3\n")
    unseen = invoke("evaluate", run_dir, "--data", tmp_path / "f.csv")
    assert unseen.exit_code == 2 and "never saw: '3'; it knows: 0, 1, 2.5" in unseen.stderr


def test_predict_writes_labels_and_probabilities_that_evaluate_agrees_with(iris_run, tmp_path):
    table = pd.read_csv(IRIS)
    table.insert(0, "flower_id", [f"f{i}" for i in range(len(table))])
    data = tmp_path / "flowers.csv"
    table.to_csv(data, index=False)
    out = tmp_path / "predictions.csv"
    args = (
        "predict",
        iris_run["run_dir"],
        "--data",
        data,
        "--out",
        out,
        "--id-column",
        "flower_id",
    )
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out)
    assert len(predictions) == 150
    assert list(predictions.columns) == [
        "flower_id",
        "species",  # not a feature: copied through
        "prediction",
        "probability_setosa",
        "probability_versicolor",
        "probability_virginica",
    ]
    assert predictions["flower_id"].tolist() == table["flower_id"].tolist()
    probabilities = predictions.filter(like="probability_").to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)

    # Metrics recomputed by scikit-learn from predict's file equal evaluate's on the same file.
    evaluated = json.loads(
        invoke("evaluate", iris_run["run_dir"], "--data", IRIS, "--json").stdout
    )["metrics"]
    truth, guess = table["species"], predictions["prediction"]
    assert skm.accuracy_score(truth, guess) == evaluated["accuracy"]
    assert skm.f1_score(truth, guess, average="macro") == pytest.approx(evaluated["f1"], abs=1e-12)
    labels = ["setosa", "versicolor", "virginica"]
    assert (
        skm.confusion_matrix(truth, guess, labels=labels).tolist() == evaluated["confusion_matrix"]
    )

    again = invoke(*args)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert invoke(*args, "--force").exit_code == 0


def test_predict_regression_without_target_column_to_stdout(diabetes_run, tmp_path):
    table = pd.read_csv(ROOT / "data/diabetes.csv")
    data = tmp_path / "new_patients.csv"
    table.drop(columns=["progression"]).head(10).to_csv(data, index=False)
    result = invoke("predict", diabetes_run["run_dir"], "--data", data)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "prediction" and len(lines) == 11

    full = tmp_path / "all.csv"
    out = tmp_path / "pred.csv"
    table.to_csv(full, index=False)
    assert invoke("predict", diabetes_run["run_dir"], "--data", full, "--out", out).exit_code == 0
    predicted = pd.read_csv(out)["prediction"].to_numpy()
    evaluated = json.loads(
        invoke("evaluate", diabetes_run["run_dir"], "--data", full, "--json").stdout
    )["metrics"]
    truth = table["progression"].to_numpy()
    # The CSV holds 8 significant digits, so compare at that precision.
    assert skm.mean_squared_error(truth, predicted) == pytest.approx(evaluated["mse"], rel=1e-6)
    assert skm.r2_score(truth, predicted) == pytest.approx(evaluated["r2"], rel=1e-6)
    assert skm.mean_absolute_percentage_error(truth, predicted) == pytest.approx(
        evaluated["mape"], rel=1e-6
    )


def test_checkpoint_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "model.safetensors"
    evil.write_bytes(pickle.dumps(Exploit()))
    for target in (evil, tmp_path):
        result = invoke("evaluate", target)
        assert result.exit_code == 2, result.output
        assert "not a readable nncli checkpoint" in result.stderr
    assert not marker.exists()


def test_evaluate_a_folder_without_a_model(tmp_path):
    result = invoke("evaluate", tmp_path)
    assert result.exit_code == 2 and "no model.safetensors" in result.stderr


def test_evaluate_refuses_a_split_whose_data_changed(tmp_path):
    data = tmp_path / "iris.csv"
    data.write_bytes(IRIS.read_bytes())
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  source: iris.csv\n  target: species\ntraining:\n  epochs: 2\n")
    summary = run_train(config, [], out=tmp_path / "run").to_json()
    data.write_text(data.read_text().replace("5.1,3.5", "5.2,3.5", 1))
    result = invoke("evaluate", summary["run_dir"])
    assert result.exit_code == 2 and "changed after this run trained on it" in result.stderr
    assert invoke("evaluate", summary["run_dir"], "--data", data).exit_code == 0


def test_evaluate_when_the_training_csv_has_moved(tmp_path):
    data = tmp_path / "iris.csv"
    data.write_bytes(IRIS.read_bytes())
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  source: iris.csv\n  target: species\ntraining:\n  epochs: 2\n")
    summary = run_train(config, [], out=tmp_path / "run").to_json()
    data.unlink()
    result = invoke("evaluate", summary["run_dir"])
    assert result.exit_code == 2
    assert (
        "cannot rebuild the run's data" in result.stderr and "data file not found" in result.stderr
    )
    assert invoke("evaluate", summary["run_dir"], "--data", IRIS).exit_code == 0


def test_runs_lists_sorts_and_prints_json(tmp_path, write_config):
    base = tmp_path / "runs"
    for activation in ("identity", "tanh"):
        config = write_config(
            {
                "name": activation,
                "data": {"source": "xor", "n_samples": 200},
                "model": {"activation": activation, "width": 8},
                "training": {"epochs": 30, "lr": 0.2, "momentum": 0.9},
                "output": {"dir": str(base)},
            }
        )
        run_train(config, [])
    (base / "not-a-run").mkdir()
    result = invoke("runs", base, "--sort", "accuracy", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["activation"] for r in records] == ["tanh", "identity"]  # a line can't fit XOR
    assert records[0]["metrics"]["accuracy"] >= records[1]["metrics"]["accuracy"]
    assert all(r["status"] == "finished" and r["epochs_run"] == 30 for r in records)
    table = invoke("runs", base)
    assert table.exit_code == 0 and "test accuracy" in table.stdout
    bad = invoke("runs", base, "--sort", "speed")
    assert bad.exit_code == 2 and "known: 'accuracy'" in bad.stderr
    assert invoke("runs", tmp_path / "nowhere").exit_code == 2


def test_runs_lists_comparisons_and_sweeps_by_their_best_variant(tmp_path, write_config):
    from nncli.app.commands import run_compare, run_sweep

    config = write_config(
        {
            "data": {"source": "moons", "n_samples": 100},
            "training": {"epochs": 2},
            "output": {"dir": str(tmp_path / "runs")},
        }
    )
    result = run_compare(config, [], activations=["tanh", "relu"], n_seeds=1).to_json()
    run_sweep(config, [], vary=["training.lr=0.01,0.5"])
    records = json.loads(invoke("runs", tmp_path / "runs", "--json").stdout)
    by_kind = {r["kind"]: r for r in records}  # both may be created within one second
    sweep, comparison = by_kind["sweep"], by_kind["compare"]
    # No single model: each shows its best variant by mean validation accuracy (never test), and
    # that variant's means.
    best = max(result["results"], key=lambda r: r["metrics"]["val"]["accuracy"]["mean"])
    assert best["metrics"]["val"]["accuracy"]["mean"] > best["baseline"]["val"]["accuracy"]
    assert comparison["kind"] == "compare"
    assert comparison["activation"] == f"compare, best on val accuracy: {best['activation']}"
    assert comparison["metrics"]["accuracy"] == best["metrics"]["test"]["accuracy"]["mean"]
    assert comparison["status"] == "finished" and comparison["task"] == "classification"
    assert sweep["kind"] == "sweep" and sweep["activation"] == "sweep, best on val accuracy: lr=0.5"


def test_runs_skips_malformed_folders_instead_of_failing(tmp_path, tiny_moons):
    base = tmp_path / "runs"
    run_train(tiny_moons, [], out=base / "good")
    for name, files in {
        "list-status": {"run.json": "[1, 2]"},
        "bad-yaml": {"run.json": "{}", "config.yaml": "a: [1,"},
        "list-config": {"run.json": '{"created": 5}', "config.yaml": "- x"},
        "list-metrics": {"run.json": "{}", "metrics.json": "[3]"},
    }.items():
        (base / name).mkdir()
        for file, text in files.items():
            (base / name / file).write_text(text)
    result = invoke("runs", base, "--json", "--sort", "accuracy")
    assert result.exit_code == 0, result.output
    assert [r["run"] for r in json.loads(result.stdout)] == ["good"]


def test_ignored_columns_are_not_features_and_pass_through_predict(tmp_path):
    table = pd.read_csv(IRIS)
    table.insert(0, "flower_id", [f"f{i}" for i in range(len(table))])
    data = tmp_path / "flowers.csv"
    table.to_csv(data, index=False)
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {source: flowers.csv, target: species, ignore_columns: [flower_id]}\n"
        "training: {epochs: 5}\n"
    )
    summary = run_train(config, [], out=tmp_path / "run").to_json()
    out = tmp_path / "p.csv"
    args = ("predict", summary["run_dir"], "--data", data, "--out", out, "--id-column", "flower_id")
    assert invoke(*args).exit_code == 0
    assert pd.read_csv(out)["flower_id"].tolist() == table["flower_id"].tolist()
    assert invoke("evaluate", summary["run_dir"], "--data", data).exit_code == 0
    card = load_checkpoint(Path(summary["run_dir"]) / "model.safetensors")[1]
    assert "flower_id" not in card.feature_names
    assert card.feature_names == [c for c in table.columns if c not in ("flower_id", "species")]
    wrong = invoke("train", config, "-s", "data.ignore_columns=[nope]", "--out", tmp_path / "x")
    assert wrong.exit_code == 2
    assert "data.ignore_columns: no column 'nope' in the file; it has: 'flower_id'" in wrong.stderr
    moons = invoke("train", config, "-s", "data.source=moons", "-s", "data.target=null")
    assert moons.exit_code == 2 and "data.ignore_columns: applies to CSV files only" in moons.stderr


@pytest.mark.parametrize("name", ["prediction", "probability_setosa"])
def test_an_id_column_named_like_a_predict_column_is_refused_not_dropped(iris_run, tmp_path, name):
    table = pd.read_csv(IRIS)
    table.insert(0, name, [f"id{i}" for i in range(len(table))])
    data = tmp_path / "ids.csv"
    table.to_csv(data, index=False)
    out = tmp_path / "p.csv"
    result = invoke("predict", iris_run["run_dir"], "--data", data, "--id-column", name, "-o", out)
    assert result.exit_code == 2
    assert f"--id-column '{name}': predict writes a column of that name" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not out.exists()


def test_a_copied_column_named_like_a_predict_column_is_refused_not_dropped(iris_run, tmp_path):
    table = pd.read_csv(IRIS).assign(probability_virginica="mine")
    table.to_csv(tmp_path / "d.csv", index=False)
    result = invoke("predict", iris_run["run_dir"], "--data", tmp_path / "d.csv")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"error: {tmp_path / 'd.csv'}: column 'probability_virginica': predict writes a column"
        " of that name itself; rename that column in the file\n"
    )


def with_card(checkpoint: Path, out: Path, edit) -> Path:
    """A copy of a checkpoint whose model card `edit(card)` changed."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(checkpoint), "pt") as handle:
        metadata = dict(handle.metadata())
    card = json.loads(metadata["nncli"])
    edit(card)
    save_file(load_file(checkpoint), out, metadata={**metadata, "nncli": json.dumps(card)})
    return out


@pytest.mark.parametrize(
    ("secret", "target"),
    [
        ("root:SECRET-HASH:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n", "species"),
        ("a,b\n1,2\n3,SECRET-HASH\n", "a"),
        ("a,SECRET-HASH\n1,2\n", "b"),
    ],
)
def test_evaluate_never_echoes_a_file_only_the_checkpoint_names(iris_run, tmp_path, secret, target):
    """A foreign checkpoint whose config points data.source at /etc/shadow must not print it."""
    shadow = tmp_path / "shadow"
    shadow.write_text(secret)

    def point_at_the_secret(card: dict) -> None:
        card["config"]["data"].update(source=str(shadow), target=target)

    checkpoint = Path(iris_run["run_dir"]) / "model.safetensors"
    foreign = with_card(checkpoint, tmp_path / "foreign.safetensors", point_at_the_secret)
    result = invoke("evaluate", foreign)
    assert result.exit_code == 2, result.output
    assert "cannot rebuild the run's data" in result.stderr and "<hidden>" in result.stderr
    assert "SECRET" not in result.output and "19000" not in result.output


def test_json_output_is_strict_json_even_from_a_folder_holding_nan(tmp_path, tiny_moons):
    """Python's json writes NaN and Infinity, which no strict JSON reader accepts."""
    base = tmp_path / "runs"
    summary = run_train(tiny_moons, [], out=base / "run").to_json()
    metrics = Path(summary["run_dir"]) / "metrics.json"
    saved = json.loads(metrics.read_text())
    saved["metrics"]["test"]["accuracy"] = float("nan")
    saved["metrics"]["test"]["f1"] = float("inf")
    metrics.write_text(json.dumps(saved))  # as a foreign or older tool might write it
    result = invoke("runs", base, "--json")
    assert result.exit_code == 0, result.output

    def reject(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    records = json.loads(result.stdout, parse_constant=reject)
    assert records[0]["metrics"]["accuracy"] is None and records[0]["metrics"]["f1"] is None


def test_a_built_in_sets_split_exports_its_values_and_measures_the_same(tiny_moons, tmp_path):
    run = run_train(tiny_moons, [], out=tmp_path / "run").to_json()
    result = invoke("split", run["run_dir"], "--out", tmp_path / "parts")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"wrote 140 rows to {tmp_path / 'parts/train.csv'}"
    test = pd.read_csv(tmp_path / "parts/test.csv")
    assert list(test.columns) == ["x1", "x2", "y"] and len(test) == 30
    measured = json.loads(
        invoke("evaluate", run["run_dir"], "--data", tmp_path / "parts/test.csv", "--json").stdout
    )
    assert measured["metrics"] == run["metrics"]["test"]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_split_writes_its_three_files_or_none(tiny_moons, tmp_path, monkeypatch, n):
    """The n-th of train.csv, val.csv and test.csv meets a full disk: a new folder is not left
    behind, and a set being overwritten (--force) keeps every old file, never a mix."""
    import errno

    run = run_train(tiny_moons, [], out=tmp_path / "run").to_json()["run_dir"]
    old = tmp_path / "old"
    assert invoke("split", run, "--out", old).exit_code == 0
    for path in old.iterdir():
        path.write_text(f"the user's {path.name}\n")
    fsync, calls = os.fsync, [0]

    def full_disk(fd: int) -> None:  # the n-th file written (each is fsynced once) fails
        calls[0] += 1
        if calls[0] == n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    new = tmp_path / "new"
    for out, force in ((new, []), (old, ["--force"])):
        calls[0] = 0
        result = invoke("split", run, "--out", out, *force)
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and "No space left on device" in result.stderr
    assert not new.exists()
    assert {p.name: p.read_text() for p in old.iterdir()} == {
        name: f"the user's {name}\n" for name in ("train.csv", "val.csv", "test.csv")
    }


def test_a_tilde_in_data_is_the_home_folder(iris_run, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "flowers.csv").write_bytes(IRIS.read_bytes())
    for command in ("evaluate", "predict"):
        result = invoke(command, iris_run["run_dir"], "--data", "~/flowers.csv")
        assert result.exit_code == 0, result.output


def test_predicted_probabilities_sum_to_one_and_scikit_learn_takes_them_without_warning(
    iris_run, tmp_path
):
    import warnings

    out = tmp_path / "p.csv"
    result = invoke("predict", iris_run["run_dir"], "--data", IRIS, "--out", out)
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out, dtype={"species": str})
    probabilities = predictions.filter(like="probability_").to_numpy()  # (N, C)
    assert probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log_loss warns on rows that do not sum to 1
        loss = skm.log_loss(predictions["species"], probabilities,
                            labels=["setosa", "versicolor", "virginica"])  # fmt: skip
    evaluated = json.loads(invoke("evaluate", iris_run["run_dir"], "--data", IRIS, "--json").stdout)
    assert loss == pytest.approx(evaluated["metrics"]["log_loss"], rel=1e-9)


def _terminal_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_evaluate_names_the_signal(tiny_moons, tmp_path):
    """Ctrl-C as the built-in data set is rebuilt (tests/stop_at.py), not a sleep: the message
    said `interrupted ()`, a KeyboardInterrupt carrying no text."""
    run_train(tiny_moons, [], out=tmp_path / "run")
    stop_at = [sys.executable, str(ROOT / "tests/stop_at.py"), "loading", "INT", "--"]
    # As a terminal starts it: SIGINT neither blocked nor ignored, whatever an earlier test in
    # this worker process left in the state a child inherits.
    inherited = (signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, []))
    process = subprocess.run([*stop_at, "evaluate", tmp_path / "run"], capture_output=True,
                             text=True, timeout=120, preexec_fn=_terminal_signals)  # fmt: skip
    assert process.returncode == 130, (process.stderr, inherited)
    assert process.stderr == "interrupted (SIGINT); nothing more was saved\n"


def test_weights_that_fit_nothing_are_one_line_however_many_torch_names(iris_run, tmp_path):
    """torch's load_state_dict message gives missing, unexpected and mis-sized tensors a line
    each: it becomes one `error:` line."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    saved = Path(iris_run["run_dir"]) / "model.safetensors"
    with safe_open(saved, "pt") as f:
        metadata = f.metadata()
    tensors = load_file(saved)
    del tensors["2.bias"]
    tensors["9.weight"] = tensors["0.bias"].clone()
    tensors["0.weight"] = tensors["0.weight"][:, :1].clone()
    save_file(tensors, tmp_path / "odd.safetensors", metadata=metadata)
    result = invoke("evaluate", tmp_path / "odd.safetensors")
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path / 'odd.safetensors'}: weights do not fit")
    assert all(key in line for key in ("Missing", "Unexpected", "size mismatch"))
