"""`nncli export`: the ONNX file, run in ONNX Runtime on real rows, gives what `nncli predict`
writes for them, for every activation and both tasks; its sidecar alone turns a table with
categories and missing cells into its input; the errors are one line each."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from typer.testing import CliRunner

from nncli.cli import app
from nncli.model.activations import ACTIVATIONS

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
# Probabilities: absolute. Values: relative to the largest, as the float32 network's rounding
# is, once the target's scaling is undone (diabetes: 1e-7 of its outputs is 1e-5 in its units).
TOLERANCE = 1e-5


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args: object):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def served(model: Path, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(None, {"features": x})


def assert_served_as_predicted(model: Path, x: np.ndarray, predicted: list[dict]) -> None:
    """ONNX Runtime's outputs for the inputs `x` are predict's rows, labels and all."""
    sidecar = json.loads(Path(f"{model}.json").read_text())
    outputs = served(model, x)
    assert [o["name"] for o in sidecar["outputs"]] == (
        ["probabilities", "label"] if sidecar["classes"] else ["value"]
    )
    if sidecar["classes"]:
        probabilities, label = outputs
        expected = np.array([[float(row[f"probability_{c}"]) for c in sidecar["classes"]]
                             for row in predicted])  # fmt: skip
        assert probabilities.dtype == np.float64 and label.dtype == np.int64
        assert [str(sidecar["classes"][i]) for i in label] == [r["prediction"] for r in predicted]
        assert np.abs(probabilities - expected).max() <= TOLERANCE
        return
    (values,) = outputs
    expected = np.array([float(row["prediction"]) for row in predicted])
    assert np.abs(values - expected).max() <= TOLERANCE * np.abs(expected).max()


@contextmanager
def unrendered_figures() -> Iterator[None]:
    """conftest's `unrendered_plots` for a module's fixtures: figures made but not rendered to
    PNG, most of a small run's time."""
    from nncli.report import plots

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "save_figure", lambda fig, path: plots.pyplot().close(fig))
        yield


@pytest.fixture(scope="module")
def comparisons(tmp_path_factory) -> dict[str, Path]:
    """A model per activation for each task, trained by compare-activations: iris (its species
    as classes, from data/iris.csv) and diabetes (regression; its target standardized to train,
    so the export must undo that)."""
    base = tmp_path_factory.mktemp("export")
    sources = {
        "classification": {"source": str(ROOT / "data/iris.csv"), "target": "species"},
        "regression": {"source": "diabetes"},
    }
    folders = {}
    with unrendered_figures():
        for task, data in sources.items():
            config = base / f"{task}.yaml"
            config.write_text(yaml.safe_dump({"data": data, "model": {"depth": 2, "width": 8},
                                              "training": {"epochs": 3}}))  # fmt: skip
            folders[task] = base / task
            ok("compare-activations", config, "--seeds", "1", "--out", folders[task])
    return folders


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_the_onnx_file_computes_what_predict_writes(comparisons, tmp_path, task, activation):
    folder = comparisons[task]
    model = tmp_path / "model.onnx"
    ok("export", folder, "--variant", activation, "--out", model)
    predictions = tmp_path / "predictions.csv"
    ok("predict", folder, "--variant", activation, "--split", "test", "--keep-features",
       "--out", predictions)  # fmt: skip
    onnx.checker.check_model(str(model), full_check=True)  # well-formed, its shapes inferred
    rows = read_csv(predictions)
    sidecar = json.loads(Path(f"{model}.json").read_text())
    assert sidecar["activation"] == activation and sidecar["task"] == task
    x = np.array([[float(row[name]) for name in sidecar["input"]["features"]] for row in rows])
    assert_served_as_predicted(model, x, rows)


def test_a_grid_folders_chosen_model_is_exported_beside_its_checkpoint(comparisons):
    """Without --variant, the variant the comparison chose on validation, as predict takes it."""
    folder = comparisons["classification"]
    result = ok("export", folder, "--json")
    written = json.loads(result.stdout)
    note = re.search(r"note: model (\w+) seed 0", result.stderr)
    assert note, result.stderr
    chosen = note.group(1)
    assert written["model"] == str(folder / "models" / f"{chosen}-seed0.onnx")
    assert written["sidecar"] == written["model"] + ".json"
    assert written["outputs"] == ["probabilities", "label"] and written["format"] == "onnx"
    assert written["inputs"] == [f"{part}_{unit}_cm" for part in ("sepal", "petal")
                                 for unit in ("length", "width")]  # fmt: skip
    assert Path(written["model"]).is_file() and Path(written["sidecar"]).is_file()


