"""Real-shaped tables, end to end from the command line: a spreadsheet's CSV with a byte-order
mark and `;`, categories, booleans, blanks, an `NA` class and an imbalanced binary target go
through train, evaluate, predict, split and runs as they come."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from typer.testing import CliRunner

from nncli.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def penguins(n: int, seed: int) -> pd.DataFrame:
    """Species from bill length and island; sex and a lab flag are noise; 10% of the bill
    lengths and sexes are blank or NA."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], n)
    island = np.where(species == "Gentoo", "Biscoe", rng.choice(["Dream", "Torgersen"], n))
    bill = np.select([species == "Adelie", species == "Chinstrap"], [38.0, 48.0], 47.0)
    bill = np.round(bill + rng.normal(0, 1.5, n), 1).astype(object)
    bill[rng.random(n) < 0.1] = "NA"
    sex = rng.choice(["FEMALE", "MALE", ""], n, p=[0.45, 0.45, 0.1])
    lab = rng.choice(["True", "False"], n)
    return pd.DataFrame({"id": [f"p{i}" for i in range(n)], "island": island,
                         "bill_length_mm": bill, "sex": sex, "in_lab": lab,
                         "species": species})  # fmt: skip


def write_excel_csv(table: pd.DataFrame, path: Path) -> Path:
    """As a European spreadsheet saves "CSV UTF-8": a byte-order mark and `;` between fields."""
    path.write_bytes(b"\xef\xbb\xbf" + table.to_csv(index=False, sep=";").encode())
    return path


