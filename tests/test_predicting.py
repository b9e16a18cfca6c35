"""predict and evaluate as a practitioner uses them: every bad row of a file at once, bad rows
skipped, a split of the run's own data, the features kept, a binary threshold, and one model of
a sweep folder chosen by --variant/--seed or as the best on validation."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from typer.testing import CliRunner

from nncli.app.choose import GridVariant, best_variant
from nncli.app.commands import run_compare, run_sweep, run_train
from nncli.cli import app
from nncli.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def pets_table(n: int, seed: int) -> pd.DataFrame:
    """A binary table shaped like a real one: an id, a number, a category and a label."""
    rng = np.random.default_rng(seed)
    weight = rng.normal(10, 3, n).round(2)
    color = rng.choice(["red", "blue", "green"], n)
    score = (weight - 10) / 3 + (color == "red") * 1.5 + rng.normal(0, 0.5, n)
    adopted = np.where(score > 0.3, "yes", "no")
    ids = [f"p{i}" for i in range(n)]
    return pd.DataFrame({"pet_id": ids, "weight": weight, "color": color, "adopted": adopted})


@pytest.fixture(scope="module")
def pets_run(tmp_path_factory) -> Path:
    """A binary model trained with data.missing: drop, so it fills in no missing cell."""
    folder = tmp_path_factory.mktemp("pets")
    pets_table(300, 0).to_csv(folder / "pets.csv", index=False)
    config = folder / "pets.yaml"
    config.write_text(
        f"data: {{source: {folder / 'pets.csv'}, target: adopted, positive_class: 'yes',"
        " ignore_columns: [pet_id], missing: drop}\ntraining: {epochs: 15, lr: 0.1}\n"
    )
    return Path(run_train(config, [], out=folder / "run").to_json()["run_dir"])


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_every_bad_row_is_reported_by_column_and_skipped_on_request(pets_run, tmp_path):
    table = pets_table(12, 1).astype(str)
    table.loc[[1, 4, 7], "weight"] = ["", "NA", ""]  # 3 missing
    table.loc[2, "weight"] = "abc"  # not a number
    table.loc[[3, 7, 9], "color"] = ["purple", "pink", "purple"]  # unseen; row 7 has both
    data = tmp_path / "new.csv"
    table.to_csv(data, index=False)
    bad = [1, 2, 3, 4, 7, 9]

    error = one_line_error(invoke("predict", pets_run, "--data", data))
    assert "6 of 12 row(s) cannot be predicted" in error
    assert "column 'weight': missing value (3 row(s), first on line 3)" in error
    assert "column 'weight': not a finite number: 'abc' (1 row(s), first on line 4)" in error
    assert "column 'color': category 'pink', 'purple' are not in the training split" in error
    assert "(3 row(s), first on line 5)" in error and "--skip-bad-rows" in error

    out = tmp_path / "predictions.csv"
    result = invoke("predict", pets_run, "--data", data, "--skip-bad-rows", "--out", out)
    assert result.exit_code == 0, result.output
    assert "skipped 6 of 12 row(s)" in result.stderr
    written = pd.read_csv(out, keep_default_na=False)
    assert list(written.columns) == ["pet_id", "adopted", "prediction", "probability_no",
                                     "probability_yes", "reason"]  # fmt: skip
    assert [i for i, reason in enumerate(written["reason"]) if reason] == bad
    assert written.loc[7, "reason"] == (
        "weight: missing value; color: category 'pink' is not in the training split"
    )
    assert (written.loc[bad, ["prediction", "probability_yes"]] == "").all().all()
    # The good rows' predictions are those of a file holding only them.
    good = tmp_path / "good.csv"
    table.drop(index=bad).to_csv(good, index=False)
    alone = pd.read_csv(pd.io.common.StringIO(invoke("predict", pets_run, "--data", good).stdout))
    kept = written.drop(index=bad).reset_index(drop=True)
    assert kept["prediction"].tolist() == alone["prediction"].tolist()
    np.testing.assert_array_equal(kept["probability_yes"].astype(float), alone["probability_yes"])


def test_predict_split_is_the_split_evaluate_measures(pets_run, tiny_moons, tmp_path):
    result = invoke("predict", pets_run, "--split", "test")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(pd.io.common.StringIO(result.stdout))
    split = json.loads((pets_run / "split.json").read_text())
    assert written.columns[0] == "line" and written["line"].tolist() == split["test"]
    evaluated = json.loads(invoke("evaluate", pets_run, "--json").stdout)["metrics"]
    truth, guess = written["adopted"], written["prediction"]
    assert skm.accuracy_score(truth, guess) == evaluated["accuracy"]
    assert skm.f1_score(truth, guess, pos_label="yes") == pytest.approx(evaluated["f1"])

    moons = Path(run_train(tiny_moons, [], out=tmp_path / "moons").to_json()["run_dir"])
    built_in = invoke("predict", moons, "--split", "val", "--keep-features")
    assert built_in.exit_code == 0, built_in.output
    rows = pd.read_csv(pd.io.common.StringIO(built_in.stdout))
    val = json.loads((moons / "split.json").read_text())["val"]
    assert rows.columns[0] == "row" and rows["row"].tolist() == val
    evaluated = json.loads(invoke("evaluate", moons, "--split", "val", "--json").stdout)
    assert skm.accuracy_score(rows["y"], rows["prediction"]) == evaluated["metrics"]["accuracy"]

    assert "pass either --data FILE or --split" in one_line_error(invoke("predict", moons))
    assert "one split" in one_line_error(invoke("predict", moons, "--split", "all"))


def test_keep_features_keeps_every_column_in_file_order(pets_run, tmp_path):
    data = tmp_path / "rows.csv"
    pets_table(5, 2).to_csv(data, index=False)
    default = pd.read_csv(pd.io.common.StringIO(invoke("predict", pets_run, "--data", data).stdout))
    assert list(default.columns)[:2] == ["pet_id", "adopted"]  # the features are left out
    kept = invoke("predict", pets_run, "--data", data, "--keep-features")
    table = pd.read_csv(pd.io.common.StringIO(kept.stdout))
    assert list(table.columns)[:4] == ["pet_id", "weight", "color", "adopted"]
    assert table["weight"].tolist() == pets_table(5, 2)["weight"].tolist()
    assert table["prediction"].tolist() == default["prediction"].tolist()


def test_a_threshold_decides_the_positive_class_in_predict_and_evaluate(pets_run, tmp_path):
    result = invoke("predict", pets_run, "--split", "test", "--threshold", "0.7")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert (written["threshold"] == 0.7).all()
    expected = np.where(written["probability_yes"] >= 0.7, "yes", "no")
    assert written["prediction"].tolist() == expected.tolist()
    evaluated = json.loads(invoke("evaluate", pets_run, "--threshold", "0.7", "--json").stdout)
    assert evaluated["threshold"] == 0.7
    shown = runner.invoke(app, ["evaluate", str(pets_run), "--threshold", "0.7"],
                          env={"COLUMNS": "400"})  # fmt: skip
    assert "labels at threshold 0.7" in shown.stdout
    truth = written["adopted"]
    assert skm.accuracy_score(truth, expected) == evaluated["metrics"]["accuracy"]
    assert skm.recall_score(truth, expected, pos_label="yes") == pytest.approx(
        evaluated["metrics"]["recall"]
    )
    labels = ["no", "yes"]
    assert (
        skm.confusion_matrix(truth, expected, labels=labels).tolist()
        == (evaluated["metrics"]["confusion_matrix"])
    )
    # 0.5 labels as the likelier class does, but for an exact tie.
    plain = json.loads(invoke("evaluate", pets_run, "--json").stdout)
    assert "threshold" not in plain  # evaluate's JSON is unchanged without one
    plain = plain["metrics"]
    half = json.loads(invoke("evaluate", pets_run, "--threshold", "0.5", "--json").stdout)
    assert half["metrics"]["accuracy"] == plain["accuracy"]

    assert "must be a probability" in one_line_error(
        invoke("evaluate", pets_run, "--threshold", "1.5")
    )
    iris = Path(
        run_train(
            ROOT / "configs/iris_csv.yaml", ["training.epochs=2"], out=tmp_path / "iris"
        ).to_json()["run_dir"]
    )
    error = one_line_error(invoke("predict", iris, "--split", "test", "--threshold", "0.5"))
    assert "applies to a binary classifier; this one has 3 classes" in error


@pytest.fixture(scope="module")
def sweep_folder(module_grid_config, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    vary = ["training.lr=0.3,0.05", "model.width=[4,4],8"]
    return Path(
        run_sweep(module_grid_config, [], vary=vary, n_seeds=2, out=out).to_json()["out_dir"]
    )


def test_a_sweep_folder_evaluates_its_best_variant_or_the_one_named(sweep_folder):
    files = sorted(p.name for p in (sweep_folder / "models").iterdir())
    assert len(files) == 8
    assert all(re.fullmatch(r"[A-Za-z0-9._,=-]+", name) for name in files)  # no quoting
    assert "lr=0.3_width=4,4-seed4.safetensors" in files  # the grid config's seeds: 4, 5

    # The best: the variant the sweep chose on validation (its headline metric), recomputed
    # here from summary.json's mean val accuracy over the variants that never diverged.
    results = json.loads((sweep_folder / "summary.json").read_text())["results"]
    best = max((r for r in results if r["diverged"] == 0),
               key=lambda r: r["metrics"]["val"]["accuracy"]["mean"])  # fmt: skip
    assert best["chosen"].startswith("best on val accuracy")
    width = best["values"]["model.width"]
    label = f"lr={best['values']['training.lr']}_width={width if isinstance(width, int) else '4,4'}"
    result = invoke("evaluate", sweep_folder, "--json")
    assert result.exit_code == 0, result.output
    chosen = json.loads(result.stdout)
    assert chosen["notes"][0].startswith(f"model {label} seed {best['seeds'][0]} (the variant")
    assert "the grid chose: best on val accuracy" in chosen["notes"][0]
    direct = invoke("evaluate", sweep_folder / "models" / f"{label}-seed4.safetensors", "--json")
    assert chosen["metrics"] == json.loads(direct.stdout)["metrics"]

    named = invoke("evaluate", sweep_folder, "--variant", "lr=0.05_width=8", "--seed", "5",
                   "--split", "val", "--json")  # fmt: skip
    file = sweep_folder / "models" / "lr=0.05_width=8-seed5.safetensors"
    again = invoke("evaluate", file, "--split", "val", "--json")
    assert json.loads(named.stdout)["metrics"] == json.loads(again.stdout)["metrics"]
    predicted = invoke("predict", sweep_folder, "--split", "test", "--variant", "lr=0.05_width=8")
    assert predicted.exit_code == 0 and "model lr=0.05_width=8 seed 4" in predicted.stderr

    assert "its variants are: 'lr=0.3_width=4,4'" in one_line_error(
        invoke("evaluate", sweep_folder, "--variant", "lr=9")
    )
    assert "has seeds 4, 5" in one_line_error(invoke("evaluate", sweep_folder, "--seed", "7"))
    assert "applies to a sweep or comparison folder" in one_line_error(
        invoke("evaluate", file, "--seed", "0")
    )


def test_an_older_sweep_folders_file_names_are_read_through_models_csv(sweep_folder, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(sweep_folder, old)
    # Before names were made shell-safe, `[4,4]` was written `_4,4_`.
    for name in ("lr=0.3_width=4,4-seed4", "lr=0.3_width=4,4-seed5"):
        (old / "models" / f"{name}.safetensors").rename(
            old / "models" / f"{name.replace('4,4', '_4,4_')}.safetensors"
        )
    models = old / "models.csv"
    models.write_text(models.read_text().replace("width=4,4", "width=_4,4_"))
    named = invoke("evaluate", old, "--variant", "lr=0.3_width=_4,4_", "--seed", "5", "--json")
    same = invoke(
        "evaluate", sweep_folder, "--variant", "lr=0.3_width=4,4", "--seed", "5", "--json"
    )
    assert named.exit_code == 0, named.output
    assert json.loads(named.stdout)["metrics"] == json.loads(same.stdout)["metrics"]


def test_a_comparison_folder_takes_an_activation_as_its_variant(module_grid_config, tmp_path):
    out = tmp_path / "compare"
    run_compare(module_grid_config, [], activations=["relu", "tanh"], n_seeds=1, out=out)
    result = invoke("predict", out, "--split", "val", "--variant", "tanh")
    assert result.exit_code == 0, result.output
    assert "note: model tanh seed 4 (named by --variant)" in result.stderr
    alone = invoke("predict", out / "models/tanh-seed4.safetensors", "--split", "val")
    assert result.stdout == alone.stdout


def test_a_variant_that_diverged_on_any_seed_is_never_best():
    def variant(label, losses, diverged=False):
        return GridVariant(label, [0, 1], [f"{label}-seed0", f"{label}-seed1"], "val", losses,
                           diverged)  # fmt: skip

    variants = [variant("a", [0.5, 0.7]), variant("b", [0.1, None], True), variant("c", [0.4, 0.6])]
    chosen, why = best_variant(variants)
    assert chosen.label == "c" and "1 diverged variant(s) left out" in why
    with pytest.raises(UsageError, match="every variant of this folder diverged"):
        best_variant([variants[1]])


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("evaluate", ["--threshold", "--variant", "--seed"]),
        (
            "predict",
            ["--split", "--keep-features", "--skip-bad-rows", "--threshold", "--variant", "--seed"],
        ),
    ],
)
def test_every_new_option_is_in_help(command, options):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in options:
        assert f" {option} " in result.output, option