@pytest.fixture(scope="module")
def claims_runs(tmp_path_factory) -> dict[str, Path]:
    """data/claims.csv (region and channel categories, blank channels, NA amounts, a True/False
    column) trained for each task with missing cells imputed: classification of `decision`
    with unseen categories as zeros; regression of `prior_claims`."""
    base = tmp_path_factory.mktemp("claims")
    settings = {
        "classification": {"target": "decision", "unknown_categories": "zeros"},
        "regression": {"target": "prior_claims", "task": "regression"},
    }
    runs = {}
    for task, data in settings.items():
        config = base / f"{task}.yaml"
        data = {"source": str(ROOT / "data/claims.csv"), **data, "ignore_columns": ["claim_id"],
                "missing": "impute", "impute": "median"}  # fmt: skip
        config.write_text(yaml.safe_dump({"data": data, "training": {"epochs": 3}}))
        runs[task] = base / task
        with unrendered_figures():
            ok("train", config, "--out", runs[task], "--quiet")
    return runs


def encode(sidecar: dict, row: dict) -> list[float]:
    """One table row as the export's input, from what the sidecar says and nothing else."""
    encoding = sidecar["encoding"]
    missing = {""} | {text.strip().lower() for text in encoding["missing_values"]}
    x = [0.0] * len(sidecar["input"]["features"])
    for column in sidecar["columns"]:
        cell = row[column["name"]].strip()
        if cell.lower() in missing:
            assert column["fill"] is not None
            cell = column["fill"]
        if column["kind"] == "numeric":
            (x[column["inputs"][0]],) = [float(cell)]
        elif cell in column["categories"]:
            x[column["inputs"][column["categories"].index(cell)]] = 1.0
        else:
            assert encoding["unknown_categories"] == "zeros"
    return x


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_sidecar_encodes_categories_and_missing_cells_as_predict_does(
    claims_runs, tmp_path, task
):
    run = claims_runs[task]
    lines = (ROOT / "data/claims.csv").read_text().splitlines()
    # Every row, blanks and NA among them, and spaces and letter cases nncli reads as in training;
    # for the classifier, a region the training split lacks (all zeros).
    extra = ["N001, east ,,na,2,True,approve", "N002,west,phone, 99.5 ,1,False,"]
    extra += ["N003,space,phone,10,0,True,approve"] if task == "classification" else []
    table = tmp_path / "rows.csv"
    table.write_text("\n".join([*lines, *extra]) + "\n")
    ok("export", run)  # into the run folder, beside model.safetensors
    model = run / "model.onnx"
    sidecar = json.loads((run / "model.onnx.json").read_text())
    kinds = {c["name"]: c["kind"] for c in sidecar["columns"]}
    numbers = {"amount", "prior_claims"} - {sidecar["target"]}
    categories = {"region", "channel", "repeat_customer", "decision"} - {sidecar["target"]}
    assert kinds == {name: "numeric" for name in numbers} | dict.fromkeys(categories, "categorical")
    assert sidecar["target"] == ("decision" if task == "classification" else "prior_claims")
    predictions = tmp_path / "predictions.csv"
    ok("predict", run, "--data", table, "--out", predictions)
    rows = read_csv(table)
    x = np.array([encode(sidecar, row) for row in rows])
    assert_served_as_predicted(model, x, read_csv(predictions))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, make_config) -> Path:
    """A finished run of the tiny moons config."""
    base = tmp_path_factory.mktemp("finished")
    config = base / "moons.yaml"
    config.write_text(yaml.safe_dump(make_config()))
    with unrendered_figures():
        ok("train", config, "--out", base / "run", "--quiet")
    return base / "run"


def refused(*args: object) -> str:
    """The one line `nncli ARGS` exits 2 with, nothing on stdout."""
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.output
    return result.stderr