@pytest.fixture(scope="module")
def penguin_run(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("penguins")
    write_excel_csv(penguins(300, seed=0), folder / "penguins.csv")
    (folder / "penguins.yaml").write_text(
        "data:\n  source: penguins.csv\n  target: species\n  ignore_columns: [id]\n"
        "  missing: impute\n  unknown_categories: zeros\n"
        "training: {epochs: 40, lr: 0.1, momentum: 0.9}\n"
    )
    with pytest.MonkeyPatch.context() as patch:  # relative paths, as typed in that folder
        patch.chdir(folder)
        result = invoke("train", "penguins.yaml", "--out", "run")
    assert result.exit_code == 0, result.output
    return {"folder": folder, "run": folder / "run", "stdout": result.stdout}


def test_a_spreadsheet_csv_with_categories_and_blanks_trains_and_says_what_it_did(penguin_run):
    setup = penguin_run["stdout"]
    assert "4 feature columns → 8 inputs (one-hot: island 3, sex 2, in_lab 2)" in setup
    assert "note: penguins.csv: fields separated by ';'" in setup
    assert "note: data.missing: impute: " in setup and "'bill_length_mm', 'sex'" in setup
    metrics = json.loads((penguin_run["run"] / "metrics.json").read_text())["metrics"]
    assert metrics["test"]["accuracy"] > 0.9  # bill length and island tell the species apart
    for split in ("train", "val", "test"):
        result = invoke("evaluate", penguin_run["run"], "--split", split, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["metrics"] == metrics[split]


def test_the_saved_split_exports_the_rows_the_run_measured(penguin_run, tmp_path):
    run = penguin_run["run"]
    split = json.loads((run / "split.json").read_text())
    assert split["rows"] == "line" and split["source"].endswith("penguins.csv")
    assert sorted(split["train"] + split["val"] + split["test"]) == list(range(2, 302))
    result = invoke("split", run, "--out", tmp_path / "parts")
    assert result.exit_code == 0, result.output
    original = pd.read_csv(penguin_run["folder"] / "penguins.csv", sep=";", dtype=str,
                           keep_default_na=False, encoding="utf-8-sig")  # fmt: skip
    test = pd.read_csv(tmp_path / "parts/test.csv", dtype=str, keep_default_na=False)
    lines = np.array(split["test"])
    pd.testing.assert_frame_equal(test, original.iloc[lines - 2].reset_index(drop=True))
    # The exported rows measure exactly as the run's own test split.
    on_file = json.loads(invoke("evaluate", run, "--data", tmp_path / "parts/test.csv",
                                "--json").stdout)  # fmt: skip
    assert on_file["metrics"] == json.loads((run / "metrics.json").read_text())["metrics"]["test"]
    again = invoke("split", run, "--out", tmp_path / "parts")
    assert again.exit_code == 2 and "already exists; pass --force" in again.stderr
    assert invoke("split", run, "--out", tmp_path / "parts", "--force").exit_code == 0


def test_predict_takes_new_rows_with_blank_or_unseen_targets_and_copies_the_rest(
    penguin_run, tmp_path
):
    new = penguins(40, seed=7)
    new.loc[:9, "species"] = ""  # not known yet
    new.loc[10:14, "species"] = "Emperor"  # a label the model never saw: predict ignores it
    new.loc[15, "island"] = "Atlantis"  # unseen category: all zeros (unknown_categories)
    new.insert(2, "note", "field trip")
    data = write_excel_csv(new, tmp_path / "new.csv")
    out = tmp_path / "predicted.csv"
    result = invoke("predict", penguin_run["run"], "--data", data, "--out", out)
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(predicted.columns) == [
        "id", "note", "species", "prediction",
        "probability_Adelie", "probability_Chinstrap", "probability_Gentoo",
    ]  # fmt: skip
    assert predicted["species"].tolist() == new["species"].tolist()
    known = new["species"].isin(["Adelie", "Chinstrap", "Gentoo"])
    assert skm.accuracy_score(new["species"][known], predicted["prediction"][known]) > 0.85
    # evaluate refuses labels it cannot score, and drops (and counts) rows with none
    scored = new.drop(columns="note")
    evaluated = invoke("evaluate", penguin_run["run"], "--data",
                       write_excel_csv(scored, tmp_path / "scored.csv"))  # fmt: skip
    assert evaluated.exit_code == 2 and "never saw: 'Emperor'" in evaluated.stderr
    labelled = write_excel_csv(scored[new["species"] != "Emperor"], tmp_path / "labelled.csv")
    evaluated = invoke("evaluate", penguin_run["run"], "--data", labelled)
    assert evaluated.exit_code == 0, evaluated.output
    assert "note: dropped 10 row(s) with no 'species' value" in evaluated.stderr
    assert "25 rows" in evaluated.stdout


def test_an_na_class_and_an_imbalanced_binary_target_from_the_command_line(tmp_path):
    rng = np.random.default_rng(3)
    n = 400
    amount = rng.exponential(100, n)
    fraud = ((amount > 250) & (rng.random(n) < 0.8)).astype(int)  # about 6% positives
    answer = np.where(amount > 150, "NA", np.where(amount > 60, "yes", "no"))  # NA: a class
    table = pd.DataFrame({"amount": amount.round(2), "online": rng.choice(["True", "False"], n),
                          "answer": answer, "fraud": fraud})  # fmt: skip
    table.loc[rng.random(n) < 0.05, "fraud"] = None  # blank targets: dropped, counted
    table.to_csv(tmp_path / "claims.csv", index=False)
    (tmp_path / "fraud.yaml").write_text(
        "data: {source: claims.csv, target: fraud, ignore_columns: [answer]}\n"
        "training: {epochs: 30, lr: 0.1}\n"
    )
    result = invoke("train", tmp_path / "fraud.yaml", "--out", tmp_path / "fraud")
    assert result.exit_code == 0, result.output
    assert "target 'fraud': 2 distinct integers, taken as classes" in result.stdout
    assert "set data.task: regression" in result.stdout
    assert "row(s) with no 'fraud' value" in result.stdout
    (tmp_path / "answer.yaml").write_text(
        "data: {source: claims.csv, target: answer, ignore_columns: [fraud]}\n"
        "training: {epochs: 30, lr: 0.1}\n"
    )
    result = invoke("train", tmp_path / "answer.yaml", "--out", tmp_path / "answer", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["classes"] == ["NA", "no", "yes"]
    listing = json.loads(invoke("runs", tmp_path, "--json").stdout)
    assert sorted(r["run"] for r in listing) == ["answer", "fraud"]