def test_without_the_onnx_extra_export_says_how_to_install_it(finished, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # what `import onnx` meets where it is not
    line = refused("export", finished, "--out", tmp_path / "m.onnx")
    assert line.startswith("error: --format onnx: needs the onnx package"), line
    assert line.rstrip().endswith("install it with: pip install 'nncli[onnx]'"), line
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_format_is_one_line(finished, tmp_path):
    line = refused("export", finished, "--format", "torchscript", "--out", tmp_path / "m.pt")
    assert line.startswith("error: --format: 'torchscript' is not one of 'onnx'"), line
    assert list(tmp_path.iterdir()) == []


def test_existing_files_are_overwritten_only_with_force(finished, tmp_path):
    """A checkpoint file exports beside itself; the file or its sidecar already there is kept
    unless --force, which writes both anew; a folder or a device is refused."""
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes((finished / "model.safetensors").read_bytes())
    written = json.loads(ok("export", checkpoint, "--json").stdout)
    model, sidecar = tmp_path / "model.onnx", tmp_path / "model.onnx.json"
    assert written["model"] == str(model) and written["sidecar"] == str(sidecar)
    first = model.read_bytes()
    model.write_bytes(b"a file of the user's")
    line = refused("export", checkpoint)
    assert line == f"error: {model}: already exists; pass --force to overwrite it\n"
    assert model.read_bytes() == b"a file of the user's"
    model.unlink()
    sidecar.write_text("notes of the user's")
    assert refused("export", checkpoint).startswith(f"error: {sidecar}: already exists")
    assert sidecar.read_text() == "notes of the user's" and not model.exists()
    ok("export", checkpoint, "--force")
    assert model.read_bytes() == first and json.loads(sidecar.read_text())["task"]
    # Never a folder, nor a device with a sidecar beside it (/dev/null.json), even with --force
    line = refused("export", checkpoint, "--out", tmp_path, "--force")
    assert line == f"error: {tmp_path}: is a folder; give a file name\n"
    line = refused("export", checkpoint, "--out", "/dev/null", "--force")
    assert line == "error: /dev/null: not a regular file; export writes a file and its sidecar\n"
    assert served(model, np.zeros((1, 2)))[0].shape == (1, 2)


def test_a_run_that_did_not_finish_has_no_model_to_export(finished, tiny_moons, tmp_path,
                                                           stop_after):  # fmt: skip
    from nncli.app.commands import run_train
    from nncli.errors import Interrupted
    from nncli.grid.session import Session

    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        run_train(tiny_moons, [], out=cut, session=Session(should_stop=stop_after(10)))
    line = refused("export", cut, "--out", tmp_path / "m.onnx")
    assert line.startswith(
        f"error: {cut}: the run is 'interrupted', not finished, so it has no"
        f" final model to export; finish it first: nncli train --resume {cut}"
    )
    failed = tmp_path / "failed"
    failed.mkdir()
    for name in ("model.safetensors", "config.yaml", "run.json"):
        (failed / name).write_bytes((finished / name).read_bytes())
    record = json.loads((failed / "run.json").read_text())
    (failed / "run.json").write_text(json.dumps(record | {"status": "failed"}))
    assert "the run is 'failed', not finished" in refused("export", failed)
    empty = tmp_path / "empty"
    empty.mkdir()
    line = refused("export", empty)
    assert line == f"error: {empty}: no model.safetensors in this folder; is it a finished run?\n"
    line = refused("export", tmp_path / "nowhere")
    assert line == f"error: {tmp_path / 'nowhere'}: no such run folder or checkpoint\n"
    assert not (tmp_path / "m.onnx").exists() and list(failed.glob("*.onnx*")) == []


@pytest.mark.slow
def test_a_run_stopped_while_writing_its_files_is_not_exported(make_config, tmp_path):
    """Its model.safetensors is written, but a resume trains on from its saved state, so that
    file may not be the model the run ends with."""
    import subprocess

    config = tmp_path / "moons.yaml"
    config.write_text(yaml.safe_dump(make_config()))
    cut = tmp_path / "cut"
    stop_at = [sys.executable, str(Path(__file__).with_name("stop_at.py")), "file:split.json",
               "TERM", "--", "train", str(config), "--out", str(cut)]  # fmt: skip
    stopped = subprocess.run(stop_at, capture_output=True, text=True, timeout=180)
    assert stopped.returncode == 143, stopped.stderr
    assert (cut / "model.safetensors").is_file()
    assert "the run is 'interrupted', not finished" in refused("export", cut)
    assert list(cut.glob("*.onnx*")) == []


def test_the_readmes_five_lines_serve_the_file_as_predict_predicts(comparisons, tmp_path,
                                                                   monkeypatch):  # fmt: skip
    """The README's ONNX Runtime snippet, run as written on an iris model exported to
    iris.onnx, gives predict's label and probabilities for its row."""
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(import json, numpy as np, onnxruntime.*?)```", readme, re.S)
    assert code, "the README shows no ONNX Runtime snippet"
    assert len([line for line in code.group(1).splitlines() if line]) == 5
    monkeypatch.chdir(tmp_path)
    folder = comparisons["classification"]
    ok("export", folder, "--variant", "tanh", "--out", "iris.onnx")
    table = tmp_path / "row.csv"
    table.write_text("sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm\n"
                     "5.1,3.5,1.4,0.2\n")  # fmt: skip
    ok("predict", folder, "--variant", "tanh", "--data", table, "--out", "predicted.csv")
    namespace: dict = {}
    exec(code.group(1), namespace)
    assert_served_as_predicted(tmp_path / "iris.onnx", namespace["x"], read_csv("predicted.csv"))
    assert namespace["label"].tolist() == [0]  # setosa, the first class


def test_the_formats_export_offers_are_the_ones_it_writes():
    from nncli.app.exporting import FORMATS
    from nncli.cli.exporting import Format

    assert [f.value for f in Format] == list(FORMATS)
